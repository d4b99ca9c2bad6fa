	// Wrong: reads a signed (zig-zag) varint, which is not what writeVarintFrame writes
	v, err := binary.ReadVarint(r)
	if err != nil {
		return nil, err
	}
	n := uint64(v)
	if n > maxSize {
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
