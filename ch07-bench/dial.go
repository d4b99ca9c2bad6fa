package main

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"time"
)

// dial opens one connection, with TLS and its handshake when cfg asks for
// it, all bounded by cfg.Timeout.
func dial(ctx context.Context, cfg *Config) (net.Conn, error) {
	d := net.Dialer{Timeout: cfg.Timeout}
	if cfg.TLS == nil {
		return d.DialContext(ctx, "tcp", cfg.Addr)
	}
	td := tls.Dialer{NetDialer: &d, Config: cfg.TLS}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	return td.DialContext(ctx, "tcp", cfg.Addr)
}

func isTLSError(err error) bool {
	var (
		re tls.RecordHeaderError
		ae tls.AlertError
		ve *tls.CertificateVerificationError
	)
	return errors.As(err, &re) || errors.As(err, &ae) || errors.As(err, &ve)
}

// unblockOnDone makes every blocked Read/Write on c return at once when ctx
// ends, so a run stops on time even against a server that went silent.
// The returned function must be called when c is done with.
func unblockOnDone(ctx context.Context, c net.Conn) (stop func() bool) {
	return context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
}
