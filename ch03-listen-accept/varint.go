package main

// A second framing scheme: the length as a varint (an exercise).
//
// readFrame's header is 4 bytes on every frame, even a 3-byte one, and it
// caps a frame at 4 GiB. A varint spends 7 bits of each byte on the number
// and the eighth to say "another byte follows", low bits first: 1 byte for a
// length below 128, 2 below 16,384, at most 10 for any uint64. It is the
// encoding of Protocol Buffers, and encoding/binary reads and writes it
// (AppendUvarint, ReadUvarint). The rules of readFrame still hold: a
// length above the maximum is refused before anything is allocated, and a
// frame cut short is an error, not a message.

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ANCHOR: varint-frame
// writeVarintFrame sends payload preceded by its length as a varint, in one
// write.
func writeVarintFrame(w io.Writer, payload []byte) error {
	frame := binary.AppendUvarint(nil, uint64(len(payload)))
	_, err := w.Write(append(frame, payload...))
	return err
}

// readVarintFrame reads one frame written by writeVarintFrame, of at most
// maxSize bytes. It returns io.EOF at a clean end between frames,
// io.ErrUnexpectedEOF for a frame cut short (inside its length or its
// payload), ErrFrameTooLarge for a length above maxSize (refused before
// anything is allocated), and binary.ReadUvarint's error for a length of
// more than 10 bytes. The varint is read a byte at a time: r is buffered.
func readVarintFrame(r *bufio.Reader, maxSize uint64) ([]byte, error) {
	// ANCHOR: exercise-varint-frame
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err // EOF before the first byte; ErrUnexpectedEOF after it
	}
	if n > maxSize {
		return nil, fmt.Errorf("%w: header says %d bytes, limit is %d",
			ErrFrameTooLarge, n, maxSize)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf, nil
	// ANCHOR_END: exercise-varint-frame
}

// ANCHOR_END: varint-frame
