package main

// Checks a client or a server may add to the ones crypto/tls makes: the
// chapter's exercises. Each is a function for tls.Config.VerifyConnection,
// which crypto/tls calls after its own verification of the chain and the
// name has passed (so it adds to that check, never replaces it), on full
// and resumed handshakes alike; an error it returns aborts the handshake.

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
)

// KeyPin is the pin of a certificate's public key: the SHA-256 of its
// SubjectPublicKeyInfo (the key with its algorithm, as the certificate
// encodes it), the value HPKP (RFC 7469) and curl's --pinnedpubkey use.
// A certificate re-issued for the same key keeps its pin.
func KeyPin(cert *x509.Certificate) [sha256.Size]byte {
	return sha256.Sum256(cert.RawSubjectPublicKeyInfo)
}

// PinString is a pin as HPKP writes it: base64 of the SHA-256.
func PinString(pin [sha256.Size]byte) string { return base64.StdEncoding.EncodeToString(pin[:]) }

// ANCHOR: pin
// verifyPin is a client's check: the server's own certificate (the leaf,
// not a CA above it) must carry one of the pinned keys. Several pins let a
// server move to a new key: pin the next key before it is used.
func verifyPin(st tls.ConnectionState, pins [][sha256.Size]byte) error {
	// ANCHOR: exercise-pin-key
	if len(st.PeerCertificates) == 0 {
		return errors.New("pin: the server sent no certificate")
	}
	if got := KeyPin(st.PeerCertificates[0]); !slices.Contains(pins, got) {
		return fmt.Errorf("pin: the server's key sha256/%s is not pinned", PinString(got))
	}
	return nil
	// ANCHOR_END: exercise-pin-key
}

// ANCHOR_END: pin

// ANCHOR: allow
// allowClients is a mutual-TLS server's check. The CA's signature says who
// the client is (authentication); this decides whether that client may use
// the service (authorization): its certificate's Common Name must be one of
// names. A client without a certificate is refused too.
func allowClients(st tls.ConnectionState, names []string) error {
	// ANCHOR: exercise-allow-clients
	if len(st.PeerCertificates) == 0 {
		return errors.New("allow: the client sent no certificate")
	}
	if cn := st.PeerCertificates[0].Subject.CommonName; !slices.Contains(names, cn) {
		return fmt.Errorf("allow: client %q is not allowed", cn)
	}
	return nil
	// ANCHOR_END: exercise-allow-clients
}

// ANCHOR_END: allow
