	// Wrong: moves the deadline after the read, so the first read has none and waits forever
	n, err := c.TCPConn.Read(b)
	_ = c.SetReadDeadline(time.Now().Add(c.idle))
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		err = fmt.Errorf("the server sent nothing for %s (-idle-timeout)", c.idle)
	}
	return n, err
