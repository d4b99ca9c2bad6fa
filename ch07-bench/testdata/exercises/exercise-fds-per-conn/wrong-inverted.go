	// Wrong: connections per descriptor, the inverse of what the line reports
	s.FDsPerConn = float64(held) / float64(s.FDsPeak)
