package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/internal/serve"
	"github.com/tcp-in-go/course/tests/testutil"
)

// TestMaxConnsCountsHandshakes: -max-conns counts a connection from the
// moment it is accepted, so clients still in their handshake hold slots
// too. At the limit the server stops accepting: the next client waits in the
// kernel's accept queue, costing no handshake, until a slot is free.
func TestMaxConnsCountsHandshakes(t *testing.T) {
	p := newPKI(t)
	srv, addr, logs := startServerFor(t, p.serverConfig(t, false), func(c *Config) {
		c.MaxConns = 2
		c.Metrics = true
	})
	silent := testutil.Dial(t, addr) // connected, never sends its ClientHello
	testutil.Dial(t, addr)
	logs.WaitFor(t, "connection limit reached; new clients wait in the accept queue", 10*time.Second)
	assert.Equal(t, 2, srv.OpenConns(), "both silent clients hold a slot")

	served := make(chan error, 1)
	go func() { _, err := echoOnce(t, addr, p.clientConfig(t, false), "third"); served <- err }()
	assert.Equal(t, 2, strings.Count(logs.String(), "msg=accepted"), "the third client is not accepted while both slots are held")

	require.NoError(t, silent.Close()) // its handshake fails (EOF): a slot frees up
	select {
	case err := <-served:
		require.NoError(t, err, "the waiting client is served once a slot is free")
	case <-time.After(15 * time.Second):
		t.Fatal("the waiting client was never served")
	}
	var text bytes.Buffer
	require.NoError(t, srv.Metrics().Registry.WriteText(&text))
	assert.Contains(t, text.String(), "tcp_server_connections_max 2\n")
	assert.Regexp(t, `(?m)^tcp_server_connection_limit_reached_total [1-9]`, text.String())
}

// TestZeroMeansNever: zero timeouts and a zero limit are "never" and "no
// limit", not a hidden default. A connection served with both timeouts at 0
// gets no deadline from the handshake or the echo, and NewServer keeps the
// zeros as given.
func TestZeroMeansNever(t *testing.T) {
	p := newPKI(t)
	srv := NewServer(Config{TLS: p.serverConfig(t, false), Log: slogTo(io.Discard)})
	assert.Zero(t, srv.cfg.HandshakeTimeout)
	assert.Zero(t, srv.cfg.IdleTimeout)
	assert.Zero(t, srv.cfg.MaxConns)
	ctx, cancel := within(0)
	defer cancel()
	_, has := ctx.Deadline()
	assert.False(t, has, "a handshake timeout of 0 gives the handshake no deadline")

	var deadlines atomic.Int32
	addr := testutil.StartServer(t, func(ln net.Listener) error {
		return srv.Serve(deadlineListener{ln, &deadlines})
	}, srv.Shutdown)
	c := &Client{Addr: addr, Config: p.clientConfig(t, false), Timeout: 5 * time.Second}
	conn, err := c.Dial(t.Context())
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	for _, msg := range []string{"one", "two"} { // the second read follows a refresh, if any
		_, err = io.WriteString(conn, msg)
		require.NoError(t, err)
		_, err = io.ReadFull(conn, make([]byte, len(msg)))
		require.NoError(t, err)
	}
	assert.Zero(t, deadlines.Load(), "deadlines set on a connection served with zero timeouts")
}

// deadlineListener counts the deadlines (other than "none") set on the
// connections it accepts.
type deadlineListener struct {
	net.Listener
	set *atomic.Int32
}

func (l deadlineListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return deadlineConn{c, l.set}, nil
}

type deadlineConn struct {
	net.Conn
	set *atomic.Int32
}

func (c deadlineConn) count(t time.Time) {
	if !t.IsZero() {
		c.set.Add(1)
	}
}

func (c deadlineConn) SetDeadline(t time.Time) error {
	c.count(t)
	return c.Conn.SetDeadline(t)
}

func (c deadlineConn) SetReadDeadline(t time.Time) error {
	c.count(t)
	return c.Conn.SetReadDeadline(t)
}

func (c deadlineConn) SetWriteDeadline(t time.Time) error {
	c.count(t)
	return c.Conn.SetWriteDeadline(t)
}

// TestShutdownRacesServe: Shutdown may run before, during or after Serve
// starts (a signal can come at any time), with metrics on, clients
// connecting and a scrape reading the metrics. With everything set in
// NewServer, the race detector (go test -race) sees no conflict, and Serve
// returns ErrServerClosed every time.
func TestShutdownRacesServe(t *testing.T) {
	p := newPKI(t)
	cfg := p.serverConfig(t, false)
	for i := range 20 {
		srv := NewServer(Config{TLS: cfg, MaxConns: 2, HandshakeTimeout: time.Second, Metrics: true, Log: slogTo(io.Discard)})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		var wg sync.WaitGroup
		served := make(chan error, 1)
		wg.Go(func() { served <- srv.Serve(ln) })
		wg.Go(func() { // a client, accepted or refused by the closed listener
			if c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second); err == nil {
				_, _ = c.Write([]byte("not TLS\n"))
				c.Close()
			}
		})
		wg.Go(func() { _ = srv.Metrics().Registry.WriteText(io.Discard) }) // a scrape
		if i%2 == 0 {
			wg.Go(func() { _ = srv.Ready() }) // /readyz
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		require.NoError(t, srv.Shutdown(ctx), "round %d", i)
		cancel()
		select {
		case err := <-served:
			require.ErrorIs(t, err, serve.ErrServerClosed, "round %d", i)
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: Serve did not return after Shutdown", i)
		}
		wg.Wait()
		var text bytes.Buffer
		require.NoError(t, srv.Metrics().Registry.WriteText(&text))
		assert.Contains(t, text.String(), "tcp_server_draining 1\n")
		assert.Contains(t, text.String(), "tcp_server_connections_open 0\n")
	}
}

// TestIdleTimeoutClosesSilentClient: after the handshake, a client that
// sends nothing for IdleTimeout is closed, and its closed line says why
// (reason=idle); a client that keeps talking is not.
func TestIdleTimeoutClosesSilentClient(t *testing.T) {
	p := newPKI(t)
	_, addr, logs := startServerFor(t, p.serverConfig(t, false), func(c *Config) {
		c.IdleTimeout = 300 * time.Millisecond
	})
	c := &Client{Addr: addr, Config: p.clientConfig(t, false), Timeout: 5 * time.Second}
	conn, err := c.Dial(t.Context())
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	for range 3 { // talking every 100 ms keeps the connection open
		_, err = io.WriteString(conn, "hi")
		require.NoError(t, err)
		_, err = io.ReadFull(conn, make([]byte, 2))
		require.NoError(t, err, "a client that keeps talking is served")
		<-time.After(100 * time.Millisecond)
	}
	start := time.Now()
	_, err = conn.Read(make([]byte, 1)) // silent now: the server closes
	require.Error(t, err, "the server closes a silent client")
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the client's own 10 s deadline fired: the server never closed the idle connection")
	}
	assert.Less(t, time.Since(start), 5*time.Second, "closed within a bound of the 300 ms idle timeout")
	logs.WaitFor(t, "reason=idle", 10*time.Second)
}
