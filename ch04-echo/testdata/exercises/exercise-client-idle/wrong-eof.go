	// Wrong: takes a timeout for the end of the stream: returns EOF, and the client blames the server for closing
	_ = c.SetReadDeadline(time.Now().Add(c.idle))
	n, err := c.TCPConn.Read(b)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		err = io.EOF
	}
	return n, err
