	// Wrong: updates SRTT first, so RTTVAR measures the distance to the new SRTT, not the old one
	if e.samples == 0 {
		e.srtt, e.rttvar = r, r/2
	} else {
		e.srtt = (7*e.srtt + r) / 8
		e.rttvar = (3*e.rttvar + (e.srtt - r).Abs()) / 4
	}
	e.samples++
