package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/pprof"
	"time"

	"github.com/tcp-in-go/course/internal/cli"
)

// The load shapes the generator knows.
const (
	ModePingPong = "pingpong"  // closed loop: send, wait for the echo, repeat
	ModeStream   = "stream"    // throughput: write and read concurrently, no waiting
	ModeOpenLoop = "open-loop" // a fixed arrival rate, latency from the intended send time
	ModeConnect  = "connect"   // dial, one echo, close: connections per second
	ModeIdle     = "idle"      // open N connections and hold them (C10K)
)

var modes = []string{ModePingPong, ModeStream, ModeOpenLoop, ModeConnect, ModeIdle}

// Config is one load run. The zero value is not useful; flags or tests fill it.
type Config struct {
	Addr     string
	Mode     string
	Conns    int           // concurrent connections
	Duration time.Duration // measured phase (ignored when Requests > 0, except in idle mode)
	Requests int64         // stop after this many measured requests instead
	Size     int           // bytes per message (chunk size in stream mode)
	Warmup   time.Duration // run, but do not record, for this long first
	Rate     float64       // open-loop: requests per second over all connections
	Timeout  time.Duration // a single operation (dial, echo) that takes longer is an error

	// TLS: a config with the CA pool to trust, nil for plain TCP.
	TLS *tls.Config

	// Server resource sampling (either or both).
	ServerPID  int
	ExpvarURL  string
	SampleRate time.Duration

	// Progress, when non-nil, gets a one-line status each second.
	Progress io.Writer
}

// ANCHOR: tlsconfig
// tlsConfig trusts only the CA in caFile: the server's certificate must chain
// to it and name the host we dial. There is deliberately no "insecure" switch.
func tlsConfig(caFile, addr, serverName string) (*tls.Config, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("read CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
	}
	if serverName == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		serverName = host
	}
	return &tls.Config{RootCAs: pool, ServerName: serverName, MinVersion: tls.VersionTLS12}, nil
}

// ANCHOR_END: tlsconfig

// parseRunFlags turns the command line of the default command into a Config.
func parseRunFlags(args []string, stderr io.Writer) (cfg Config, jsonOut bool, cpuProf, memProf string, err error) {
	fs := cli.NewFlagSet(prog+" run", stderr)
	fs.StringVar(&cfg.Addr, "addr", "", "server address (HOST:PORT); required (ch04-echo listens on 127.0.0.1:65432)")
	fs.StringVar(&cfg.Mode, "mode", ModePingPong, "pingpong, stream, open-loop, connect or idle")
	fs.IntVar(&cfg.Conns, "conns", 10, "connections to open at once")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long the run lasts; the measured phase (idle mode: how long to hold the connections)")
	fs.Int64Var(&cfg.Requests, "requests", 0, "stop after this many measured requests (overrides -duration)")
	fs.IntVar(&cfg.Size, "size", 64, "message size in bytes; chunk size in stream mode")
	fs.DurationVar(&cfg.Warmup, "warmup", time.Second, "unrecorded warm-up before measuring")
	fs.Float64Var(&cfg.Rate, "rate", 1000, "open-loop: requests per second, over all connections")
	fs.DurationVar(&cfg.Timeout, "timeout", 5*time.Second, "give up after this long; bounds each operation, which then counts as an error")
	useTLS := fs.Bool("tls", false, "speak TLS (the ch06 echo); needs -ca")
	ca := fs.String("ca", "", "the only CA to trust (PEM); the one that signed the server's certificate")
	serverName := fs.String("server-name", "", "name to verify in the server's certificate (default: the host of -addr)")
	fs.IntVar(&cfg.ServerPID, "pid", 0, "sample this server process's CPU, memory and fds from /proc (Linux)")
	fs.StringVar(&cfg.ExpvarURL, "expvar", "", "sample the server's expvar endpoint, e.g. http://127.0.0.1:6060/debug/vars")
	fs.BoolVar(&jsonOut, "json", false, "print the result as JSON on stdout")
	fs.StringVar(&cpuProf, "cpuprofile", "", "write the generator's CPU profile to this file")
	fs.StringVar(&memProf, "memprofile", "", "write the generator's heap profile to this file")
	if err = cli.Parse(fs, args, false); err != nil {
		return
	}
	switch {
	case cfg.Addr == "":
		err = cli.Usagef("-addr is required (a load generator has no default target; ch04-echo listens on 127.0.0.1:65432)")
	case !contains(modes, cfg.Mode):
		err = cli.Usagef("unknown -mode %q (want one of %v)", cfg.Mode, modes)
	case cfg.Conns < 1:
		err = cli.Usagef("-conns must be at least 1")
	case cfg.Size < 1 && cfg.Mode != ModeConnect && cfg.Mode != ModeIdle:
		err = cli.Usagef("-size must be at least 1")
	case cfg.Mode == ModeOpenLoop && cfg.Rate <= 0:
		err = cli.Usagef("-rate must be positive")
	case cfg.Mode == ModeStream && cfg.Requests > 0:
		err = cli.Usagef("-requests does not apply to stream mode (a stream has no echoes to count); use -duration")
	case cfg.Requests <= 0 && cfg.Duration <= 0:
		err = cli.Usagef("give a positive -duration or -requests")
	case *useTLS && *ca == "":
		err = cli.Usagef("-tls needs -ca FILE (the CA that signed the server's certificate)")
	}
	if err != nil {
		return
	}
	if *useTLS {
		if cfg.TLS, err = tlsConfig(*ca, cfg.Addr, *serverName); err != nil {
			err = cli.Usagef("%v", err)
		}
	}
	return
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// runLoad is the default command: one load run, a summary, optional profiles.
func runLoad(ctx context.Context, args []string) error {
	return runLoadTo(ctx, args, os.Stdout, os.Stderr)
}

func runLoadTo(ctx context.Context, args []string, stdout io.Writer, stderr *os.File) error {
	cfg, jsonOut, cpuProf, memProf, err := parseRunFlags(args, stderr)
	if err != nil {
		return err
	}
	if isTerminal(stderr) {
		cfg.Progress = stderr
	}
	// ANCHOR: cpuprofile
	if cpuProf != "" {
		f, err := os.Create(cpuProf)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	// ANCHOR_END: cpuprofile
	res, err := Run(ctx, cfg)
	if res == nil {
		return err
	}
	if err != nil { // interrupted (Ctrl-C): still show what was measured
		fmt.Fprintf(stderr, "%s: interrupted: %v; partial result follows\n", prog, err)
	}
	if w := lagWarning(res); w != "" {
		fmt.Fprintf(stderr, "%s: warning: %s\n", prog, w)
	}
	if memProf != "" {
		if err := writeHeapProfile(memProf); err != nil {
			return err
		}
	}
	if jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	} else {
		res.WriteTable(stdout)
	}
	return nothingMeasured(res)
}

// errNothingMeasured is the run's error when not one request was verified:
// the table is printed, but the exit status says the figures are not a
// measurement (as load tools do), so that a script does not chart them.
var errNothingMeasured = errors.New("nothing valid measured")

func nothingMeasured(res *Result) error {
	if res.Requests > 0 {
		return nil
	}
	return fmt.Errorf("%w: no verified echo in %.1fs, %d errors (see the table)",
		errNothingMeasured, res.Elapsed, res.ErrorTotal)
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// isTerminal reports whether f is a terminal (a character device), where a
// live progress line helps; in a pipe or a log file it would be noise.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// ANCHOR: lag-warning
// lagWarning says when an open-loop run's own send lag is large next to the
// latency it measured: then the figures describe the generator's timing as
// much as the server. It returns "" when all is well.
func lagWarning(res *Result) string {
	// ANCHOR: exercise-lag-warning
	if l := res.SendLag; l != nil && l.Count > 0 && l.P99 > res.Latency.P99/2 {
		return fmt.Sprintf("the generator sent late (send lag p99 %s, latency p99 %s): "+
			"these latencies measure the generator's timing (timer granularity, or too little CPU for -rate) "+
			"as much as the server", fmtUS(l.P99), fmtUS(res.Latency.P99))
	}
	// ANCHOR_END: exercise-lag-warning
	return ""
}

// ANCHOR_END: lag-warning
