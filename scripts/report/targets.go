package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// A target is one echo server the report measures: a command it
// starts (on 127.0.0.1:0, in its own process, so that the generator and the
// server do not share a Go runtime) or an address of a server already running.
type target struct {
	Name   string
	Argv   []string // command to start; it must log "msg=listening addr=HOST:PORT"
	Addr   string   // or: an address to use as is
	CAFile string   // TLS targets: the CA that signed the server's certificate
	Idle   int      // connections for the C10K (idle) run; 0: none
}

// server is a started target.
type server struct {
	cmd    *exec.Cmd
	addr   string
	pid    int
	mu     sync.Mutex
	stderr strings.Builder
	done   chan struct{}
}

var listeningRE = regexp.MustCompile(`msg=listening .*?addr=(\S+)`)

// start runs t's command and waits (up to 20 s) for its listening line.
func (t *target) start(ctx context.Context) (*server, error) {
	if t.Addr != "" {
		return &server{addr: t.Addr, done: make(chan struct{})}, nil
	}
	cmd := exec.CommandContext(ctx, t.Argv[0], t.Argv[1:]...)
	cmd.Stdout = io.Discard
	pipe, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, pid: cmd.Process.Pid, done: make(chan struct{})}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			s.mu.Lock()
			s.stderr.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addrc <- strings.Trim(m[1], `"`):
				default:
				}
			}
		}
		_ = cmd.Wait()
		close(s.done)
	}()
	select {
	case s.addr = <-addrc:
		return s, nil
	case <-s.done:
		return nil, fmt.Errorf("exited before listening: %s", s.tail())
	case <-time.After(20 * time.Second):
		s.stop()
		return nil, fmt.Errorf("did not log msg=listening within 20s: %s", s.tail())
	}
}

func (s *server) tail() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	lines := strings.Split(strings.TrimSpace(s.stderr.String()), "\n")
	return strings.Join(lines[max(0, len(lines)-3):], " | ")
}

// stop sends SIGTERM (graceful shutdown), then kills after 5 s.
func (s *server) stop() {
	if s.cmd == nil {
		return
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		_ = s.cmd.Process.Kill()
	}
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// discoverTargets lists the echo servers that exist in the repository now,
// building the Go ones. What it cannot find or build it reports in skipped.
func discoverTargets(ctx context.Context, root, tmp, bench string, idle int) (found []*target, skipped []string) {
	found = append(found,
		&target{Name: "ref-go", Argv: []string{bench, "echo", "-addr", "127.0.0.1:0"}, Idle: idle},
		// io.Copy holds a pipe per waiting connection: three descriptors
		// each, so its idle run stays small enough for the fd limit.
		&target{Name: "ref-go-splice", Argv: []string{bench, "echo", "-splice", "-addr", "127.0.0.1:0"}, Idle: min(idle, 2000)})

	build := goBuilder(ctx, root, tmp)
	exists := func(p string) bool { _, err := os.Stat(filepath.Join(root, p)); return err == nil }

	if exists("ch04-echo/main.go") {
		if bin, err := build("ch04-echo"); err != nil {
			skipped = append(skipped, "ch04-go: "+err.Error())
		} else {
			found = append(found, &target{Name: "ch04-go", Argv: []string{bin, "-addr", "127.0.0.1:0"}, Idle: idle})
		}
	} else {
		skipped = append(skipped, "ch04-go: ch04-echo/ is not in this checkout")
	}

	if py, err := exec.LookPath("python3"); err != nil {
		skipped = append(skipped, "ch04 Python models: python3 not found")
	} else if !exists("python/ch04_echo.py") {
		skipped = append(skipped, "ch04 Python models: python/ch04_echo.py is not in this checkout")
	} else {
		script := filepath.Join(root, "python", "ch04_echo.py")
		flag, models := pythonModels(ctx, py, script)
		for _, model := range models {
			found = append(found, &target{Name: "ch04-py-" + model,
				Argv: []string{py, "-u", script, "serve", flag, model, "--addr", "127.0.0.1:0"}})
		}
	}

	if exists("ch06-tls/main.go") {
		t, err := tlsTarget(ctx, build, tmp)
		if err != nil {
			skipped = append(skipped, "ch06-tls: "+err.Error())
		} else {
			found = append(found, t)
		}
	} else {
		skipped = append(skipped, "ch06-tls: ch06-tls/ is not in this checkout")
	}
	return found, skipped
}

// goBuilder returns a function that builds a package of the repository at
// root (e.g. "ch04-echo") into tmp and returns the executable's path.
func goBuilder(ctx context.Context, root, tmp string) func(pkg string) (string, error) {
	return func(pkg string) (string, error) {
		bin := filepath.Join(tmp, filepath.Base(pkg))
		cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./"+pkg)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("go build ./%s: %v: %s", pkg, err, strings.TrimSpace(string(out)))
		}
		return bin, nil
	}
}

// tlsTarget builds ch06-tls, makes certificates with its gencert command and
// finds the CA, certificate and key files it wrote.
func tlsTarget(ctx context.Context, build func(string) (string, error), tmp string) (*target, error) {
	bin, err := build("ch06-tls")
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(tmp, "certs")
	if out, err := exec.CommandContext(ctx, bin, "gencert", "-dir", dir).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("gencert: %v: %s", err, strings.TrimSpace(string(out)))
	}
	pems, _ := filepath.Glob(filepath.Join(dir, "*.pem"))
	var ca, cert, key string
	for _, p := range pems {
		b := strings.ToLower(filepath.Base(p))
		switch {
		case strings.Contains(b, "ca") && !strings.Contains(b, "key"):
			ca = p
		case strings.Contains(b, "server") && strings.Contains(b, "key"):
			key = p
		case strings.Contains(b, "server"):
			cert = p
		}
	}
	if ca == "" || cert == "" || key == "" {
		return nil, errors.New("could not tell the CA, server certificate and key apart in " + strings.Join(pems, ", "))
	}
	return &target{Name: "ch06-tls", CAFile: ca,
		Argv: []string{bin, "serve", "-cert", cert, "-key", key, "-addr", "127.0.0.1:0"}}, nil
}

// choicesRE finds an argparse option with choices in a help text, such as
// "--model {threads,selectors,asyncio}".
var choicesRE = regexp.MustCompile(`(--[a-z][a-z-]*) \{([a-z0-9_,-]+)\}`)

// pythonModels asks the Python echo server's help which option selects its
// concurrency model and what the models are, instead of guessing; it falls
// back to "--model threads|selectors|asyncio" (the ch04 issue's three).
func pythonModels(ctx context.Context, py, script string) (flag string, models []string) {
	out, _ := exec.CommandContext(ctx, py, script, "serve", "-h").CombinedOutput()
	for _, m := range choicesRE.FindAllStringSubmatch(string(out), -1) {
		choices := strings.Split(m[2], ",")
		for _, c := range choices {
			if c == "asyncio" || c == "selectors" || c == "threads" || c == "threading" {
				return m[1], choices
			}
		}
	}
	return "--model", []string{"threads", "selectors", "asyncio"}
}
