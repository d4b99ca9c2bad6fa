	// Wrong: swaps the gains: SRTT moves by 1/4 of the difference and RTTVAR by 1/8
	if e.samples == 0 {
		e.srtt, e.rttvar = r, r/2
	} else {
		e.rttvar = (7*e.rttvar + (e.srtt - r).Abs()) / 8
		e.srtt = (3*e.srtt + r) / 4
	}
	e.samples++
