// Command ch06-tls is chapter 6 of the course: the echo server of chapter 4
// behind TLS, with a private CA, server and client certificates, TLS 1.2/1.3,
// mutual TLS and session resumption.
//
//	go run ./ch06-tls gencert                  # certs/: CA, server and client certificates
//	go run ./ch06-tls serve                    # TLS echo server on 127.0.0.1:8443
//	echo hi | go run ./ch06-tls client -resume # verify, show the handshake, echo
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/tcp-in-go/course/internal/cli"
	"github.com/tcp-in-go/course/internal/debugserver"
	"github.com/tcp-in-go/course/internal/telemetry"
)

const name = "ch06-tls"

func main() { cli.Main(name, run) }

func run(ctx context.Context, args []string) error {
	return cli.Dispatch(ctx, name, args, os.Stderr,
		cli.Command{Name: "serve", Summary: "TLS echo server", Run: serveCmd},
		cli.Command{Name: "client", Summary: "TLS client: show the handshake, echo stdin", Run: clientCmd},
		cli.Command{Name: "gencert", Summary: "create a CA, a server and a client certificate", Run: gencertCmd},
	)
}

func serveCmd(ctx context.Context, args []string) error {
	fs := cli.NewFlagSet(name+" serve", os.Stderr)
	addr := fs.String("addr", "127.0.0.1:8443", "address to listen on (:PORT for all interfaces)")
	cert := fs.String("cert", filepath.Join("certs", ServerCertFile), "server certificate (PEM)")
	key := fs.String("key", filepath.Join("certs", ServerKeyFile), "server private key (PEM)")
	clientCA := fs.String("client-ca", "", "require client certificates signed by this CA (mutual TLS)")
	hsTimeout := fs.Duration("handshake-timeout", 10*time.Second, "close a client that has not finished the handshake this long after connecting (0: never)")
	idle := fs.Duration("idle-timeout", 5*time.Minute, "close a client silent this long (0: never)")
	maxConns := fs.Int("max-conns", 1000, "connections served at once (0: no limit); handshakes included, more wait in the accept queue")
	drain := fs.Duration("drain-timeout", 10*time.Second, "on SIGINT/SIGTERM, how long open connections may finish")
	debugAddr := fs.String("debug-addr", "", "serve pprof and expvar here, e.g. 127.0.0.1:6060 (loopback only)")
	metricsAddr := fs.String("metrics-addr", "", "serve /metrics here (may listen on any address); also /healthz and /readyz, e.g. :9466")
	if err := cli.Parse(fs, args, false); err != nil {
		return err
	}
	if *hsTimeout < 0 || *idle < 0 || *maxConns < 0 || *drain < 0 {
		return cli.Usagef("-handshake-timeout, -idle-timeout, -max-conns and -drain-timeout must not be negative")
	}
	cfg, err := ServerConfig(*cert, *key, *clientCA)
	if err != nil {
		return fmt.Errorf("%w (run '%s gencert' first?)", err, name)
	}
	log := slog.Default()
	srv := NewServer(Config{TLS: cfg, HandshakeTimeout: *hsTimeout, IdleTimeout: *idle,
		MaxConns: *maxConns, Log: log, Metrics: *metricsAddr != ""})
	if *debugAddr != "" {
		_, stop, err := debugserver.Start(ctx, *debugAddr, "tls", func() any { return srv.Stats() }, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	if *metricsAddr != "" {
		_, stop, err := telemetry.Start(ctx, *metricsAddr, srv.Metrics(), srv.Ready, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	return cli.ListenAndServe(ctx, log, *addr, srv, *drain, "mtls", *clientCA != "", "max_conns", *maxConns)
}

func clientCmd(ctx context.Context, args []string) error {
	fs := cli.NewFlagSet(name+" client", os.Stderr)
	addr := fs.String("addr", "127.0.0.1:8443", "server address (HOST:PORT)")
	ca := fs.String("ca", filepath.Join("certs", CAFile), "the only CA to trust (PEM)")
	serverName := fs.String("server-name", "", "name to verify in the server's certificate (default: the host of -addr)")
	cert := fs.String("cert", "", "client certificate for mutual TLS (PEM)")
	key := fs.String("key", "", "client private key (PEM)")
	resume := fs.Bool("resume", false, "connect a second time and show the resumed session")
	keylog := fs.String("keylog", "", "append TLS secrets to this file for Wireshark (DEBUG ONLY: it decrypts the traffic)")
	timeout := fs.Duration("timeout", 10*time.Second, "give up after this long; bounds the dial and the handshake")
	if err := cli.Parse(fs, args, false); err != nil {
		return err
	}
	if *serverName == "" {
		host, _, err := net.SplitHostPort(*addr)
		if err != nil {
			return cli.Usagef("-addr %q: %v", *addr, err)
		}
		*serverName = host
	}
	cfg, err := ClientConfig(*ca, *serverName, *cert, *key)
	if err != nil {
		return err
	}
	if *keylog != "" {
		f, err := openKeyLog(cfg, *keylog, slog.Default())
		if err != nil {
			return err
		}
		defer f.Close()
	}
	c := &Client{Addr: *addr, Config: cfg, Timeout: *timeout, Resume: *resume}
	return c.Run(ctx, os.Stdin, os.Stdout, os.Stderr)
}

func gencertCmd(_ context.Context, args []string) error {
	fs := cli.NewFlagSet(name+" gencert", os.Stderr)
	dir := fs.String("dir", "certs", "directory to write files into; the CA's, the server's and the client's PEM files")
	hosts := fs.String("hosts", "localhost,127.0.0.1,::1", "names and IPs the server certificate is valid for")
	if err := cli.Parse(fs, args, false); err != nil {
		return err
	}
	h := splitHosts(*hosts)
	if len(h) == 0 {
		return cli.Usagef("-hosts is empty")
	}
	if err := GenerateFiles(*dir, h); err != nil {
		return err
	}
	return listFiles(os.Stdout, *dir)
}

// listFiles prints what gencert wrote, with permissions: keys must be 0600.
func listFiles(w io.Writer, dir string) error {
	for _, f := range []string{CAFile, CAKeyFile, ServerCertFile, ServerKeyFile, ClientCertFile, ClientKeyFile} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%v %s\n", st.Mode().Perm(), filepath.Join(dir, f))
	}
	return nil
}
