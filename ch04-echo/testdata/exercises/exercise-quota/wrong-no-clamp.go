	// Wrong: counts the bytes but reads a whole buffer, so the last read goes past the quota
	if c.left <= 0 {
		return 0, errQuota
	}
	n, err := c.Conn.Read(b)
	c.left -= int64(n)
	return n, err
