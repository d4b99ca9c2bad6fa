	// Wrong: stops only below zero, which the clamp never reaches: at zero it reads nothing, forever
	if c.left < 0 {
		return 0, errQuota
	}
	if int64(len(b)) > c.left {
		b = b[:c.left]
	}
	n, err := c.Conn.Read(b)
	c.left -= int64(n)
	return n, err
