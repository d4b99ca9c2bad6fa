package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// ANCHOR: payload
// A message carries a sequence number in its first bytes and a pattern that
// depends on the connection in the rest. A server that echoes a stale message,
// another connection's bytes, or flips a single bit fails the comparison:
// every echoed byte is checked, because a load generator that counts wrong
// answers as successes is worse than none.
type payload struct {
	conn uint64
	msg  []byte // what we send
	got  []byte // what came back
}

func newPayload(conn, size int) *payload {
	p := &payload{conn: uint64(conn), msg: make([]byte, size), got: make([]byte, size)}
	for i := range p.msg {
		p.msg[i] = byte(i*7 + conn*13 + 1)
	}
	return p
}

// stamp writes seq into the message (as much of it as fits).
func (p *payload) stamp(seq uint64) {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], seq^p.conn<<40)
	copy(p.msg, b[:])
}

// check compares the echo with the message, byte for byte.
func (p *payload) check() error {
	if bytes.Equal(p.msg, p.got) {
		return nil
	}
	i := 0
	for i < len(p.msg) && p.msg[i] == p.got[i] {
		i++
	}
	return &mismatchError{offset: i, want: p.msg[i], got: p.got[i]}
}

// ANCHOR_END: payload

// mismatchError is an echo that differs from what was sent.
type mismatchError struct {
	offset    int
	want, got byte
}

func (e *mismatchError) Error() string {
	return fmt.Sprintf("echo differs at byte %d: sent %#02x, got %#02x", e.offset, e.want, e.got)
}

// streamPattern is the byte stream of stream mode: byte k of connection c is
// pattern[(k+c) % streamPeriod], pseudo-random bytes with a prime period. A
// dropped, duplicated or reordered chunk shifts everything after it, which
// the check catches unless the shift is a multiple of the period — and no
// chunk size is a multiple of a prime near 64 Ki.
const streamPeriod = 65521

func streamPattern(maxChunk int) []byte {
	b := make([]byte, streamPeriod+maxChunk)
	x := uint32(2463534242) // xorshift32: cheap, deterministic, no short cycles
	for i := range streamPeriod {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x >> 24)
	}
	for i := streamPeriod; i < len(b); i++ { // so that any window [o, o+n) with o < period is contiguous
		b[i] = b[i-streamPeriod]
	}
	return b
}
