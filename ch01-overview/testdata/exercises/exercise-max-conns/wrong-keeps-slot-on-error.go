	// Wrong: a failed Accept keeps its slot: after n errors no slot is left and nobody is served
	select {
	case l.slots <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	conn, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &limitConn{Conn: conn, release: func() { <-l.slots }}, nil
