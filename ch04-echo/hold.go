package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// hold opens n connections to addr, makes each echo one byte (so the server
// has served it and gone back to waiting), logs "holding" and keeps them open
// until ctx ends. scripts/ch04-idle-mem.sh runs it in its own process (each
// side of 10,000 connections needs 10,000 file descriptors) and reads the
// server's resident memory.
func hold(ctx context.Context, addr string, n int, log *slog.Logger) error {
	conns := make([]net.Conn, n)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	sem := make(chan struct{}, 64) // dial 64 at a time: a burst larger than the accept queue is dropped
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			c, err := openIdle(ctx, addr)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = fmt.Errorf("connection %d: %w", i+1, err)
			}
			conns[i] = c
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	log.Info("holding", "conns", n, "addr", addr)
	<-ctx.Done()
	return nil
}

func openIdle(ctx context.Context, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	b := []byte{'x'}
	_, err = c.Write(b)
	if err == nil {
		_, err = io.ReadFull(c, b)
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	_ = c.SetDeadline(time.Time{})
	return c, nil
}
