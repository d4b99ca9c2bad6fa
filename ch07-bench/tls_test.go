package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tcp-in-go/course/tests/testutil"
)

// testCA makes a CA and a server certificate for 127.0.0.1 signed by it, and
// writes the CA's certificate to a PEM file (what -ca reads).
func testCA(t *testing.T) (caFile string, server tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ch07 test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	require.NoError(t, err)
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644))
	return caFile, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// startTLSEcho runs the reference echo server behind crypto/tls.
func startTLSEcho(t *testing.T, cert tls.Certificate) string {
	srv := &EchoServer{}
	return testutil.StartServer(t, func(ln net.Listener) error {
		return srv.Serve(tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}}))
	}, srv.Shutdown)
}

func TestTLS(t *testing.T) {
	caFile, cert := testCA(t)
	addr := startTLSEcho(t, cert)
	for _, mode := range []string{ModePingPong, ModeConnect, ModeStream} {
		t.Run(mode, func(t *testing.T) {
			cfg := testCfg(addr, mode)
			var err error
			cfg.TLS, err = tlsConfig(caFile, addr, "")
			require.NoError(t, err)
			res, err := Run(ctxT(t), cfg)
			require.NoError(t, err)
			assert.Empty(t, res.Errors)
			assert.True(t, res.TLS)
			assert.Positive(t, res.Bytes)
		})
	}
	t.Run("untrusted CA", func(t *testing.T) {
		otherCA, _ := testCA(t)
		cfg := testCfg(addr, ModePingPong)
		var err error
		cfg.TLS, err = tlsConfig(otherCA, addr, "")
		require.NoError(t, err)
		res, err := Run(ctxT(t), cfg)
		require.NoError(t, err)
		assert.Positive(t, res.Errors["tls"], "%+v %v", res.Errors, res.ErrorText)
		assert.Zero(t, res.Requests)
	})
	t.Run("plain client on TLS port", func(t *testing.T) {
		res, err := Run(ctxT(t), testCfg(addr, ModePingPong))
		require.NoError(t, err)
		assert.Positive(t, res.ErrorTotal)
		assert.Zero(t, res.Requests)
	})
}

func TestTLSConfigErrors(t *testing.T) {
	_, err := tlsConfig(filepath.Join(t.TempDir(), "missing.pem"), "127.0.0.1:1", "")
	require.Error(t, err)
	empty := filepath.Join(t.TempDir(), "empty.pem")
	require.NoError(t, os.WriteFile(empty, []byte("not a certificate"), 0o644))
	_, err = tlsConfig(empty, "127.0.0.1:1", "")
	require.ErrorContains(t, err, "no PEM certificate")
}
