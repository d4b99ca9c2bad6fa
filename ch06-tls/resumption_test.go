package main

// What a resumed handshake does, seen in the bytes. RFC 8446 §4.2.9 gives
// TLS 1.3 two ways to use a session ticket (a pre-shared key, PSK):
// psk_ke, the key alone, and psk_dhe_ke, the key plus a fresh (EC)DHE
// exchange, which keeps forward secrecy should the ticket key leak. The
// client lists the modes it accepts in the psk_key_exchange_modes
// extension; with psk_dhe_ke the ServerHello carries a key_share. The
// ClientHello and the ServerHello travel in the clear, so a test can read
// both.

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Extension numbers (RFC 8446 §4.2) and PSK modes (§4.2.9).
const (
	extPreSharedKey = 41
	extPSKModes     = 45
	extKeyShare     = 51
	pskKE           = 0 // psk_ke
	pskDHEKE        = 1 // psk_dhe_ke
)

// helloConn records the first record each way: the client's ClientHello
// and the server's ServerHello. rewrite, if set, may change the
// ClientHello before it is sent.
type helloConn struct {
	net.Conn
	rewrite func(hello []byte)

	mu            sync.Mutex
	client, serve []byte
}

func (c *helloConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	first := c.client == nil
	if first {
		c.client = slices.Clone(b) // crypto/tls writes the ClientHello in one Write
	}
	c.mu.Unlock()
	if first && c.rewrite != nil {
		sent := slices.Clone(b)
		c.rewrite(sent)
		if _, err := c.Conn.Write(sent); err != nil {
			return 0, err
		}
		return len(b), nil
	}
	return c.Conn.Write(b)
}

func (c *helloConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.mu.Lock()
	if len(c.serve) < 1<<16 {
		c.serve = append(c.serve, b[:n]...)
	}
	c.mu.Unlock()
	return n, err
}

func (c *helloConn) hellos() (client, server []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.client), slices.Clone(c.serve)
}

// helloDial handshakes with addr over a helloConn and returns it with the
// connection's state and the handshake's error.
func helloDial(t *testing.T, addr string, cfg *tls.Config, rewrite func([]byte)) (*helloConn, tls.ConnectionState, error) {
	t.Helper()
	raw, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	hc := &helloConn{Conn: raw, rewrite: rewrite}
	conn := tls.Client(hc, cfg)
	t.Cleanup(func() { conn.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = conn.HandshakeContext(ctx)
	if err == nil {
		// Read the echo of one byte: in TLS 1.3 the session ticket comes
		// after the handshake, and is processed by this read.
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err = conn.Write([]byte{'x'}); err == nil {
			_, err = conn.Read(make([]byte, 1))
		}
	}
	return hc, conn.ConnectionState(), err
}

// extensions parses the hello at the start of record (a ClientHello or a
// ServerHello in one TLS record) and returns its extensions by number,
// each a slice of record: writing to it changes record.
func extensions(t *testing.T, record []byte) map[uint16][]byte {
	t.Helper()
	require.Greater(t, len(record), 5+4, "too short for a hello")
	require.Equal(t, byte(22), record[0], "not a handshake record")
	body := record[5 : 5+int(binary.BigEndian.Uint16(record[3:5]))]
	kind := body[0]
	msg := body[4 : 4+(int(body[1])<<16|int(body[2])<<8|int(body[3]))]
	msg = msg[2+32:]          // legacy_version, random
	msg = msg[1+int(msg[0]):] // legacy_session_id
	if kind == 1 {            // ClientHello
		msg = msg[2+int(binary.BigEndian.Uint16(msg)):] // cipher_suites
		msg = msg[1+int(msg[0]):]                       // legacy_compression_methods
	} else {
		require.Equal(t, byte(2), kind, "neither a ClientHello nor a ServerHello")
		msg = msg[2+1:] // cipher_suite, legacy_compression_method
	}
	exts := map[uint16][]byte{}
	msg = msg[2 : 2+int(binary.BigEndian.Uint16(msg))]
	for len(msg) >= 4 {
		typ, n := binary.BigEndian.Uint16(msg), int(binary.BigEndian.Uint16(msg[2:]))
		exts[typ] = msg[4 : 4+n]
		msg = msg[4+n:]
	}
	return exts
}

// TestResumptionDoesAKeyExchange: Go's client offers only psk_dhe_ke, and
// a resumed TLS 1.3 handshake with the Go server carries a key share each
// way: a fresh key exchange with Go's default group, on both ends.
func TestResumptionDoesAKeyExchange(t *testing.T) {
	p := newPKI(t)
	addr, logs := startServer(t, p.serverConfig(t, false))
	cfg := p.clientConfig(t, false)
	_, st, err := helloDial(t, addr, cfg, nil) // a full handshake: gets a ticket
	require.NoError(t, err)
	require.False(t, st.DidResume)

	hc, st, err := helloDial(t, addr, cfg, nil)
	require.NoError(t, err)
	require.True(t, st.DidResume, "the second handshake resumes")
	ch, sh := hc.hellos()
	client := extensions(t, ch)
	require.Contains(t, client, uint16(extPreSharedKey), "the client offers its ticket")
	assert.Equal(t, []byte{1, pskDHEKE}, client[extPSKModes], "Go's client offers psk_dhe_ke and nothing else")
	assert.Contains(t, client, uint16(extKeyShare), "with a key share for the exchange")
	server := extensions(t, sh)
	assert.Contains(t, server, uint16(extPreSharedKey), "the server accepts the ticket")
	assert.Contains(t, server, uint16(extKeyShare), "and answers with its own key share: psk_dhe_ke")
	assert.Equal(t, tls.X25519MLKEM768, st.CurveID, "the resumed session's key exchange")
	logs.WaitFor(t, `group=X25519MLKEM768 alpn=echo resumed=true`, 10*time.Second)
}

// TestServerResumesOnlyWithKeyExchange: a client that offers psk_ke alone
// (made here by changing the mode byte of Go's own ClientHello) is not
// resumed by the Go server: its ServerHello takes no ticket, and a full
// handshake begins. (The client then fails, since its ClientHello was
// changed under it; the test only reads the ServerHello.)
func TestServerResumesOnlyWithKeyExchange(t *testing.T) {
	p := newPKI(t)
	addr, _ := startServer(t, p.serverConfig(t, false))
	cfg := p.clientConfig(t, false)
	_, _, err := helloDial(t, addr, cfg, nil)
	require.NoError(t, err)

	hc, st, _ := helloDial(t, addr, cfg, func(hello []byte) {
		modes := extensions(t, hello)[extPSKModes]
		require.Equal(t, []byte{1, pskDHEKE}, modes)
		modes[1] = pskKE
	})
	assert.False(t, st.DidResume)
	_, sh := hc.hellos()
	server := extensions(t, sh)
	assert.NotContains(t, server, uint16(extPreSharedKey), "the server must not resume with psk_ke")
	assert.Contains(t, server, uint16(extKeyShare), "a full handshake's key exchange")
}

// TestTLS12ResumptionSkipsTheKeyExchange: in TLS 1.2 a resumed session
// reuses the old master secret: the server's flight has no Certificate and
// no ServerKeyExchange, so no new key exchange and no signature, which is
// why resuming saves more CPU there than in TLS 1.3.
func TestTLS12ResumptionSkipsTheKeyExchange(t *testing.T) {
	p := newPKI(t)
	addr, _ := startServer(t, p.serverConfig(t, false))
	cfg := p.clientConfig(t, false)
	cfg.MaxVersion = tls.VersionTLS12
	hc, st, err := helloDial(t, addr, cfg, nil)
	require.NoError(t, err)
	_, full := hc.hellos()
	assert.Equal(t, []byte{2, 11, 12, 14, 4}, handshakeTypes(t, full), "a full handshake: "+
		"ServerHello, Certificate, ServerKeyExchange, ServerHelloDone, then (after the client's turn) NewSessionTicket")

	hc, st, err = helloDial(t, addr, cfg, nil)
	require.NoError(t, err)
	require.True(t, st.DidResume)
	_, resumed := hc.hellos()
	assert.Equal(t, []byte{2, 4}, handshakeTypes(t, resumed),
		"a resumed one: ServerHello, NewSessionTicket, then ChangeCipherSpec")
}

// handshakeTypes returns the types of the handshake messages in b's
// plaintext records, up to the first ChangeCipherSpec (record type 20).
func handshakeTypes(t *testing.T, b []byte) []byte {
	t.Helper()
	var types []byte
	for len(b) >= 5 && b[0] == 22 {
		n := int(binary.BigEndian.Uint16(b[3:5]))
		require.GreaterOrEqual(t, len(b), 5+n, "a record cut short")
		for msg := b[5 : 5+n]; len(msg) >= 4; {
			types = append(types, msg[0])
			msg = msg[4+(int(msg[1])<<16|int(msg[2])<<8|int(msg[3])):]
		}
		b = b[5+n:]
	}
	require.NotEmpty(t, b, "no ChangeCipherSpec after the handshake records")
	assert.Equal(t, byte(20), b[0])
	return types
}
