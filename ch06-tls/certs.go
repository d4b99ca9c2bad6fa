package main

// Certificates: a private certificate authority (CA), and a server and a
// client certificate signed by it. A certificate binds a public key to names
// ("localhost", "127.0.0.1") for a period of time, and the CA's signature is
// what makes a peer believe that binding. Trusting "our CA and nothing else"
// is the strongest form of the trust a browser puts in hundreds of public CAs.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Identity is a certificate together with its private key.
type Identity struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
}

// Validity is the window in which a certificate is valid. Tests use it to
// make expired and not-yet-valid certificates on purpose.
type Validity struct {
	NotBefore, NotAfter time.Time
}

// ValidFor returns a window starting a few minutes in the past (clocks of
// two machines are never exactly equal) and lasting d.
func ValidFor(d time.Duration) Validity {
	now := time.Now()
	return Validity{NotBefore: now.Add(-5 * time.Minute), NotAfter: now.Add(d)}
}

// ANCHOR: ca
// NewCA creates a self-signed certificate authority. IsCA and the
// KeyUsageCertSign bit let it sign other certificates; MaxPathLen 0 says it
// may sign only leaf certificates, never another CA.
func NewCA(name string, v Validity) (*Identity, error) {
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: name, Organization: []string{"tcp-in-go course"}},
		NotBefore:             v.NotBefore,
		NotAfter:              v.NotAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	return sign(tmpl, nil)
}

// ANCHOR_END: ca

// ANCHOR: leaf
// IssueServer signs a server certificate for hosts. Clients check the name
// they dialled against these Subject Alternative Names (SANs): DNS names and
// IP addresses are separate lists, and the Common Name is no longer looked at.
func (ca *Identity) IssueServer(hosts []string, v Validity) (*Identity, error) {
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: hosts[0]},
		NotBefore:   v.NotBefore,
		NotAfter:    v.NotAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return sign(tmpl, ca)
}

// IssueClient signs a client certificate for mutual TLS. The server reads
// the client's identity from its subject; ExtKeyUsageClientAuth says the
// key may only be used to authenticate a client.
func (ca *Identity) IssueClient(name string, v Validity) (*Identity, error) {
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: name, Organization: []string{"tcp-in-go course"}},
		NotBefore:   v.NotBefore,
		NotAfter:    v.NotAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	return sign(tmpl, ca)
}

// ANCHOR_END: leaf

// ANCHOR: sign
// sign gives tmpl a fresh ECDSA P-256 key and a random serial number and
// signs it with parent's key (or its own key when parent is nil: a
// self-signed root). P-256 keys are small and fast, and every TLS stack
// supports them.
func sign(tmpl *x509.Certificate, parent *Identity) (*Identity, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	issuer, signer := tmpl, key
	if parent != nil {
		issuer, signer = parent.Cert, parent.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, &key.PublicKey, signer)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Identity{Cert: cert, Key: key}, nil
}

// ANCHOR_END: sign

// CertPEM is the certificate in PEM, the base64 text format every TLS
// stack (Go, Python's ssl, OpenSSL, nginx) reads.
func (id *Identity) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: id.Cert.Raw})
}

// KeyPEM is the private key in PKCS #8 PEM ("BEGIN PRIVATE KEY").
func (id *Identity) KeyPEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(id.Key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// TLSCertificate is the identity as crypto/tls wants it, for tests that
// build configurations in memory.
func (id *Identity) TLSCertificate() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{id.Cert.Raw}, PrivateKey: id.Key, Leaf: id.Cert}
}

// The files gencert writes into its directory.
const (
	CAFile         = "ca.pem"
	CAKeyFile      = "ca-key.pem"
	ServerCertFile = "server.pem"
	ServerKeyFile  = "server-key.pem"
	ClientCertFile = "client.pem"
	ClientKeyFile  = "client-key.pem"
)

// ANCHOR: gencert
// GenerateFiles writes a CA, a server certificate for hosts and a client
// certificate into dir. It refuses to run when any of the private keys
// already exists: silently replacing a key would break every certificate and
// every peer that trusts the old CA, and a key is the one file that cannot
// be recreated. Keys are created 0600 (owner only), certificates 0644: a
// certificate is public, a key is a secret.
func GenerateFiles(dir string, hosts []string) error {
	for _, f := range []string{CAKeyFile, ServerKeyFile, ClientKeyFile} {
		p := filepath.Join(dir, f)
		if _, err := os.Stat(p); err == nil {
			return fmt.Errorf("%s exists: refusing to overwrite a private key (delete the directory or choose another -dir)", p)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ca, err := NewCA("tcp-in-go course CA", ValidFor(10*365*24*time.Hour))
	if err != nil {
		return err
	}
	server, err := ca.IssueServer(hosts, ValidFor(397*24*time.Hour))
	if err != nil {
		return err
	}
	client, err := ca.IssueClient("course-client", ValidFor(397*24*time.Hour))
	if err != nil {
		return err
	}
	if err := writeIdentity(dir, ca, CAFile, CAKeyFile); err != nil {
		return err
	}
	if err := writeIdentity(dir, server, ServerCertFile, ServerKeyFile); err != nil {
		return err
	}
	return writeIdentity(dir, client, ClientCertFile, ClientKeyFile)
}

// ANCHOR_END: gencert

// ANCHOR: write-identity
// writeIdentity writes id's key (0600, never over an existing file) and
// then its certificate (0644) into dir.
func writeIdentity(dir string, id *Identity, certFile, keyFile string) error {
	keyPEM, err := id.KeyPEM()
	if err != nil {
		return err
	}
	if err := writeNew(filepath.Join(dir, keyFile), keyPEM, 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, certFile), id.CertPEM(), 0o644)
}

// writeNew creates path with mode, failing if it exists (O_EXCL closes the
// race between the check above and the write).
func writeNew(path string, data []byte, mode fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s exists: refusing to overwrite a private key", path)
		}
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ANCHOR_END: write-identity

// splitHosts parses the -hosts flag: a comma-separated list of names and IPs.
func splitHosts(s string) []string {
	var hosts []string
	for _, h := range strings.Split(s, ",") {
		if h = strings.TrimSpace(h); h != "" {
			hosts = append(hosts, h)
		}
	}
	return hosts
}
