	// Wrong: smooths the first sample too, so SRTT starts at R/8 instead of R
	e.rttvar = (3*e.rttvar + (e.srtt - r).Abs()) / 4
	e.srtt = (7*e.srtt + r) / 8
	e.samples++
