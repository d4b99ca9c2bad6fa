package main

// The conformance suite: a black-box rubric for any TLS echo server of this
// chapter, in any language. It only dials an address, so it grades the Go
// server, the Python counterpart, nginx in front of a plain echo server, or
// a student's server (CH06_ADDR, with CH06_CA the CA to trust):
//
//	CH06_ADDR=127.0.0.1:8443 CH06_CA=certs/ca.pem go test ./ch06-tls -run Conformance/external
//
// The promises of the chapter's page it grades, one check each:
//
//   - TLS 1.3 is negotiated when the client offers it, with ALPN "echo"
//     (TLS13WithALPN), and the echo is exact;
//   - TLS 1.2 only with an ECDHE key exchange and an AEAD cipher
//     (TLS12ECDHEAEAD);
//   - TLS 1.1 is refused with a protocol_version alert (TLS11Refused);
//   - a long stream written in small pieces comes back whole and in order
//     (OneMegabyteInSmallWrites);
//   - a second connection resumes the session from its ticket (Resumption);
//   - a client speaking plain TCP gets one line of explanation, then the
//     server goes on serving (PlaintextRefused; not nginx, which closes).
//
// Not graded from outside, since they depend on the server's flags: the
// handshake timeout, -idle-timeout and -max-conns (server_test.go and
// limits_test.go check the course's servers).

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tcp-in-go/course/tests/testutil"
)

// tlsChecks is what any implementation of this chapter's server must do,
// checked from the outside through its address: the Go server, the Python
// counterpart, nginx in front of an echo server, or a student's server (see
// TestConformance). cfg returns a fresh client configuration that trusts
// the server's CA.
func tlsChecks(cfg func() (*tls.Config, error)) []testutil.Check {
	return []testutil.Check{
		{Name: "TLS13WithALPN", About: "TLS 1.3 echo, ALPN " + ALPN, Bound: 5 * time.Second,
			Run: func(ctx context.Context, addr string) error {
				st, err := echoWithin(ctx, addr, cfg, nil, "hello\n")
				switch {
				case err != nil:
					return err
				case st.Version != tls.VersionTLS13:
					return fmt.Errorf("negotiated %s, want TLS 1.3", tls.VersionName(st.Version))
				case st.NegotiatedProtocol != ALPN:
					return fmt.Errorf("ALPN %q, want %q", st.NegotiatedProtocol, ALPN)
				}
				return nil
			}},
		{Name: "TLS12ECDHEAEAD", About: "TLS 1.2 with an ECDHE AEAD suite", Bound: 5 * time.Second,
			Run: func(ctx context.Context, addr string) error {
				st, err := echoWithin(ctx, addr, cfg, func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 }, "hello\n")
				switch {
				case err != nil:
					return err
				case st.Version != tls.VersionTLS12:
					return fmt.Errorf("negotiated %s, want TLS 1.2", tls.VersionName(st.Version))
				case !slices.Contains(tls12Suites, st.CipherSuite):
					return fmt.Errorf("suite %s is not an ECDHE AEAD suite", tls.CipherSuiteName(st.CipherSuite))
				}
				return nil
			}},
		{Name: "TLS11Refused", About: "TLS 1.1 is refused", Bound: 5 * time.Second,
			Run: func(ctx context.Context, addr string) error {
				_, err := echoWithin(ctx, addr, cfg, func(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS11, tls.VersionTLS11 }, "hello\n")
				switch {
				case err == nil:
					return errors.New("a TLS 1.1 client was served")
				case !strings.Contains(err.Error(), "protocol version"):
					return fmt.Errorf("refused, but not for its protocol version: %w", err)
				}
				return nil
			}},
		{Name: "OneMegabyteInSmallWrites", About: "1 MiB in writes of 1000 bytes (many records) is echoed in order", Bound: 5 * time.Second,
			Run: func(ctx context.Context, addr string) error {
				c, err := cfg()
				if err != nil {
					return err
				}
				msg := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
				var out bytes.Buffer
				cl := &Client{Addr: addr, Config: c, Timeout: time.Until(deadlineOf(ctx))}
				in := &smallReader{r: bytes.NewReader(msg), n: 1000} // at most 1000 bytes per Read
				if err := cl.Run(ctx, in, &out, io.Discard); err != nil {
					return err
				}
				if !bytes.Equal(msg, out.Bytes()) {
					return fmt.Errorf("echo differs: got %d bytes, want %d", out.Len(), len(msg))
				}
				return nil
			}},
		{Name: "PlaintextRefused", About: "plain TCP gets one line of explanation; the server goes on serving", Bound: 5 * time.Second,
			Run: func(ctx context.Context, addr string) error {
				var d net.Dialer
				c, err := d.DialContext(ctx, "tcp", addr)
				if err != nil {
					return err
				}
				defer c.Close()
				_ = c.SetDeadline(deadlineOf(ctx))
				if _, err := io.WriteString(c, "hello\n"); err != nil {
					return err
				}
				got, err := io.ReadAll(c)
				if err != nil {
					return fmt.Errorf("after the hint, the server should close: %w (read %q)", err, got)
				}
				if want := "this port speaks TLS; plaintext is refused\n"; string(got) != want {
					return fmt.Errorf("a plaintext client read %q, want %q", got, want)
				}
				_, err = echoWithin(ctx, addr, cfg, nil, "still serving\n")
				return err
			}},
		{Name: "Resumption", About: "a second connection resumes the session", Bound: 5 * time.Second,
			Run: func(ctx context.Context, addr string) error {
				c, err := cfg()
				if err != nil {
					return err
				}
				var info bytes.Buffer
				cl := &Client{Addr: addr, Config: c, Timeout: time.Until(deadlineOf(ctx)), Resume: true}
				if err := cl.Run(ctx, strings.NewReader("again\n"), io.Discard, &info); err != nil {
					return err
				}
				if !strings.Contains(info.String(), "resumed:      true") {
					return errors.New("the second connection did not resume the session")
				}
				return nil
			}},
	}
}

// echoWithin sends msg over a new TLS connection (with tweak applied to the
// configuration) and reads it back, all within ctx, and returns the
// connection's TLS state.
func echoWithin(ctx context.Context, addr string, cfg func() (*tls.Config, error), tweak func(*tls.Config), msg string) (tls.ConnectionState, error) {
	c, err := cfg()
	if err != nil {
		return tls.ConnectionState{}, err
	}
	if tweak != nil {
		tweak(c)
	}
	cl := &Client{Addr: addr, Config: c, Timeout: time.Until(deadlineOf(ctx))}
	conn, err := cl.Dial(ctx)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(deadlineOf(ctx))
	if _, err := io.WriteString(conn, msg); err != nil {
		return conn.ConnectionState(), err
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(conn, buf); err != nil {
		return conn.ConnectionState(), err
	}
	if string(buf) != msg {
		return conn.ConnectionState(), fmt.Errorf("echo: got %q, want %q", buf, msg)
	}
	return conn.ConnectionState(), nil
}

// deadlineOf is ctx's deadline (every check has one).
func deadlineOf(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}

// smallReader returns at most n bytes per Read.
type smallReader struct {
	r io.Reader
	n int
}

func (s *smallReader) Read(p []byte) (int, error) { return s.r.Read(p[:min(len(p), s.n)]) }

// TestConformance runs the checks against the Go server, the Python
// counterpart, nginx, and, when CH06_ADDR and CH06_CA are set, only against
// the server at that address (a student's), trusting the CA in CH06_CA (a
// path from the repository root, or absolute):
//
//	CH06_ADDR=127.0.0.1:8443 CH06_CA=certs/ca.pem go test ./ch06-tls -run Conformance/external
func TestConformance(t *testing.T) {
	if addr := testutil.ExternalAddr(t, "CH06_ADDR"); addr != "" {
		t.Run("external", func(t *testing.T) {
			ca := os.Getenv("CH06_CA")
			if ca == "" {
				t.Fatal("CH06_ADDR is set but CH06_CA is not: set it to the CA certificate the server's certificate is signed with")
			}
			ca = testutil.RepoPath(t, "CH06_CA", ca)
			name := cmp.Or(os.Getenv("CH06_SERVER_NAME"), "localhost")
			if _, err := ClientConfig(ca, name, "", ""); err != nil {
				t.Fatalf("CH06_CA=%s: %v", ca, err)
			}
			testutil.RunChecks(t, addr, tlsChecks(func() (*tls.Config, error) { return ClientConfig(ca, name, "", "") }), true, nil)
		})
		return // grading that server only
	}
	p := newPKI(t)
	checks := tlsChecks(func() (*tls.Config, error) { return ClientConfig(p.path(CAFile), "localhost", "", "") })
	t.Run("go", func(t *testing.T) {
		addr, _ := startServer(t, p.serverConfig(t, false))
		testutil.RunChecks(t, addr, checks, false, nil)
	})
	t.Run("python", func(t *testing.T) {
		py := testutil.StartPython(t, "ch06_tls.py", "serve", "--cert", p.path(ServerCertFile), "--key", p.path(ServerKeyFile))
		testutil.RunChecks(t, py.Addr, checks, false, nil)
	})
	t.Run("nginx", func(t *testing.T) {
		addr, _ := startNginx(t, p, startPlainEcho(t))
		// nginx closes a plaintext client without a word.
		testutil.RunChecks(t, addr, without(checks, "PlaintextRefused"), false, nil)
	})
}

// without returns checks less the named one.
func without(checks []testutil.Check, name string) []testutil.Check {
	return slices.DeleteFunc(slices.Clone(checks), func(c testutil.Check) bool { return c.Name == name })
}

// TestConformanceCatchesBrokenServers shows the checks have teeth: each
// fails against a TLS server with the misconfiguration it is meant to catch.
func TestConformanceCatchesBrokenServers(t *testing.T) {
	if os.Getenv("CH06_ADDR") != "" {
		t.Skip("CH06_ADDR is set: grading that server only")
	}
	p := newPKI(t)
	broken := func(tweak func(*tls.Config), echo func(c net.Conn)) string {
		cfg := p.serverConfig(t, false).Clone()
		tweak(cfg)
		if echo == nil {
			echo = func(c net.Conn) { _, _ = io.Copy(c, c) }
		}
		return testutil.StartBroken(t, false, func(c net.Conn, _ <-chan struct{}) {
			tc := tls.Server(c, cfg)
			if tc.Handshake() == nil {
				echo(tc)
			}
			tc.Close()
		})
	}
	testutil.CatchesBroken(t, tlsChecks(func() (*tls.Config, error) { return ClientConfig(p.path(CAFile), "localhost", "", "") }),
		map[string]string{
			"TLS13WithALPN":  broken(func(c *tls.Config) { c.NextProtos = nil }, nil),
			"TLS12ECDHEAEAD": broken(func(c *tls.Config) { c.MinVersion = tls.VersionTLS13 }, nil),
			"TLS11Refused":   broken(func(c *tls.Config) { c.MinVersion, c.CipherSuites = tls.VersionTLS10, nil }, nil),
			"OneMegabyteInSmallWrites": broken(func(*tls.Config) {}, func(c net.Conn) { // stops after 64 KiB
				_, _ = io.CopyN(c, c, 64<<10)
			}),
			"Resumption":       broken(func(c *tls.Config) { c.SessionTicketsDisabled = true }, nil),
			"PlaintextRefused": broken(func(*tls.Config) {}, nil), // closes without the hint
		})
}
