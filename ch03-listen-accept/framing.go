package main

// Framing: TCP is a byte stream, not a message stream.
//
// Three writes of 5 bytes may arrive as one read of 15, or as fifteen reads
// of 1: TCP keeps the order of the bytes and nothing else. Chinese texts
// name the two faces of this 粘包 and 拆包 ("sticky packets": several
// messages in one read; "split packets": one message over several reads).
// Neither is a fault of TCP. A protocol must say where a message ends, and
// bound everything the peer controls. The two usual answers:
//
//   - a delimiter (a newline): read with bufio.Scanner, and cap the token
//     size, or a peer that never sends "\n" makes you buffer forever;
//   - a length prefix: read the fixed-size header with io.ReadFull, refuse a
//     length above your maximum *before* allocating it, then io.ReadFull the
//     body. A hostile header claiming 4 GiB must cost nothing.
//
// io.ReadFull is the cure for short reads: Read returns what has arrived,
// which may be less than you asked for, without any error.

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/tcp-in-go/course/internal/cli"
)

// ANCHOR: scan-lines
// scanLines returns the newline-terminated messages in r. A line longer than
// maxLen is an error (bufio.ErrTooLong), not a reason to grow the buffer.
func scanLines(r io.Reader, maxLen int) ([]string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, min(maxLen, 4096)), maxLen)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines, sc.Err() // nil at a clean EOF
}

// ANCHOR_END: scan-lines

// ErrFrameTooLarge is returned for a length prefix above the maximum.
var ErrFrameTooLarge = errors.New("frame too large")

// ANCHOR: write-frame
// writeFrame sends payload preceded by its length as 4 bytes, big endian.
func writeFrame(w io.Writer, payload []byte) error {
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(payload)))
	// One write for header and body: two would be two system calls, and
	// with Nagle on, the write-write-read pattern of nodelay.go.
	_, err := w.Write(append(hdr[:], payload...))
	return err
}

// ANCHOR_END: write-frame

// ANCHOR: read-frame
// readFrame reads one frame of at most maxSize bytes. The length is checked
// before anything is allocated; io.ReadFull turns short reads into whole
// frames and a connection closed mid-frame into io.ErrUnexpectedEOF.
func readFrame(r io.Reader, maxSize uint32) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err // io.EOF here is a clean end between frames
	}
	n := binary.BigEndian.Uint32(hdr[:])
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
}

// ANCHOR_END: read-frame

// sendRecv writes data from a goroutine on one end of a loopback connection,
// closes it, and lets read consume the other end.
func sendRecv(send func(net.Conn) error, read func(net.Conn) error) error {
	return withPair(func(client, server net.Conn) error {
		deadline := time.Now().Add(10 * time.Second)
		_ = client.SetDeadline(deadline)
		_ = server.SetDeadline(deadline)
		errc := make(chan error, 1)
		go func() {
			err := send(client)
			client.Close()
			errc <- err
		}()
		rerr := read(server)
		return errors.Join(rerr, <-errc)
	})
}

func framingLesson(w io.Writer) error {
	// 1. Three writes, read with plain Read calls: the boundaries are gone.
	err := sendRecv(func(c net.Conn) error {
		for _, m := range []string{"one\n", "two\n", "three\n"} {
			if _, err := c.Write([]byte(m)); err != nil {
				return err
			}
		}
		return nil
	}, func(c net.Conn) error {
		all, err := io.ReadAll(c)
		fmt.Fprintf(w, "three writes, read as a stream: %q\n", all)
		return err
	})
	if err != nil {
		return err
	}
	// 2. The same bytes framed by newlines, even when they trickle in one
	// byte at a time.
	err = sendRecv(func(c net.Conn) error {
		for _, b := range []byte("one\ntwo\nthree\n") {
			if _, err := c.Write([]byte{b}); err != nil {
				return err
			}
		}
		return nil
	}, func(c net.Conn) error {
		lines, err := scanLines(c, 64)
		fmt.Fprintf(w, "sent one byte per write, scanned as lines: %q\n", lines)
		return err
	})
	if err != nil {
		return err
	}
	// 3. A line longer than the limit.
	err = sendRecv(func(c net.Conn) error {
		_, err := io.WriteString(c, strings.Repeat("x", 100)+"\n")
		return err
	}, func(c net.Conn) error {
		_, err := scanLines(c, 64)
		fmt.Fprintf(w, "a 100-byte line with a 64-byte limit: %v\n", err)
		_, _ = io.Copy(io.Discard, c) // let the writer finish
		return nil
	})
	if err != nil {
		return err
	}
	// 4. Length-prefixed frames, and a hostile header.
	err = sendRecv(func(c net.Conn) error {
		for _, m := range []string{"hello", "", "world"} {
			if err := writeFrame(c, []byte(m)); err != nil {
				return err
			}
		}
		_, err := c.Write([]byte{0xff, 0xff, 0xff, 0xf0}) // "4 GiB follow"
		return err
	}, func(c net.Conn) error {
		for {
			f, err := readFrame(c, 1<<20)
			if err != nil {
				fmt.Fprintf(w, "frame: error: %v\n", err)
				return nil
			}
			fmt.Fprintf(w, "frame: %q\n", f)
		}
	})
	return err
}

func runFraming(_ context.Context, args []string) error {
	fs := cli.NewFlagSet(name+" framing", os.Stderr)
	if err := cli.Parse(fs, args, false); err != nil {
		return err
	}
	return framingLesson(os.Stdout)
}
