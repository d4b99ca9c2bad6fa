package soak

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/tests/testutil"
)

// sizes are the suite's figures for one SOAK mode.
type sizes struct {
	idleClients int           // the idle flood every echo server must hold
	exhaustion  time.Duration // CPU is measured over this much time without descriptors
	receivers   bool          // also run the file receivers
}

// mode reads SOAK ("short" or "full") and skips the test when it is unset.
func mode(t *testing.T) sizes {
	switch os.Getenv("SOAK") {
	case "":
		t.Skip("the reliability suite runs only with SOAK=short or SOAK=full (make soak)")
	case "short":
		if runtime.GOOS != "linux" {
			t.Skip("the soak suite reads /proc: Linux only")
		}
		return sizes{idleClients: 1000, exhaustion: 2 * time.Second}
	case "full":
		if runtime.GOOS != "linux" {
			t.Skip("the soak suite reads /proc: Linux only")
		}
		return sizes{idleClients: 10000, exhaustion: 3 * time.Second, receivers: true}
	}
	t.Fatalf("SOAK=%q: want short or full", os.Getenv("SOAK"))
	return sizes{}
}

// server is one program under test. start runs it on 127.0.0.1:0 with the
// given idle timeout (0: its default), connection limit (0: its default)
// and open-files limit (0: unchanged).
type server struct {
	name     string
	receiver bool // a ch05 receiver (else an echo server)
	hasLimit bool // it has a connection limit flag
	start    func(t *testing.T, idle time.Duration, maxConns, nofile int) *testutil.Process
}

func goServer(pkg string, extra ...string) func(*testing.T, time.Duration, int, int) *testutil.Process {
	return func(t *testing.T, idle time.Duration, maxConns, nofile int) *testutil.Process {
		bin := testutil.BuildGo(t, filepath.Join(testutil.RepoRoot(t), pkg))
		args := append([]string{"serve", "-addr", "127.0.0.1:0"}, extra...)
		if idle > 0 {
			args = append(args, "-idle-timeout", idle.String())
		}
		if maxConns > 0 {
			args = append(args, "-max-conns", strconv.Itoa(maxConns))
		}
		if pkg == "ch05-filexfer" {
			args = append(args, "-dir", t.TempDir())
		}
		return testutil.StartProcess(t, limitFiles(exec.Command(bin, args...), nofile))
	}
}

func pyServer(script string, extra ...string) func(*testing.T, time.Duration, int, int) *testutil.Process {
	return func(t *testing.T, idle time.Duration, maxConns, nofile int) *testutil.Process {
		args := append([]string{"serve", "--addr", "127.0.0.1:0"}, extra...)
		if idle > 0 {
			args = append(args, "--idle-timeout", idle.String()) // a Go duration in both languages
		}
		if maxConns > 0 {
			args = append(args, "--max-conns", strconv.Itoa(maxConns))
		}
		if script == "ch05_filexfer.py" {
			args = append(args, "--dir", t.TempDir())
		}
		return testutil.StartProcess(t, limitFiles(testutil.PythonCmd(t, script, args...), nofile))
	}
}

// limitFiles runs cmd under a shell that first lowers the open-files limit
// (the shell then execs the program, so the pid stays the same).
func limitFiles(cmd *exec.Cmd, nofile int) *exec.Cmd {
	if nofile == 0 {
		return cmd
	}
	args := append([]string{"-c", `ulimit -n "$0" && exec "$@"`, strconv.Itoa(nofile), cmd.Path}, cmd.Args[1:]...)
	c := exec.Command("sh", args...)
	c.Dir = cmd.Dir
	return c
}

func servers(s sizes) []server {
	list := []server{
		{name: "go ch04", hasLimit: true, start: goServer("ch04-echo")},
		{name: "py threads", start: pyServer("ch04_echo.py", "--model", "threads")},
		{name: "py selectors", start: pyServer("ch04_echo.py", "--model", "selectors")},
		{name: "py asyncio", start: pyServer("ch04_echo.py", "--model", "asyncio")},
	}
	if s.receivers {
		list = append(list,
			server{name: "go receiver", receiver: true, hasLimit: true, start: goServer("ch05-filexfer")},
			server{name: "py receiver", receiver: true, hasLimit: true, start: pyServer("ch05_filexfer.py")},
		)
	}
	return list
}

// table collects one figure per server and check, printed at the end.
type table struct {
	mu   sync.Mutex
	rows map[string]map[string]string
	cols []string
}

func (tb *table) set(row, col, v string) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if tb.rows[row] == nil {
		tb.rows[row] = map[string]string{}
	}
	tb.rows[row][col] = v
}

func (tb *table) print(w io.Writer, order []string) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	width := map[string]int{"server": len("server")}
	for _, c := range tb.cols {
		width[c] = len(c)
		for _, r := range tb.rows {
			width[c] = max(width[c], len(r[c]))
		}
	}
	for _, r := range order {
		width["server"] = max(width["server"], len(r))
	}
	line := func(first string, cell func(string) string) {
		fmt.Fprintf(w, "| %-*s |", width["server"], first)
		for _, c := range tb.cols {
			fmt.Fprintf(w, " %-*s |", width[c], cell(c))
		}
		fmt.Fprintln(w)
	}
	line("server", func(c string) string { return c })
	line(strings.Repeat("-", width["server"]), func(c string) string { return strings.Repeat("-", width[c]) })
	for _, r := range order {
		line(r, func(c string) string {
			if v, ok := tb.rows[r][c]; ok {
				return v
			}
			return "n/a"
		})
	}
}

const (
	colHold   = "idle clients held"
	colFlood  = "flood over -max-conns"
	colSilent = "silent / slowloris cut after"
	colNoRead = "non-reader cut after"
	colFD     = "out of fds (limit 64): CPU, accept log lines"
)

func TestSoak(t *testing.T) {
	s := mode(t)
	tb := &table{rows: map[string]map[string]string{}, cols: []string{colHold, colFlood, colSilent, colNoRead, colFD}}
	var order []string
	for _, srv := range servers(s) {
		order = append(order, srv.name)
		t.Run(strings.ReplaceAll(srv.name, " ", "_"), func(t *testing.T) {
			if !srv.receiver {
				t.Run("hold", func(t *testing.T) { tb.set(srv.name, colHold, holdIdle(t, srv, s.idleClients)) })
			}
			if srv.hasLimit {
				t.Run("flood", func(t *testing.T) { tb.set(srv.name, colFlood, floodOverLimit(t, srv)) })
			}
			if srv.receiver {
				t.Run("slowloris", func(t *testing.T) { tb.set(srv.name, colSilent, slowloris(t, srv)) })
			} else {
				t.Run("silent", func(t *testing.T) { tb.set(srv.name, colSilent, silent(t, srv)) })
				t.Run("nonreading", func(t *testing.T) { tb.set(srv.name, colNoRead, nonReading(t, srv)) })
			}
			t.Run("fds", func(t *testing.T) { tb.set(srv.name, colFD, outOfFiles(t, srv, s.exhaustion)) })
		})
	}
	fmt.Printf("\nsoak (SOAK=%s): a cell says FAIL(...) where the check failed\n", os.Getenv("SOAK"))
	tb.print(os.Stdout, order)
}

// ---- the checks ----

// holdIdle opens n clients at once that then say nothing, and waits until
// the server holds all of them (counted as its open descriptors).
func holdIdle(t *testing.T, srv server, n int) string {
	p := srv.start(t, 0, 0, 0)
	pid := p.Cmd.Process.Pid
	base := baseFDs(t, srv, p)
	start := time.Now()
	conns, failed := dialMany(p.Addr, n)
	t.Cleanup(func() { closeAll(conns) })
	held, at := waitStable(t, func() int { return fdCount(t, pid) - base }, n, 60*time.Second)
	res := fmt.Sprintf("%d/%d in %.1fs", held, n, at.Sub(start).Seconds())
	if !assert.Equal(t, n, held, "dial errors: %d", failed) {
		return "FAIL(" + res + ")"
	}
	return res
}

// floodOverLimit opens four times -max-conns clients: the server must hold
// no more than its limit (an echo server leaves the rest in the accept
// queue; a receiver answers them BUSY and closes them), and serve again once
// the flood leaves.
func floodOverLimit(t *testing.T, srv server) string {
	const limit = 16
	p := srv.start(t, 0, limit, 0)
	pid := p.Cmd.Process.Pid
	base := baseFDs(t, srv, p)
	conns, _ := dialMany(p.Addr, 4*limit)
	held, _ := waitStable(t, func() int { return fdCount(t, pid) - base }, 4*limit, 10*time.Second)
	if srv.receiver && held > limit {
		// A receiver accepts a sender over its limit to tell it BUSY, then
		// closes it after a drain bounded to 2 s: while the flood stays
		// connected, what it holds must fall back to the limit.
		deadline := time.Now().Add(10 * time.Second)
		for held = fdCount(t, pid) - base; held > limit && time.Now().Before(deadline); held = fdCount(t, pid) - base {
			time.Sleep(50 * time.Millisecond) // polling the descriptor count
		}
	}
	closeAll(conns)
	start := time.Now()
	err := probeUntil(srv, p.Addr, 10*time.Second)
	res := fmt.Sprintf("held %d of %d, served again in %.2fs", held, 4*limit, time.Since(start).Seconds())
	if !assert.LessOrEqual(t, held, limit) || !assert.NoError(t, err) {
		return "FAIL(" + res + ")"
	}
	return res
}

// silent opens clients that say nothing: the idle timeout must close them.
func silent(t *testing.T, srv server) string {
	const idle = time.Second
	p := srv.start(t, idle, 0, 0)
	conns, _ := dialMany(p.Addr, 20)
	t.Cleanup(func() { closeAll(conns) })
	worst := waitAllClosed(conns, func(c net.Conn) error {
		_ = c.SetReadDeadline(time.Now().Add(15 * time.Second))
		_, err := c.Read(make([]byte, 1))
		return err
	})
	res := fmt.Sprintf("%.1fs (idle %v)", worst.Seconds(), idle)
	if !assert.Less(t, worst, idle+4*time.Second) {
		return "FAIL(" + res + ")"
	}
	return res
}

// slowloris sends a receiver's header one byte every 500 ms (the whole
// header would take 10 s): the receiver must drop it well before, however
// the bytes keep each single read within the idle timeout.
func slowloris(t *testing.T, srv server) string {
	const idle = 2 * time.Second
	p := srv.start(t, idle, 0, 0)
	conns, _ := dialMany(p.Addr, 8)
	t.Cleanup(func() { closeAll(conns) })
	header := append([]byte("FXF1"), make([]byte, 16)...)
	worst := waitAllClosed(conns, func(c net.Conn) error {
		for _, b := range header {
			_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Write([]byte{b}); err != nil {
				return err
			}
			// Not synchronisation: the dribble is the attack.
			time.Sleep(500 * time.Millisecond)
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := io.Copy(io.Discard, c)
		return errors.Join(err, errors.New("the whole header arrived: not dropped"))
	})
	res := fmt.Sprintf("%.1fs (idle %v)", worst.Seconds(), idle)
	if !assert.Less(t, worst, 9*time.Second, "dropped only after the header was complete") {
		return "FAIL(" + res + ")"
	}
	return res
}

// nonReading: clients send and never read the echo. The server must stop
// reading from them (back-pressure) and close them after the idle timeout.
func nonReading(t *testing.T, srv server) string {
	const idle = time.Second
	p := srv.start(t, idle, 0, 0)
	conns, _ := dialMany(p.Addr, 10)
	t.Cleanup(func() { closeAll(conns) })
	block := make([]byte, 64<<10)
	var mu sync.Mutex
	sent := 0
	worst := waitAllClosed(conns, func(c net.Conn) error {
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			_ = c.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
			n, err := c.Write(block)
			mu.Lock()
			sent += n
			mu.Unlock()
			var ne net.Error
			if err != nil && !(errors.As(err, &ne) && ne.Timeout()) {
				return err // reset or broken pipe: the server closed
			}
		}
		return errors.New("still open after 20s")
	})
	res := fmt.Sprintf("%.1fs (idle %v), %d MiB sent", worst.Seconds(), idle, sent>>20)
	if !assert.Less(t, worst, idle+10*time.Second) {
		return "FAIL(" + res + ")"
	}
	return res
}

// outOfFiles runs the server with 64 open files at most and floods it: it
// must back off (little CPU, few log lines), then serve once the flood leaves.
func outOfFiles(t *testing.T, srv server, window time.Duration) string {
	const nofile = 64
	maxConns := 0
	if srv.hasLimit {
		maxConns = 1000 // so that descriptors run out first
	}
	p := srv.start(t, 0, maxConns, nofile)
	pid := p.Cmd.Process.Pid
	logBefore := acceptLines(p.Output())
	conns, _ := dialMany(p.Addr, 200)
	// Wait until it is out of descriptors (or holds all it ever will).
	peak, _ := waitStable(t, func() int { return fdCount(t, pid) }, nofile, 10*time.Second)
	cpu0, wall0 := cpuSeconds(t, pid), time.Now()
	time.Sleep(window) // a measurement window, not synchronisation
	cpu, wall := cpuSeconds(t, pid)-cpu0, time.Since(wall0).Seconds()
	lines := acceptLines(p.Output()) - logBefore
	closeAll(conns)
	start := time.Now()
	err := probeUntil(srv, p.Addr, 10*time.Second)
	res := fmt.Sprintf("%d fds: %.2fs CPU in %.1fs, %d lines, served again in %.2fs",
		peak, cpu, wall, lines, time.Since(start).Seconds())
	// A short listen backlog keeps the flood out (SYNs dropped), and then the
	// check proves nothing: the server must have run out.
	ok := assert.GreaterOrEqual(t, peak, nofile-4, "never ran out of descriptors (listen backlog?)") &&
		assert.Less(t, cpu, 0.25*wall, "spinning") &&
		assert.LessOrEqual(t, lines, 30, "a log line per failed accept?") &&
		assert.NoError(t, err, "not serving after the flood left")
	if !ok {
		return "FAIL(" + res + ")"
	}
	return res
}

// ---- helpers ----

// dialMany opens n connections at once (200 dials in flight at most) and
// returns those that connected and the number that failed.
func dialMany(addr string, n int) ([]net.Conn, int) {
	var mu sync.Mutex
	var conns []net.Conn
	failed := 0
	sem := make(chan struct{}, 200)
	var wg sync.WaitGroup
	for range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c, err := net.DialTimeout("tcp", addr, 10*time.Second)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed++
				return
			}
			conns = append(conns, c)
		})
	}
	wg.Wait()
	return conns, failed
}

func closeAll(conns []net.Conn) {
	for _, c := range conns {
		c.Close()
	}
}

// waitAllClosed runs until(c) for every connection at once; until returns
// when the server has closed c. It returns the longest time that took.
func waitAllClosed(conns []net.Conn, until func(net.Conn) error) time.Duration {
	start := time.Now()
	var mu sync.Mutex
	var worst time.Duration
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() {
			_ = until(c)
			mu.Lock()
			worst = max(worst, time.Since(start))
			mu.Unlock()
		})
	}
	wg.Wait()
	return worst
}

// waitStable polls f until it reaches want, or stops changing for 3 s, or
// timeout passes; it returns the last value and when it last changed.
func waitStable(t *testing.T, f func() int, want int, timeout time.Duration) (int, time.Time) {
	t.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	last, changed := f(), time.Now()
	end := time.Now().Add(timeout)
	for last < want && time.Since(changed) < 3*time.Second && time.Now().Before(end) {
		<-tick.C
		if v := f(); v != last {
			last, changed = v, time.Now()
		}
	}
	return last, changed
}

// probe checks that the server serves a new client: an echo, or for a
// receiver the reply to a header with a bad magic.
func probe(srv server, addr string) error {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if srv.receiver {
		if _, err := c.Write(append([]byte("NOPE"), make([]byte, 16)...)); err != nil {
			return err
		}
		reply, err := io.ReadAll(c)
		if len(reply) == 0 {
			return fmt.Errorf("no reply to a bad header: %w", err)
		}
		return nil
	}
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return err
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	if string(buf) != "ping\n" {
		return fmt.Errorf("echo %q", buf)
	}
	return nil
}

// probeUntil retries probe until it succeeds or timeout passes (the server
// may be in a backoff wait of up to 1 s, or still closing the flood).
func probeUntil(srv server, addr string, timeout time.Duration) error {
	end := time.Now().Add(timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		err := probe(srv, addr)
		if err == nil || time.Now().After(end) {
			return err
		}
		<-tick.C
	}
}

// baseFDs is the server's open descriptors once it has served one client:
// its setup (listener, event loop, wake-up sockets) is complete by then.
func baseFDs(t *testing.T, srv server, p *testutil.Process) int {
	t.Helper()
	require.NoError(t, probeUntil(srv, p.Addr, 10*time.Second))
	// The probe's socket may still be open on the server's side: wait until
	// the count holds still for 300 ms (bounded by the test's own timeout).
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	n, same := fdCount(t, p.Cmd.Process.Pid), 0
	for same < 6 {
		<-tick.C
		if v := fdCount(t, p.Cmd.Process.Pid); v == n {
			same++
		} else {
			n, same = v, 0
		}
	}
	return n
}

// acceptLines counts the log lines about failed accepts (any line that
// mentions accept, a traceback's included, but a connection's first line,
// msg=accepted): a server that logs each failure writes hundreds a second
// while out of descriptors.
func acceptLines(out string) int {
	n := 0
	for line := range strings.Lines(out) {
		if strings.Contains(line, "accept") && !strings.Contains(line, "msg=accepted ") {
			n++
		}
	}
	return n
}

func fdCount(t *testing.T, pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	require.NoError(t, err)
	return len(ents)
}

// cpuSeconds is the user + system CPU time of a process (/proc/PID/stat).
func cpuSeconds(t *testing.T, pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	require.NoError(t, err)
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100 // USER_HZ: 100 on every Linux ABI
}
