package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// hostileReceiver accepts one connection, reads the header, and hands the
// connection to act: a hostile receiver, for the sender's tests.
func hostileReceiver(t *testing.T, act func(c net.Conn, h Header)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second)) // the fake never outlives the test
		h, err := ReadHeader(c)
		if err != nil {
			return
		}
		act(c, h)
	}()
	t.Cleanup(func() {
		ln.Close()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("fake receiver did not stop")
		}
	})
	return ln.Addr().String()
}

func replyBytes(r Reply) []byte { b, _ := r.MarshalBinary(); return b }

// TestSenderSurvivesHostileReceiver: against a receiver that never replies,
// replies garbage, an over-long message, an offset past the end, a wrong
// OK, dribbles its reply, or stops reading mid-transfer, the sender fails
// that file with a clear error within its Timeout (plus slack), and never
// hangs or reads without bound.
func TestSenderSurvivesHostileReceiver(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	const size = 8 << 20 // larger than the socket buffers: a stalled receiver blocks writes
	cases := []struct {
		name string
		act  func(c net.Conn, h Header)
		want string
	}{
		{"never replies", func(c net.Conn, h Header) { _, _ = io.Copy(io.Discard, c) }, "timeout"},
		{"garbage", func(c net.Conn, h Header) {
			_, _ = c.Write(append([]byte{0xee}, make([]byte, ReplyFixedLen-1)...)) // no such status
			_, _ = io.Copy(io.Discard, c)
		}, ""},
		{"over-long message", func(c net.Conn, h Header) {
			b := make([]byte, ReplyFixedLen)
			b[0] = byte(StatusReady)
			binary.BigEndian.PutUint16(b[9:], MaxMessageLen+1)
			_, _ = c.Write(b)
			_, _ = io.Copy(io.Discard, c)
		}, "reply message length"},
		{"offset past the end", func(c net.Conn, h Header) {
			_, _ = c.Write(replyBytes(Reply{Status: StatusReady, Value: h.Size + 1}))
			_, _ = io.Copy(io.Discard, c)
		}, "past the end"},
		{"wrong OK", func(c net.Conn, h Header) {
			_, _ = c.Write(replyBytes(Reply{Status: StatusReady}))
			buf := make([]byte, MaxChunkSize)
			for {
				_, end, _, err := ReadChunk(c, buf, h.ChunkSize)
				if err != nil {
					return
				}
				if end {
					break
				}
			}
			_, _ = c.Write(replyBytes(Reply{Status: StatusOK, Value: h.Size - 1}))
			_, _ = io.Copy(io.Discard, c)
		}, "receiver committed"},
		{"dribbles its reply", func(c net.Conn, h Header) {
			for _, b := range replyBytes(Reply{Status: StatusReady}) {
				if _, err := c.Write([]byte{b}); err != nil {
					return
				}
				<-time.After(100 * time.Millisecond)
			}
		}, "timeout"},
		{"stalls mid-transfer", func(c net.Conn, h Header) {
			_, _ = c.Write(replyBytes(Reply{Status: StatusReady}))
			<-time.After(5 * time.Second) // reads nothing more
		}, "timeout"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr := hostileReceiver(t, tc.act)
			src, _ := randomFile(t, t.TempDir(), "a.bin", size, 1)
			var out bytes.Buffer
			s := sender(addr, &out)
			s.Timeout, s.Retries = 300*time.Millisecond, 0
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			start := time.Now()
			res, err := s.Send(ctx, []string{src})
			require.Error(t, err)
			require.Len(t, res, 1)
			assert.ErrorContains(t, res[0].Err, tc.want)
			assert.NoError(t, ctx.Err(), "the sender's own deadline must end the wait")
			assert.Less(t, time.Since(start), 4*time.Second)
			assert.Contains(t, out.String(), "failed name=a.bin ")
		})
	}
}

// TestDialFailureHasLocalStatus: a sender that cannot connect says
// NO_CONNECTION, not IO_ERROR (the receiver's write failure).
func TestDialFailureHasLocalStatus(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	src, _ := randomFile(t, t.TempDir(), "a.bin", 10, 1)
	var out bytes.Buffer
	s := sender(addr, &out)
	s.Retries = 0
	_, err = s.Send(context.Background(), []string{src})
	require.Error(t, err)
	assert.Contains(t, out.String(), "status=NO_CONNECTION ")
}

// TestSummaryQuotesNames: a local name with a control character reaches
// the terminal quoted, as log/slog would write it.
func TestSummaryQuotesNames(t *testing.T) {
	var out bytes.Buffer
	(&Sender{Out: &out}).summary(Result{Name: "a\x1b[2Jb.txt", Err: io.EOF})
	assert.Contains(t, out.String(), `name="a\x1b[2Jb.txt" `)
	assert.Equal(t, "plain.txt", logValue("plain.txt"))
}
