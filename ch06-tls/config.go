package main

// The TLS settings of the server and the client. Everything that makes this
// chapter's TLS "secure by default" is in these two functions.

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
)

// ALPN is the application protocol both sides announce in the handshake
// (Application-Layer Protocol Negotiation), as "h2" or "http/1.1" are for
// HTTP. A server that speaks several protocols on one port picks by it.
const ALPN = "echo"

// ANCHOR: suites
// tls12Suites are the only TLS 1.2 cipher suites the server accepts. Each
// has ECDHE key exchange (forward secrecy: a stolen server key does not
// decrypt recorded traffic) and an AEAD cipher (AES-GCM or ChaCha20-Poly1305,
// which encrypt and authenticate in one step; no CBC, no padding oracles).
// The ECDSA suites serve our P-256 certificates, the RSA ones an RSA
// certificate. TLS 1.3 has no such list to choose from. Its suites name only
// an AEAD cipher and a hash (the key exchange is negotiated on its own), and
// RFC 8446 defines five; Go implements three of them (AES-128-GCM,
// AES-256-GCM and ChaCha20-Poly1305, not the two AES-CCM ones), and
// Config.CipherSuites does not apply to them.
var tls12Suites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// ANCHOR_END: suites

// ANCHOR: server-config
// ServerConfig loads the server's certificate and key. MinVersion refuses
// TLS 1.0 and 1.1 (the source's "ssl_protocols TLSv1.2 TLSv1.3"); MaxVersion
// is left at its default, the newest version (1.3), which the handshake
// prefers whenever the client offers it. With clientCA, the server asks for a
// client certificate and accepts only one signed by that CA (mutual TLS).
func ServerConfig(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load server certificate: %w", err)
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		CipherSuites: tls12Suites,
		NextProtos:   []string{ALPN},
	}
	if clientCAFile != "" {
		pool, err := loadPool(clientCAFile)
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// ANCHOR_END: server-config

// ANCHOR: client-config
// ClientConfig trusts exactly the CA in caFile: the pool starts empty, not
// from the system's public CAs, so only certificates issued by our own CA
// are accepted (pinning the CA). serverName is the name checked against the
// certificate's SANs. There is deliberately no InsecureSkipVerify: a client
// that does not verify talks securely to whoever answers.
func ClientConfig(caFile, serverName, certFile, keyFile string) (*tls.Config, error) {
	pool, err := loadPool(caFile)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{
		RootCAs:    pool,
		ServerName: serverName,
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{ALPN},
		// Keeps session tickets so a second connection can resume.
		ClientSessionCache: tls.NewLRUClientSessionCache(16),
	}
	if certFile != "" || keyFile != "" {
		if certFile == "" || keyFile == "" {
			return nil, errors.New("-cert and -key go together")
		}
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("load client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// ANCHOR_END: client-config

// loadPool reads PEM certificates into a fresh pool.
func loadPool(file string) (*x509.CertPool, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s holds no PEM certificate", file)
	}
	return pool, nil
}

// ANCHOR: keylog
// openKeyLog makes cfg write its session secrets to file in the NSS key log
// format, which Wireshark reads to decrypt a capture of this connection.
// Anyone with the file can read the traffic: it is for debugging only.
func openKeyLog(cfg *tls.Config, file string, log *slog.Logger) (io.Closer, error) {
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	log.Warn("writing TLS secrets to a key log: anyone who has this file can decrypt the traffic", "file", file)
	cfg.KeyLogWriter = f
	return f, nil
}

// ANCHOR_END: keylog
