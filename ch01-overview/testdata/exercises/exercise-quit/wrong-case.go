	// Wrong: only QUIT in capitals ends the session; quit and Quit are printed
	if strings.TrimSuffix(line, "\r") != "QUIT" {
		return false
	}
	_, _ = io.WriteString(conn, "bye\n")
	lingeringClose(conn)
	return true
