	// Wrong: subtracts the buffer's size, not the bytes read, so short reads use up the quota early
	if c.left <= 0 {
		return 0, errQuota
	}
	if int64(len(b)) > c.left {
		b = b[:c.left]
	}
	n, err := c.Conn.Read(b)
	c.left -= int64(len(b))
	return n, err
