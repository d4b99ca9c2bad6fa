	// Wrong: says bye and returns: the close that follows, with the client's bytes unread, is a reset
	if !strings.EqualFold(line, "QUIT") {
		return false
	}
	_, _ = io.WriteString(conn, "bye\n")
	return true
