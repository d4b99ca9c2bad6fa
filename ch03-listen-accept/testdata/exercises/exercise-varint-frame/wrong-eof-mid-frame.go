	// Wrong: a payload cut short comes back as io.EOF, which a caller takes for a clean end
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	if n > maxSize {
		return nil, fmt.Errorf("%w: header says %d bytes, limit is %d", ErrFrameTooLarge, n, maxSize)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = io.EOF
		}
		return nil, err
	}
	return buf, nil
