// Command wasi runs the ch04 echo server as a WebAssembly module under
// wazero (https://wazero.io), a WebAssembly runtime written in pure Go.
//
//	cd tools/wasi && go run . -addr 127.0.0.1:7000
//
// It builds ../../ch04-echo with GOOS=wasip1 GOARCH=wasm (or loads -wasm
// FILE), pre-opens a TCP listener on -addr for the module (WASI preview 1
// has no socket or listen call: a module can only accept on a socket its
// host hands it, as file descriptor 3), passes the module's stdout and
// stderr through, and stops it on Ctrl-C. The module sees no file system
// unless -dir mounts one, and no network but that one socket.
//
// It is its own Go module so that wazero stays out of the course's root
// module (the one a student downloads).
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental/sock"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("side", "host")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, log, os.Args[1:]); err != nil {
		log.Error("wasi host", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, log *slog.Logger, args []string) error {
	fs := flag.NewFlagSet("wasi", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:7000", "loopback address the host pre-opens for the module (port 0: a free one)")
	wasm := fs.String("wasm", "", "load this module instead of building ../../ch04-echo")
	dir := fs.String("dir", "", "mount this host directory as the module's / (default: no file system)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	modArgs := fs.Args()
	if len(modArgs) == 0 {
		modArgs = []string{"serve"}
	}
	host, port, err := loopbackPort(*addr)
	if err != nil {
		return err
	}
	path := *wasm
	if path == "" {
		tmp, err := os.MkdirTemp("", "wasi-host-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		path = filepath.Join(tmp, "ch04-echo.wasm")
		if err := Build(ctx, filepath.Join("..", ".."), "./ch04-echo", path); err != nil {
			return err
		}
	}
	bin, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return Run(ctx, log, Module{Bin: bin, Name: filepath.Base(path), Args: modArgs, Host: host, Port: port, Dir: *dir})
}

// loopbackPort splits addr and refuses a non-loopback host. wazero's socket
// configuration takes a port, not a listener, and cannot say which port the
// kernel chose for 0, so for port 0 the host finds a free one first (a
// listener opened and closed at once: another program could take it in
// between, which tests accept).
func loopbackPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return "", 0, fmt.Errorf("-addr %s: the host pre-opens loopback addresses only", addr)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, fmt.Errorf("-addr %s: bad port", addr)
	}
	if port == 0 {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return "", 0, err
		}
		port = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
	}
	return host, port, nil
}

// Build compiles pkg (relative to the module root dir) for WASI preview 1.
func Build(ctx context.Context, dir, pkg, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("GOOS=wasip1 GOARCH=wasm go build %s: %w\n%s", pkg, err, b)
	}
	return nil
}

// Module is what the host hands a module: its arguments, one pre-opened
// listener, and at most one directory.
type Module struct {
	Bin  []byte
	Name string
	Args []string
	Host string
	Port int
	Dir  string // "": no file system at all
}

// Run compiles and runs m until it exits or ctx ends (Ctrl-C).
func Run(ctx context.Context, log *slog.Logger, m Module) error {
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(true))
	defer rt.Close(context.Background())
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)

	start := time.Now()
	compiled, err := rt.CompileModule(ctx, m.Bin)
	if err != nil {
		return fmt.Errorf("compile %s: %w", m.Name, err)
	}
	addr := net.JoinHostPort(m.Host, strconv.Itoa(m.Port))
	log.Info("module compiled", "module", m.Name, "bytes", len(m.Bin), "took", time.Since(start).Round(time.Millisecond))

	cfg := wazero.NewModuleConfig().
		WithName(m.Name).
		WithArgs(append([]string{m.Name}, m.Args...)...).
		WithEnv("WASI_LISTEN_ADDR", addr). // preview 1 has no getsockname
		WithStdin(os.Stdin).
		WithStdout(os.Stdout).
		WithStderr(os.Stderr).
		WithSysWalltime().WithSysNanotime().WithSysNanosleep().
		WithRandSource(rand.Reader)
	if m.Dir != "" {
		cfg = cfg.WithFSConfig(wazero.NewFSConfig().WithDirMount(m.Dir, "/"))
	}
	// The one capability the module gets on the network: this listener,
	// opened by the host and handed over as file descriptor 3.
	ctx = sock.WithConfig(ctx, sock.NewConfig().WithTCPListener(m.Host, m.Port))
	log.Info("pre-opened listener", "addr", addr, "fd", 3)
	_, err = rt.InstantiateModule(ctx, compiled, cfg)
	var exit *sys.ExitError
	switch {
	case errors.As(err, &exit) && exit.ExitCode() == sys.ExitCodeContextCanceled:
		log.Info("stopped", "reason", "interrupt")
		return nil
	case errors.As(err, &exit) && exit.ExitCode() == 0:
		return nil
	case err != nil:
		return fmt.Errorf("module %s: %w", m.Name, err)
	}
	return nil
}
