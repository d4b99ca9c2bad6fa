	// Wrong: takes SRTT - R without its absolute value, so a sample above SRTT shrinks RTTVAR
	if e.samples == 0 {
		e.srtt, e.rttvar = r, r/2
	} else {
		e.rttvar = (3*e.rttvar + (e.srtt - r)) / 4
		e.srtt = (7*e.srtt + r) / 8
	}
	e.samples++
