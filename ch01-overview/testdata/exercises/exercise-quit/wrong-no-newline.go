	// Wrong: "bye" without its newline is not a line
	if !strings.EqualFold(line, "QUIT") {
		return false
	}
	_, _ = io.WriteString(conn, "bye")
	lingeringClose(conn)
	return true
