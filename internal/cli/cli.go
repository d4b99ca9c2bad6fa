// Package cli is the command-line plumbing every chapter shares, so that each
// chapter's main.go can stay short and read as the lesson's table of contents:
//
//   - Main turns SIGINT/SIGTERM into context cancellation (graceful shutdown),
//     logs with log/slog to stderr, and maps errors to exit codes
//     (0 ok, 1 runtime error, 2 usage error).
//   - Dispatch picks a subcommand ("serve", "client", ...) with a default.
//   - Listen opens a TCP listener and explains the most common failure.
//   - Serve runs a server until the first signal, then drains it.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/tcp-in-go/course/internal/serve"
)

// UsageError marks an error in how the program was called. Main exits 2 for it.
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

// Usagef returns a UsageError with a formatted message.
func Usagef(format string, a ...any) error {
	return UsageError{fmt.Errorf(format, a...)}
}

// ExitCode maps an error returned by a command to the process exit status.
func ExitCode(err error) int {
	var ue UsageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		return 2
	default:
		return 1
	}
}

// Main runs a chapter program: run gets the command-line arguments (without
// the program name) and a context that is cancelled by the first SIGINT or
// SIGTERM. A second signal kills the process at once (the first restores
// the default handling), which is what a user pressing Ctrl-C twice
// expects. Main never returns.
func Main(name string, run func(ctx context.Context, args []string) error) {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 1)
	if hasSignals {
		signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	}
	go func() {
		<-sigs
		// Default handling first, then the cancel: by the time the
		// program starts its drain, a second signal already terminates.
		signal.Reset(os.Interrupt, syscall.SIGTERM)
		cancel()
	}()
	err := run(ctx, os.Args[1:])
	cancel()
	code := ExitCode(err)
	if code != 0 {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
	}
	os.Exit(code)
}

// Command is one subcommand of a chapter program.
type Command struct {
	Name    string
	Summary string
	Run     func(ctx context.Context, args []string) error
}

// Dispatch runs the command named by args[0]. With no arguments, or when the
// first argument is a flag, it runs the first command (the chapter's default
// demo) with all the arguments. "-h" or "help" prints the command list.
func Dispatch(ctx context.Context, prog string, args []string, stderr io.Writer, cmds ...Command) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help") {
		printCommands(stderr, prog, cmds)
		return flag.ErrHelp
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return cmds[0].Run(ctx, args)
	}
	for _, c := range cmds {
		if c.Name == args[0] {
			return c.Run(ctx, args[1:])
		}
	}
	printCommands(stderr, prog, cmds)
	return Usagef("unknown command %q", args[0])
}

func printCommands(w io.Writer, prog string, cmds []Command) {
	fmt.Fprintf(w, "usage: %s [command] [flags]\n\ncommands:\n", prog)
	for i, c := range cmds {
		def := ""
		if i == 0 {
			def = " (default)"
		}
		fmt.Fprintf(w, "  %-12s %s%s\n", c.Name, c.Summary, def)
	}
	fmt.Fprintf(w, "\nRun '%s COMMAND -h' for a command's flags.\n", prog)
}

// Parse parses a command's flags. Errors become UsageErrors (exit 2), -h
// returns flag.ErrHelp (exit 0), and stray positional arguments are refused
// unless the command accepts them (allowArgs).
//
// A bad flag makes one line on stderr, the one Main prints
// ("ch01-overview: flag provided but not defined: -bogus (-h lists the
// flags)"): the flag package's own message and usage are held back.
func Parse(fs *flag.FlagSet, args []string, allowArgs bool) error {
	out := fs.Output()
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.SetOutput(out)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(out, "Usage of %s:\n", fs.Name())
		fs.PrintDefaults()
		return err
	}
	if err != nil {
		return UsageError{fmt.Errorf("%w (-h lists the flags)", err)}
	}
	if !allowArgs && fs.NArg() > 0 {
		return Usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// NewFlagSet returns a flag set that reports errors instead of exiting, so
// that tests can run commands in-process.
func NewFlagSet(name string, output io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(output)
	return fs
}

// Listen opens a TCP listener on addr. When the port is taken, the error says
// what to do about it instead of only "address already in use". Under WASI
// (GOOS=wasip1) there is no listen(2): the listener is the socket the host
// pre-opened (preopen_wasip1.go).
func Listen(ctx context.Context, addr string) (net.Listener, error) {
	if ln, ok, err := preopened(addr); ok {
		return ln, err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("listen %s: address already in use (another server running? try -addr 127.0.0.1:0)", addr)
		}
		return nil, err
	}
	return ln, nil
}

// LogListening logs the line tests and scripts wait for: msg=listening
// addr=HOST:PORT, with the real port when addr asked for port 0.
func LogListening(log *slog.Logger, ln net.Listener, attrs ...any) {
	log.Info("listening", append([]any{"addr", ln.Addr().String()}, attrs...)...)
}

// Server is a server with the course's Serve/Shutdown contract
// (internal/serve): Serve returns serve.ErrServerClosed after Shutdown. A
// server with an accept loop of its own (chapter 1's) may instead return
// an error that wraps net.ErrClosed, the closed listener's.
type Server interface {
	Serve(ln net.Listener) error
	Shutdown(ctx context.Context) error
}

// ANCHOR: serve
// Serve runs srv on ln until ctx is cancelled (the first Ctrl-C or SIGTERM,
// see Main), then shuts it down gracefully: no new connections, and open
// ones get up to drain to finish before they are closed. A drain that runs
// out is logged, not an error: the server stopped as asked, so the exit
// status is 0. Serve returns an error only when the listener fails for good.
// attrs are added to the "listening" line.
func Serve(ctx context.Context, log *slog.Logger, ln net.Listener, srv Server, drain time.Duration, attrs ...any) error {
	LogListening(log, ln, attrs...)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err // the listener failed; nothing to drain
	case <-ctx.Done():
	}
	log.Info("draining", openConns(srv, "drain_timeout", drain)...)
	dctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	if err := srv.Shutdown(dctx); err != nil {
		log.Warn("drain timeout; closed the remaining connections", "drain_timeout", drain)
	}
	if err := <-served; !closed(err) {
		return err
	}
	log.Info("stopped")
	return nil
}

// ANCHOR_END: serve

// closed reports whether err is what Serve returns after Shutdown.
func closed(err error) bool {
	return errors.Is(err, serve.ErrServerClosed) || errors.Is(err, net.ErrClosed)
}

// ListenAndServe opens addr with Listen, then runs Serve.
func ListenAndServe(ctx context.Context, log *slog.Logger, addr string, srv Server, drain time.Duration, attrs ...any) error {
	ln, err := Listen(ctx, addr)
	if err != nil {
		return err
	}
	return Serve(ctx, log, ln, srv, drain, attrs...)
}

// openConns adds open=N to attrs when srv can count its connections.
func openConns(srv Server, attrs ...any) []any {
	if c, ok := srv.(interface{ OpenConns() int }); ok {
		return append([]any{"open", c.OpenConns()}, attrs...)
	}
	return attrs
}
