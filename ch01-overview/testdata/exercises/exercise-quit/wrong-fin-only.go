	// Wrong: sends FIN but does not read what the client still sends, so the close still resets it
	if !strings.EqualFold(line, "QUIT") {
		return false
	}
	_, _ = io.WriteString(conn, "bye\n")
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	return true
