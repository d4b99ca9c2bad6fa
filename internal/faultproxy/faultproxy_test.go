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

// send writes sent to a sink through a proxy with the fault up, half-closes,
// and returns what the sink read.
func send(t *testing.T, up Fault, sent []byte) sink {
	t.Helper()
	addr, got := startSink(t)
	p := Start(t, addr, Options{Up: up})
	c := dial(t, p.Addr())
	_, err := c.Write(sent)
	require.NoError(t, err)
	require.NoError(t, c.CloseWrite())
	s := wait(t, got)
	require.NoError(t, s.err)
	return s
}

// TestPassThrough: without faults every byte arrives and a half-close is
// passed on (the target reads EOF).
func TestPassThrough(t *testing.T) {
	s := send(t, nil, payload(200<<10))
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
	want := payload(100 << 10)
	s := send(t, FlipAt(70000), want)
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

// TestFlipEvery: exactly the n-th, 2n-th, ... bytes differ, by bit 5,
// wherever they fall in the proxy's reads.
func TestFlipEvery(t *testing.T) {
	want := payload(100 << 10)
	s := send(t, FlipEvery(1000), want)
	require.Len(t, s.data, len(want))
	flipped := 0
	for i := range want {
		if (i+1)%1000 == 0 {
			flipped++
			assert.Equal(t, want[i]^0x20, s.data[i], "byte %d is flipped", i)
		} else if s.data[i] != want[i] {
			t.Fatalf("byte %d changed, yet it is not a 1000th byte", i)
		}
	}
	assert.Equal(t, len(want)/1000, flipped)
}

// TestDropEvery: the target reads the stream without its n-th, 2n-th, ...
// bytes, and nothing else is lost.
func TestDropEvery(t *testing.T) {
	sent := payload(100 << 10)
	s := send(t, DropEvery(100), sent)
	var want []byte
	for i, b := range sent {
		if (i+1)%100 != 0 {
			want = append(want, b)
		}
	}
	assert.Equal(t, want, s.data)
}

// TestDropRange: exactly the bytes in [from, to) are missing, wherever the
// range falls in the proxy's reads.
func TestDropRange(t *testing.T) {
	for _, r := range [][2]int64{{0, 1}, {1000, 2024}, {40000, 90000}, {100<<10 - 1, 200 << 10}, {5, 5}} {
		sent := payload(100 << 10)
		s := send(t, DropRange(r[0], r[1]), sent)
		want := append(append([]byte(nil), sent[:r[0]]...), sent[min(r[1], int64(len(sent))):]...)
		assert.Equal(t, want, s.data, "drop [%d, %d)", r[0], r[1])
	}
}

// TestPauseAt: the first n bytes arrive at once, the rest only after the
// pause, every byte in order, on a connection that stayed open throughout.
func TestPauseAt(t *testing.T) {
	const pause = 300 * time.Millisecond
	target, accept := startTarget(t)
	p := Start(t, target, Options{Up: PauseAt(1000, pause)})
	c := dial(t, p.Addr())
	s := accept()
	sent := payload(4000)
	start := time.Now()
	_, err := c.Write(sent)
	require.NoError(t, err)

	got := make([]byte, len(sent))
	_, err = io.ReadFull(s, got[:1000])
	require.NoError(t, err)
	first := time.Since(start)
	_, err = io.ReadFull(s, got[1000:])
	require.NoError(t, err)
	all := time.Since(start)
	assert.Equal(t, sent, got)
	assert.GreaterOrEqual(t, all, pause, "the rest came only after the pause")
	assert.Less(t, first, pause/2, "the first 1000 bytes came before it")

	_, err = c.Write(sent) // the stream goes on, with no second pause
	require.NoError(t, err)
	_, err = io.ReadFull(s, got)
	require.NoError(t, err)
	assert.Equal(t, sent, got)
}

// TestCloseEndsPause: a pause does not hold up Close.
func TestCloseEndsPause(t *testing.T) {
	target, accept := startTarget(t)
	p := Start(t, target, Options{Up: PauseAt(1, time.Hour)})
	c := dial(t, p.Addr())
	s := accept()
	_, err := c.Write([]byte("ab"))
	require.NoError(t, err)
	b := make([]byte, 1)
	_, err = io.ReadFull(s, b)
	require.NoError(t, err) // "a" came; "b" waits for the hour
	closed := make(chan struct{})
	go func() { p.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close waited for the pause")
	}
	_, err = s.Read(b)
	assert.True(t, errors.Is(err, syscall.ECONNRESET), "Close resets the target's side: %v", err)
}

// TestBlackhole: while the blackhole is on, bytes vanish both ways and a
// FIN is swallowed (each side waits in silence, nothing is closed); once it
// is off, bytes flow again on the same connection.
func TestBlackhole(t *testing.T) {
	target, accept := startTarget(t)
	p := Start(t, target, Options{})
	c := dial(t, p.Addr())
	s := accept()
	assert.Equal(t, int64(1), p.Accepted())
	roundTrip(t, c, s, "before")

	p.Blackhole(true)
	_, err := c.Write([]byte("lost"))
	require.NoError(t, err)
	_, err = s.Write([]byte("gone"))
	require.NoError(t, err)
	require.NoError(t, c.CloseWrite()) // swallowed: the target never reads EOF
	requireSilent(t, s, "the target")
	requireSilent(t, c, "the client")

	p.Blackhole(false)
	_, err = s.Write([]byte("back"))
	require.NoError(t, err)
	got := make([]byte, 4)
	_, err = io.ReadFull(c, got)
	require.NoError(t, err)
	assert.Equal(t, "back", string(got), "the connection survived the blackhole")
	requireSilent(t, s, "the target, even now (the FIN is lost)")

	_, err = net.DialTimeout("tcp", p.Addr(), 5*time.Second)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return p.Accepted() == 2 }, 10*time.Second, 5*time.Millisecond)
}

// startTarget listens for the proxy's connections; accept returns the next
// one, with a 10 s deadline, closed when the test ends.
func startTarget(t *testing.T) (addr string, accept func() net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String(), func() net.Conn {
		t.Helper()
		require.NoError(t, ln.(*net.TCPListener).SetDeadline(time.Now().Add(10*time.Second)))
		c, err := ln.Accept()
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
		return c
	}
}

// roundTrip sends msg from a to b and back, through the proxy.
func roundTrip(t *testing.T, a, b net.Conn, msg string) {
	t.Helper()
	got := make([]byte, len(msg))
	for _, dir := range [][2]net.Conn{{a, b}, {b, a}} {
		_, err := dir[0].Write([]byte(msg))
		require.NoError(t, err)
		_, err = io.ReadFull(dir[1], got)
		require.NoError(t, err)
		assert.Equal(t, msg, string(got))
	}
}

// requireSilent checks that nothing (no byte, no EOF, no reset) arrives on
// c for 200 ms.
func requireSilent(t *testing.T, c net.Conn, who string) {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(200*time.Millisecond)))
	n, err := c.Read(make([]byte, 1))
	var ne net.Error
	require.True(t, errors.As(err, &ne) && ne.Timeout(), "%s heard something: %d bytes, %v", who, n, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
}
