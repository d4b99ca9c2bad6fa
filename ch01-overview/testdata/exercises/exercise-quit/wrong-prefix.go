	// Wrong: a line that only starts with QUIT (QUITE, QUIT now) ends the session too
	if !strings.HasPrefix(strings.ToUpper(line), "QUIT") {
		return false
	}
	_, _ = io.WriteString(conn, "bye\n")
	lingeringClose(conn)
	return true
