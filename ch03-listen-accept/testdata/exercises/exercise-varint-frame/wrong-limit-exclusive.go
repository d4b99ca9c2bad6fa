	// Wrong: refuses a frame of exactly maxSize bytes (>= where > is meant)
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	if n >= maxSize {
		return nil, fmt.Errorf("%w: header says %d bytes, limit is %d", ErrFrameTooLarge, n, maxSize)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf, nil
