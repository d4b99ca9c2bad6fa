package faultproxy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sink accepts one connection and sends everything it reads, and the error
// that ended the reading, on the returned channel.
type sink struct {
	data []byte
	err  error
}

func startSink(t *testing.T) (string, <-chan sink) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	got := make(chan sink, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- sink{err: err}
			return
		}
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		data, err := io.ReadAll(c)
		got <- sink{data, err}
	}()
	return ln.Addr().String(), got
}

func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return b
}

func dial(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	return c.(*net.TCPConn)
}

func wait(t *testing.T, got <-chan sink) sink {
	t.Helper()
	select {
	case s := <-got:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("the target never finished reading")
		return sink{}
	}
}

// TestPassThrough: without faults every byte arrives and a half-close is
// passed on (the target reads EOF).
func TestPassThrough(t *testing.T) {
	addr, got := startSink(t)
	p := Start(t, addr, Options{})
	c := dial(t, p.Addr())
	_, err := c.Write(payload(200 << 10))
	require.NoError(t, err)
	require.NoError(t, c.CloseWrite())
	s := wait(t, got)
	require.NoError(t, s.err)
	assert.Equal(t, payload(200<<10), s.data)
}

// TestCutAt: the target sees exactly the first n bytes, then EOF, wherever
// n falls in the proxy's reads; the client's connection is closed too.
func TestCutAt(t *testing.T) {
	for _, n := range []int64{0, 1, 1000, 100 << 10} {
		addr, got := startSink(t)
		p := Start(t, addr, Options{Up: CutAt(n)})
		c := dial(t, p.Addr())
		_, _ = c.Write(payload(200 << 10)) // may fail once the cut is made
		s := wait(t, got)
		require.NoError(t, s.err, "cut at %d", n)
		assert.Equal(t, payload(200 << 10)[:n], s.data, "cut at %d", n)
		_, err := c.Read(make([]byte, 1))
		assert.Error(t, err, "the client's side is closed as well")
	}
}

// TestResetAt: the target sees the first n bytes, then a reset.
func TestResetAt(t *testing.T) {
	addr, got := startSink(t)
	p := Start(t, addr, Options{Up: ResetAt(1000)})
	c := dial(t, p.Addr())
	_, _ = c.Write(payload(4000))
	s := wait(t, got)
	assert.True(t, errors.Is(s.err, syscall.ECONNRESET), "want a reset, got %v", s.err)
	assert.LessOrEqual(t, len(s.data), 1000)
}

// TestFlipAt: exactly one byte differs, the one asked for.
func TestFlipAt(t *testing.T) {
	addr, got := startSink(t)
	p := Start(t, addr, Options{Up: FlipAt(70000)})
	c := dial(t, p.Addr())
	want := payload(100 << 10)
	_, err := c.Write(want)
	require.NoError(t, err)
	require.NoError(t, c.CloseWrite())
	s := wait(t, got)
	require.NoError(t, s.err)
	require.Len(t, s.data, len(want))
	for i := range want {
		if s.data[i] != want[i] {
			assert.Equal(t, 70000, i, "the flipped byte")
			assert.Equal(t, want[i]^0x20, s.data[i])
		}
	}
	assert.False(t, bytes.Equal(want, s.data), "one byte was flipped")
}

// TestStallAt: after n bytes nothing more flows, yet nothing is closed,
// until the proxy closes.
func TestStallAt(t *testing.T) {
	addr, got := startSink(t)
	p := Start(t, addr, Options{Up: StallAt(1000)})
	c := dial(t, p.Addr())
	_, err := c.Write(payload(4000))
	require.NoError(t, err)
	require.NoError(t, c.CloseWrite()) // not passed on: the proxy stopped reading
	require.NoError(t, c.SetReadDeadline(time.Now().Add(200*time.Millisecond)))
	_, err = c.Read(make([]byte, 1))
	var ne net.Error
	require.True(t, errors.As(err, &ne) && ne.Timeout(), "the client's side stays open: %v", err)
	select {
	case s := <-got:
		t.Fatalf("the target's side ended during the stall: %v", s.err)
	default:
	}
	p.Close()
	s := wait(t, got)
	assert.Equal(t, payload(1000), s.data[:min(1000, len(s.data))])
	assert.LessOrEqual(t, len(s.data), 1000)
}

// TestDownAndResetAll: faults apply to the target's direction too, and
// ResetAll aborts the connections the proxy holds.
func TestDownAndResetAll(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	served := make(chan struct{})
	go func() { // the target greets, then waits for the client to go
		defer close(served)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = c.Write([]byte("hello"))
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, _ = io.Copy(io.Discard, c)
	}()
	p := Start(t, ln.Addr().String(), Options{Down: FlipAt(0)})
	c := dial(t, p.Addr())
	buf := make([]byte, 5)
	_, err = io.ReadFull(c, buf)
	require.NoError(t, err)
	assert.Equal(t, "Hello", string(buf))
	p.ResetAll()
	_, err = c.Read(buf)
	assert.True(t, errors.Is(err, syscall.ECONNRESET), "want a reset, got %v", err)
	<-served
}
