package main

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/internal/exercise"
)

// reissue signs a new certificate (a new serial, a new validity) for the
// key id already has, as a CA does when a certificate is renewed.
func reissue(t *testing.T, ca, id *Identity) *Identity {
	t.Helper()
	tmpl := *id.Cert
	tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
	tmpl.NotAfter = tmpl.NotAfter.Add(24 * time.Hour)
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, ca.Cert, &id.Key.PublicKey, ca.Key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return &Identity{Cert: cert, Key: id.Key}
}

// TestPinKey grades exercise-pin-key: a client that pins the server's key
// connects to a server holding it, on a full and on a resumed handshake,
// and with a certificate re-issued for that key; it refuses a server whose
// leaf has another key, even when the CA's key is what was pinned.
func TestPinKey(t *testing.T) {
	exercise.Graded(t, "exercise-pin-key")
	p := newPKI(t)
	server := KeyPin(p.server.Cert)
	other := KeyPin(p.client.Cert) // some other key
	dial := func(addr string, pins ...[sha256.Size]byte) (tls.ConnectionState, error) {
		cfg := p.clientConfig(t, false)
		cfg.VerifyConnection = func(st tls.ConnectionState) error { return verifyPin(st, pins) }
		st, err := echoOnce(t, addr, cfg, "ping")
		if err != nil {
			return st, err
		}
		return echoOnce(t, addr, cfg, "again") // resumed: checked again
	}
	addr, _ := startServer(t, p.serverConfig(t, false))

	st, err := dial(addr, server)
	require.NoError(t, err, "the server's own key is pinned")
	assert.True(t, st.DidResume, "the second connection resumed, and was checked too")
	_, err = dial(addr, other, server)
	require.NoError(t, err, "the second of two pins (a backup key) matches")

	_, err = dial(addr, other)
	require.Error(t, err, "a server whose key is not pinned")
	assert.Contains(t, err.Error(), "pin")
	_, err = dial(addr, KeyPin(p.ca.Cert))
	require.Error(t, err, "pinning the CA's key must not let its leaves through: the leaf's key is pinned")

	renewed := p.serverConfig(t, false)
	renewed.Certificates = []tls.Certificate{reissue(t, p.ca, p.server).TLSCertificate()}
	addr, _ = startServer(t, renewed)
	_, err = dial(addr, server)
	require.NoError(t, err, "a certificate re-issued for the same key keeps the key's pin")

	require.Error(t, verifyPin(tls.ConnectionState{}, [][sha256.Size]byte{server}), "no certificate at all")
}

// TestAllowClients grades exercise-allow-clients: a mutual-TLS server that
// allows only named clients serves them (the second name of the list too),
// and refuses a client of the same CA with another name, a name that only
// begins like an allowed one, and a client without a certificate.
func TestAllowClients(t *testing.T) {
	exercise.Graded(t, "exercise-allow-clients")
	p := newPKI(t)
	allowed := []string{"backup-client", "course-client"}
	cfg := p.serverConfig(t, true)
	cfg.ClientAuth = tls.VerifyClientCertIfGiven // so that "no certificate" reaches the check
	cfg.VerifyConnection = func(st tls.ConnectionState) error { return allowClients(st, allowed) }
	addr, logs := startServer(t, cfg)

	as := func(name string) *tls.Config {
		c := p.clientConfig(t, false)
		if name == "" {
			return c
		}
		id, err := p.ca.IssueClient(name, ValidFor(time.Hour))
		require.NoError(t, err)
		c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			cert := id.TLSCertificate()
			return &cert, nil
		}
		return c
	}
	for _, name := range allowed {
		c := as(name)
		_, err := echoOnce(t, addr, c, "ping")
		require.NoError(t, err, "%s is allowed", name)
		st, err := echoOnce(t, addr, c, "again")
		require.NoError(t, err, "%s is allowed on a resumed connection too", name)
		assert.True(t, st.DidResume)
	}
	for _, name := range []string{"intruder", "course-client-2", "course", ""} {
		_, err := echoOnce(t, addr, as(name), "ping")
		require.Error(t, err, "client %q must be refused", name)
	}
	logs.WaitFor(t, `reason=handshake err="allow: client \"intruder\" is not allowed"`, 10*time.Second)
}

// TestTLS13Suites backs config.go's comment: Go implements three TLS 1.3
// suites (RFC 8446 defines five; not the two AES-CCM ones), each an AEAD,
// and a server whose CipherSuites lists TLS 1.2 suites only still
// negotiates TLS 1.3 with one of the three.
func TestTLS13Suites(t *testing.T) {
	var tls13 []string
	for _, cs := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		if slices.Contains(cs.SupportedVersions, tls.VersionTLS13) {
			tls13 = append(tls13, cs.Name)
		}
	}
	assert.ElementsMatch(t, []string{"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}, tls13)

	p := newPKI(t)
	cfg := p.serverConfig(t, false)
	for _, id := range cfg.CipherSuites {
		require.NotContains(t, tls13, tls.CipherSuiteName(id))
	}
	addr, _ := startServer(t, cfg)
	st, err := echoOnce(t, addr, p.clientConfig(t, false), "ping")
	require.NoError(t, err)
	assert.Contains(t, tls13, tls.CipherSuiteName(st.CipherSuite))
}
