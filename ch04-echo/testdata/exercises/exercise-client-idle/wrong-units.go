	// Wrong: a duration is already in nanoseconds: multiplying by time.Second makes the deadline years away
	_ = c.SetReadDeadline(time.Now().Add(c.idle * time.Second))
	n, err := c.TCPConn.Read(b)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		err = fmt.Errorf("the server sent nothing for %s (-idle-timeout)", c.idle)
	}
	return n, err
