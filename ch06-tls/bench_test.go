package main

// What TLS costs, measured in one run: handshakes per second (full, and
// resumed from a session ticket), and echo throughput over TLS against the
// same echo over plain TCP. Client and server run in this process over
// loopback, so the figures include both ends' CPU. scripts/ch06-bench.sh
// runs these and writes the table shown in the book.

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"
)

func benchServer(b *testing.B, p *pki) string {
	b.Helper()
	srv := NewServer(Config{TLS: p.serverConfig(b, false), Log: slogTo(io.Discard)})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	})
	return ln.Addr().String()
}

// BenchmarkHandshake measures full and resumed handshakes, each with Go's
// default key exchange (the hybrid post-quantum X25519MLKEM768) and with
// classic X25519 alone, so that a resumed handshake is compared with a full
// one of the same key exchange: in TLS 1.3 both do one (psk_dhe_ke).
func BenchmarkHandshake(b *testing.B) {
	p := newPKI(b)
	addr := benchServer(b, p)
	run := func(b *testing.B, cfg *tls.Config, group tls.CurveID, wantResumed bool) {
		d := tls.Dialer{Config: cfg}
		b.ResetTimer()
		for b.Loop() {
			c, err := d.DialContext(context.Background(), "tcp", addr)
			if err != nil {
				b.Fatal(err)
			}
			st := c.(*tls.Conn).ConnectionState()
			if st.DidResume != wantResumed || st.CurveID != group {
				b.Fatalf("resumed %v with %v, want %v with %v", st.DidResume, st.CurveID, wantResumed, group)
			}
			c.Close()
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
	}
	for _, group := range []tls.CurveID{tls.X25519MLKEM768, tls.X25519} {
		b.Run("full/"+group.String(), func(b *testing.B) {
			cfg := p.clientConfig(b, false)
			cfg.ClientSessionCache = nil // no tickets: every handshake verifies the certificate chain
			cfg.CurvePreferences = []tls.CurveID{group}
			run(b, cfg, group, false)
		})
		b.Run("resumed/"+group.String(), func(b *testing.B) {
			cfg := p.clientConfig(b, false)
			cfg.CurvePreferences = []tls.CurveID{group}
			if _, err := echoOnce(b, addr, cfg, "get a ticket"); err != nil {
				b.Fatal(err)
			}
			run(b, cfg, group, true)
		})
	}
}

func BenchmarkEcho(b *testing.B) {
	p := newPKI(b)
	tlsAddr := benchServer(b, p)
	plainAddr := startPlainEcho(b)
	const chunk = 64 << 10
	run := func(b *testing.B, c net.Conn) {
		defer c.Close()
		out, in := make([]byte, chunk), make([]byte, chunk)
		b.SetBytes(chunk)
		b.ResetTimer()
		// One goroutine writes, this one reads back: writing everything
		// before reading could fill both sides' buffers and stall.
		errc := make(chan error, 1)
		go func() {
			for range b.N {
				if _, err := c.Write(out); err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
		for range b.N {
			if _, err := io.ReadFull(c, in); err != nil {
				b.Fatal(err)
			}
		}
		if err := <-errc; err != nil {
			b.Fatal(err)
		}
	}
	b.Run("plain", func(b *testing.B) {
		c, err := net.Dial("tcp", plainAddr)
		if err != nil {
			b.Fatal(err)
		}
		run(b, c)
	})
	b.Run("tls", func(b *testing.B) {
		c, err := tls.Dial("tcp", tlsAddr, p.clientConfig(b, false))
		if err != nil {
			b.Fatal(err)
		}
		run(b, c)
	})
}
