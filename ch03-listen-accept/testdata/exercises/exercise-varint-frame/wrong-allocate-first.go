	// Wrong: allocates the payload's buffer before it checks the length against the limit
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, n)
	if n > maxSize {
		return nil, fmt.Errorf("%w: header says %d bytes, limit is %d", ErrFrameTooLarge, n, maxSize)
	}
	if _, err := io.ReadFull(r, buf); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf, nil
