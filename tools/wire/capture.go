package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ErrNoCapture means this machine cannot capture packets: tcpdump is
// missing, or the process lacks CAP_NET_RAW (run it with sudo).
var ErrNoCapture = errors.New("packet capture needs tcpdump and CAP_NET_RAW (run as root: sudo go run . SCENE)")

// repoRoot finds the course's root module, from which the chapters'
// programs are built.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(b, []byte("module github.com/tcp-in-go/course\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("the course's root go.mod was not found above the working directory")
		}
		dir = parent
	}
}

// buildProgram compiles one chapter (./chNN-name) into dir and returns the
// binary's path.
func buildProgram(ctx context.Context, chapter, dir string) (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, chapter)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./"+chapter)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./%s: %v\n%s", chapter, err, out)
	}
	return bin, nil
}

// addrRE reads the address from the course's "msg=listening addr=…" line.
var addrRE = regexp.MustCompile(`msg=listening addr=(\S+)`)

// Server is a chapter's program running as a server, its log read line by
// line.
type Server struct {
	Addr string
	Port int
	Dir  string // the scene's scratch directory (certificates, …)
	cmd  *exec.Cmd
	log  chan string
	done chan struct{}
}

// startServer runs bin with args (which must listen on 127.0.0.1:0) and
// waits, bounded by ctx, for its listening line.
func startServer(ctx context.Context, bin string, args ...string) (*Server, error) {
	cmd := exec.Command(bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &Server{cmd: cmd, log: make(chan string, 256), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			select {
			case s.log <- sc.Text():
			default: // nobody waits for this line
			}
		}
	}()
	line, err := s.WaitLog(ctx, "msg=listening")
	if err != nil {
		s.Stop()
		return nil, err
	}
	m := addrRE.FindStringSubmatch(line)
	if m == nil {
		s.Stop()
		return nil, fmt.Errorf("no address in %q", line)
	}
	s.Addr = m[1]
	_, port, _ := strings.Cut(s.Addr, ":")
	s.Port, _ = strconv.Atoi(port)
	return s, nil
}

// WaitLog waits for a log line containing want.
func (s *Server) WaitLog(ctx context.Context, want string) (string, error) {
	for {
		select {
		case line := <-s.log:
			if strings.Contains(line, want) {
				return line, nil
			}
		case <-s.done:
			return "", fmt.Errorf("the server exited before logging %q", want)
		case <-ctx.Done():
			return "", fmt.Errorf("no %q in the server's log: %w", want, ctx.Err())
		}
	}
}

// Stop interrupts the server (its graceful shutdown) and waits for it.
func (s *Server) Stop() {
	_ = s.cmd.Process.Signal(os.Interrupt)
	_ = s.cmd.Wait()
}

// Capture is a running tcpdump writing one port's loopback packets to a file.
type Capture struct {
	File string
	cmd  *exec.Cmd
}

// startCapture starts tcpdump on the loopback interface, writing each packet
// to file as it arrives (-U), and returns once tcpdump reports that it is
// capturing (its "listening on" line): from then on, no packet is missed.
func startCapture(ctx context.Context, file string, port, snap int) (*Capture, error) {
	if _, err := exec.LookPath("tcpdump"); err != nil {
		return nil, ErrNoCapture
	}
	// -s keeps only the first snap bytes of each packet: the headers (the
	// payload's length is read from the IP header), so a capture stays a
	// few KiB.
	cmd := exec.Command("tcpdump", "-i", "lo", "-n", "-U", "-s", strconv.Itoa(snap), "-w", file, "tcp port "+strconv.Itoa(port))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var said []string
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				_ = cmd.Wait()
				msg := strings.Join(said, "; ")
				if strings.Contains(msg, "ermission") || strings.Contains(msg, "not permitted") {
					return nil, ErrNoCapture
				}
				return nil, fmt.Errorf("tcpdump stopped: %s", msg)
			}
			said = append(said, line)
			if strings.Contains(line, "listening on") {
				go func() { // keep draining so tcpdump never blocks on stderr
					for range lines {
					}
				}()
				return &Capture{File: file, cmd: cmd}, nil
			}
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return nil, fmt.Errorf("tcpdump did not start capturing: %w", ctx.Err())
		}
	}
}

// WaitFor reads the capture file until done reports that the scene's last
// packet is in it, bounded by ctx (tcpdump -U writes each packet at once,
// but after the program's own log line: the kernel may still be sending).
func (c *Capture) WaitFor(ctx context.Context, done func([]Packet) bool) ([]Packet, error) {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		pkts, err := readPcap(c.File)
		if err == nil && done(pkts) {
			return pkts, nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return pkts, fmt.Errorf("the scene's last packet never came (%d packets so far): %w", len(pkts), ctx.Err())
		}
	}
}

// Stop ends tcpdump and waits for it to flush the file.
func (c *Capture) Stop() {
	_ = c.cmd.Process.Signal(os.Interrupt)
	_ = c.cmd.Wait()
}
