	// Wrong: counts the connections but never waits: the one over the limit is served anyway
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	select {
	case l.slots <- struct{}{}:
	default: // full: serve it without a slot
		return c, nil
	}
	return &limitConn{Conn: c, release: sync.OnceFunc(func() { <-l.slots })}, nil
