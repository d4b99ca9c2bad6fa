	// Wrong: one Read for the payload, which may return less than the whole frame
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	if n > maxSize {
		return nil, fmt.Errorf("%w: header says %d bytes, limit is %d", ErrFrameTooLarge, n, maxSize)
	}
	buf := make([]byte, n)
	m, err := r.Read(buf)
	if err != nil && !(errors.Is(err, io.EOF) && n == 0) {
		return nil, err
	}
	return buf[:m], nil
