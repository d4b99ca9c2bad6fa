	// Wrong: ends the stream with io.EOF, as if the client had closed: no goodbye, and the reason is eof
	if c.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > c.left {
		b = b[:c.left]
	}
	n, err := c.Conn.Read(b)
	c.left -= int64(n)
	return n, err
