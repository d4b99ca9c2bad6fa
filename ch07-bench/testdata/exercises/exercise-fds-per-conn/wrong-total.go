	// Wrong: the server's whole descriptor count, not divided by the connections held
	s.FDsPerConn = float64(s.FDsPeak)
