	// Wrong: waits for a slot without watching done, so Shutdown cannot end Serve while every slot is taken
	l.slots <- struct{}{}
	conn, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitConn{Conn: conn, release: func() { <-l.slots }}, nil
