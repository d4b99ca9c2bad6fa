package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/internal/serve"
	"github.com/tcp-in-go/course/internal/telemetry"
	"github.com/tcp-in-go/course/tests/testutil"
)

// TestDrainClosesQuietClients: during a drain, a client that keeps
// talking (a message every 50 ms, well under drainQuiet) is served for as
// long as it talks, and a client silent for drainQuiet (250 ms) is closed
// then, long before the drain timeout (30 s here). Both halves have a
// bound: with drainQuiet at 5 s the silent client is not closed within
// 2 s, and with drainQuiet at 20 ms the talking client is cut.
func TestDrainClosesQuietClients(t *testing.T) {
	srv := newServer(Config{IdleTimeout: time.Minute})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	addr := ln.Addr().String()
	silent, talker := testutil.Dial(t, addr), testutil.Dial(t, addr)
	echoOnce(t, silent, "hello")
	echoOnce(t, talker, "hello")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	begin := time.Now()
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(ctx) }()
	require.Eventually(t, srv.core.Draining, 5*time.Second, time.Millisecond, "the drain begins")

	// The silent client is closed within drainQuiet, plus slack.
	silentClosed := make(chan time.Duration, 1)
	go func() {
		_ = silent.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err := silent.Read(make([]byte, 1))
		if !errors.Is(err, io.EOF) {
			silentClosed <- -1
			return
		}
		silentClosed <- time.Since(begin)
	}()

	// The talker sends for 500 ms, twice drainQuiet: every echo comes back.
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for i := range 10 {
		<-tick.C
		require.NoError(t, roundTrip(talker, []byte("still talking")),
			"message %d: a client that keeps talking is served during the drain", i+1)
	}
	took := <-silentClosed
	require.Positive(t, took, "the silent client gets EOF")
	assert.Less(t, took, 2*time.Second, "a client silent for drainQuiet is closed then, not at the drain timeout")

	// Once it stops, the talker is closed too, and the drain ends early.
	stopped := time.Now()
	select {
	case err := <-shut:
		require.NoError(t, err, "every connection ended before the drain timeout")
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown did not return after both clients went quiet")
	}
	assert.Less(t, time.Since(stopped), 2*time.Second, "the talker is closed once it goes quiet")
	assert.ErrorIs(t, <-served, serve.ErrServerClosed)
	_, err = talker.Read(make([]byte, 1))
	assert.ErrorIs(t, err, io.EOF)
}

// TestShutdownRacesServe: Shutdown may run before, during or after Serve
// starts, with metrics on (the Observer the accept loop calls) and a client
// connecting meanwhile; run with -race, nothing that Serve, Shutdown, the
// connection's goroutine and a scrape touch may race, and Serve returns
// ErrServerClosed every time.
func TestShutdownRacesServe(t *testing.T) {
	for i := range 20 {
		srv := newServer(Config{MaxConns: 4, IdleTimeout: time.Minute, Metrics: true})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		h := telemetry.Handler(srv.Metrics(), srv.core.Ready)
		var wg sync.WaitGroup
		served := make(chan error, 1)
		start := make(chan struct{})
		wg.Go(func() { <-start; served <- srv.Serve(ln) })
		wg.Go(func() { // a client, which may or may not get in
			<-start
			if c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				_, _ = c.Write([]byte("x"))
				_, _ = c.Read(make([]byte, 1))
				c.Close()
			}
		})
		wg.Go(func() { // a scrape, reading every metric
			<-start
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/metrics", nil))
		})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		wg.Go(func() { <-start; _ = srv.Shutdown(ctx) })
		close(start)
		select {
		case err := <-served:
			assert.ErrorIs(t, err, serve.ErrServerClosed, "run %d", i)
		case <-time.After(15 * time.Second):
			t.Fatalf("run %d: Serve did not return after Shutdown", i)
		}
		// Shutdown may have run before Serve held the listener: it is
		// closed either way once Serve has returned.
		require.NoError(t, srv.Shutdown(ctx), "run %d", i)
		wg.Wait()
		cancel()
		ln.Close()
	}
}
