// Package testutil holds the test helpers the chapters share: starting a
// server in-process on 127.0.0.1:0, starting a program (a built chapter or a
// Python counterpart) as a subprocess and waiting until it listens, requiring
// an external tool, and golden transcripts.
//
// Nothing here sleeps to synchronise: an in-process listener is ready the
// moment net.Listen returns (the kernel queues connections before Accept is
// called), and a subprocess is ready when it logs "msg=listening addr=...".
package testutil

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// InCI reports whether the tests run under continuous integration, where a
// missing tool is a failure rather than a reason to skip.
func InCI() bool { return os.Getenv("CI") != "" }

// RequireTool returns the path of an external program (python3, mdbook,
// nginx...). When it is missing the test is skipped with a clear message on a
// student's laptop, and fails under CI.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if InCI() {
			t.Fatalf("%s is required under CI but was not found on PATH (scripts/install-tools.sh installs it)", name)
		}
		t.Skipf("skipping: %s not found on PATH (install it, or run scripts/install-tools.sh)", name)
	}
	return path
}

// RepoRoot returns the repository root: the directory whose go.mod is the
// course's own module. Tests of the nested modules (deploy/,
// scripts/report/) find it too, above their own go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if mod, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
			strings.HasPrefix(string(mod), "module github.com/tcp-in-go/course\n") {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("the course's go.mod (module github.com/tcp-in-go/course) not found above the working directory")
		}
		dir = parent
	}
}

// StartServer listens on 127.0.0.1:0 and runs serve(ln) in a goroutine. At
// cleanup it calls shutdown (with a 10 s bound) and waits for serve to
// return, so no goroutine outlives the test. It returns the address to dial.
func StartServer(t testing.TB, serve func(net.Listener) error, shutdown func(context.Context) error) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := shutdown(ctx); err != nil && !errors.Is(err, net.ErrClosed) {
			t.Errorf("shutdown: %v", err)
		}
		select {
		case <-done:
		case <-ctx.Done():
			t.Errorf("server did not return after shutdown")
		}
	})
	return ln.Addr().String()
}

// Dial connects to addr with a 5 s dial timeout, gives the connection an
// overall deadline of 30 s so a broken server fails the test instead of
// hanging it, and closes it at cleanup.
func Dial(t testing.TB, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

var (
	buildMu    sync.Mutex
	buildCache = map[string]string{}
)

// BuildGo builds the Go package pkg (e.g. "." or "./ch04-echo", relative to
// the test's working directory) once per test binary and returns the path of
// the executable.
func BuildGo(t testing.TB, pkg string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	abs, err := filepath.Abs(pkg)
	if err != nil {
		t.Fatal(err)
	}
	if bin, ok := buildCache[abs]; ok {
		return bin
	}
	dir, err := os.MkdirTemp("", "tcpcourse-bin-")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, filepath.Base(abs))
	// Built from its own directory, so that a package of the course builds
	// in the course's module even when the test is in another one (deploy/).
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = abs
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	buildCache[abs] = bin
	return bin
}

// Process is a program started by StartProcess.
type Process struct {
	Cmd  *exec.Cmd
	Addr string // the address it logged with msg=listening

	mu      sync.Mutex
	output  bytes.Buffer
	changed chan struct{} // signalled after each line of output
	waited  chan struct{}
	err     error
}

// Output returns everything the process wrote to stderr so far (and to
// stdout, unless the caller gave cmd a Stdout of its own), in order.
func (p *Process) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.output.String()
}

// WaitOutput waits until the process's output contains substr, failing the
// test after timeout. It returns the output so far.
func (p *Process) WaitOutput(t testing.TB, substr string, timeout time.Duration) string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if out := p.Output(); strings.Contains(out, substr) {
			return out
		}
		select {
		case <-p.changed:
		case <-p.waited:
			if out := p.Output(); strings.Contains(out, substr) {
				return out
			}
			t.Fatalf("process exited without printing %q:\n%s", substr, p.Output())
		case <-deadline:
			t.Fatalf("no %q in the output within %s:\n%s", substr, timeout, p.Output())
		}
	}
}

// Signal sends sig to the process and waits up to timeout for it to exit,
// returning its exit error (nil for status 0).
func (p *Process) Signal(sig os.Signal, timeout time.Duration) error {
	if err := p.Cmd.Process.Signal(sig); err != nil {
		return err
	}
	select {
	case <-p.waited:
		return p.err
	case <-time.After(timeout):
		_ = p.Cmd.Process.Kill()
		<-p.waited
		return errors.New("process did not exit in time after " + sig.String())
	}
}

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.waited }

var listeningRE = regexp.MustCompile(`msg=listening .*?addr=(\S+)`)

// StartProcess starts cmd and waits (up to 30 s) until it writes a line with
// "msg=listening ... addr=HOST:PORT" to stderr. At cleanup it sends SIGTERM
// (then SIGKILL after 10 s). Its output is kept (Output) and shown if the
// test fails. When cmd.Stdout is nil, stdout shares stderr's pipe, so Output
// is the transcript a terminal would show.
func StartProcess(t testing.TB, cmd *exec.Cmd) *Process {
	t.Helper()
	p := &Process{Cmd: cmd, waited: make(chan struct{}), changed: make(chan struct{}, 1)}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = pw
	if cmd.Stdout == nil {
		cmd.Stdout = pw
	}
	dieWithTest(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	pw.Close()
	addrCh := make(chan string, 1)
	readDone := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.output.WriteString(line + "\n")
			p.mu.Unlock()
			select {
			case p.changed <- struct{}{}:
			default:
			}
			if m := listeningRE.FindStringSubmatch(line); m != nil && !sent {
				addrCh <- strings.Trim(m[1], `"`)
				sent = true
			}
		}
		pr.Close()
		close(readDone)
	}()
	go func() {
		p.err = cmd.Wait()
		// The process has exited, but its last lines may still be in the
		// pipe: Done (and Signal) report the exit only once they are read,
		// so Output is complete. A grandchild holding the pipe open must
		// not block this forever, hence the bound.
		select {
		case <-readDone:
		case <-time.After(5 * time.Second):
		}
		close(p.waited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.waited:
		default:
			_ = p.Signal(syscall.SIGTERM, 10*time.Second)
		}
		if t.Failed() {
			t.Logf("stderr of %s:\n%s", filepath.Base(cmd.Path), p.Output())
		}
	})
	select {
	case p.Addr = <-addrCh:
		return p
	case <-p.waited:
		t.Fatalf("%s exited before listening: %v\n%s", cmd.String(), p.err, p.Output())
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not log msg=listening within 30s\n%s", cmd.String(), p.Output())
	}
	return nil
}

// PythonCmd returns an exec.Cmd running python/<script> from the repository
// root with the given arguments. It requires python3 (see RequireTool).
func PythonCmd(t testing.TB, script string, args ...string) *exec.Cmd {
	t.Helper()
	py := RequireTool(t, "python3")
	root := RepoRoot(t)
	cmd := exec.Command(py, append([]string{"-u", filepath.Join(root, "python", script)}, args...)...)
	cmd.Dir = root
	return cmd
}

// StartPython starts a Python counterpart server (python/<script>) on
// 127.0.0.1:0 and returns it once it listens. args come before --addr, so
// they may start with a subcommand ("serve").
func StartPython(t testing.TB, script string, args ...string) *Process {
	t.Helper()
	return StartProcess(t, PythonCmd(t, script, append(args, "--addr", "127.0.0.1:0")...))
}

// RunWithTimeout runs cmd with stdin and returns its stdout and stderr. It
// kills the command if it runs longer than timeout.
func RunWithTimeout(t testing.TB, timeout time.Duration, cmd *exec.Cmd, stdin string) (stdout, stderr string, err error) {
	t.Helper()
	var so, se bytes.Buffer
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = &so, &se
	if err := cmd.Start(); err != nil {
		return "", "", err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-done
		err = errors.New("timed out after " + timeout.String())
	}
	return so.String(), se.String(), err
}
