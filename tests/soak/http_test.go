package soak

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/tests/testutil"
)

// The HTTP listeners beside the echo server (-metrics-addr, -debug-addr, and
// the Python twin's --metrics-addr) share its process and its descriptors,
// and -metrics-addr may be open to the network. Each is bounded as
// internal/httpserve bounds Go's (the Python twin copies the bounds): a
// request must arrive within the read timeout from its first byte, a
// keep-alive connection may wait the idle timeout for its next request, and
// only so many connections are served at once.

// httpTarget is one HTTP listener under test, with its bounds.
type httpTarget struct {
	name     string
	maxConns int
	read     time.Duration // the whole request
	idle     time.Duration // between keep-alive requests
	path     string        // a path it answers 200
	// start runs a fresh echo server with the listener on 127.0.0.1:0 and
	// returns the process and the listener's address.
	start func(t *testing.T) (*testutil.Process, string)
}

// listenerAddr waits for the line that announces an HTTP listener
// (msg="metrics listening" addr=...) and returns its address.
func listenerAddr(t *testing.T, p *testutil.Process, what string) string {
	t.Helper()
	out := p.WaitOutput(t, `msg="`+what+` listening"`, 30*time.Second)
	m := regexp.MustCompile(`msg="` + what + ` listening" addr=(\S+)`).FindStringSubmatch(out)
	require.NotNil(t, m, "no address in %q's line", what)
	return m[1]
}

func httpTargets(full bool) []httpTarget {
	goEcho := func(flag, what string) func(t *testing.T) (*testutil.Process, string) {
		return func(t *testing.T) (*testutil.Process, string) {
			bin := testutil.BuildGo(t, filepath.Join(testutil.RepoRoot(t), "ch04-echo"))
			p := testutil.StartProcess(t, exec.Command(bin, "serve", "-addr", "127.0.0.1:0", flag, "127.0.0.1:0"))
			return p, listenerAddr(t, p, what)
		}
	}
	pyEcho := func(model string) func(t *testing.T) (*testutil.Process, string) {
		return func(t *testing.T) (*testutil.Process, string) {
			p := testutil.StartProcess(t, testutil.PythonCmd(t, "ch04_echo.py", "serve", "--addr", "127.0.0.1:0",
				"--model", model, "--metrics-addr", "127.0.0.1:0"))
			return p, listenerAddr(t, p, "metrics")
		}
	}
	list := []httpTarget{
		// internal/httpserve.Defaults, and the debug server's own limits.
		{name: "go metrics", maxConns: 32, read: 5 * time.Second, idle: 30 * time.Second, path: "/metrics",
			start: goEcho("-metrics-addr", "metrics")},
		{name: "go debug", maxConns: 8, read: 5 * time.Second, idle: 30 * time.Second, path: "/debug/vars",
			start: goEcho("-debug-addr", "debug")},
		// python/ch04_echo.py: HTTP_MAX_CONNS and the HTTP_*_TIMEOUTs.
		{name: "py metrics threads", maxConns: 32, read: 5 * time.Second, idle: 30 * time.Second, path: "/metrics",
			start: pyEcho("threads")},
	}
	if full {
		for _, model := range []string{"selectors", "asyncio"} {
			list = append(list, httpTarget{name: "py metrics " + model, maxConns: 32, read: 5 * time.Second,
				idle: 30 * time.Second, path: "/metrics", start: pyEcho(model)})
		}
	}
	return list
}

const (
	colHalfSent  = "half-sent cut after"
	colDribble   = "dribbler cut after"
	colIdle      = "idle keep-alive cut after"
	colHTTPFlood = "flood: fds held, echoes served"
)

// An httpCheck runs against a fresh server p whose HTTP listener is at
// addr (base: the server's descriptors before the check), and returns the
// figure for the table, or an error saying what went wrong. It must not
// call t: the checks run in goroutines of their own, all at once.
type httpCheck func(tg httpTarget, p *testutil.Process, addr string, base int) (string, error)

// TestSoakHTTP runs, against each HTTP listener, a fresh server per check,
// and all the checks at once (the idle timeout is 30 s): half-sent
// requests, a request sent a byte a second, idle keep-alive connections,
// and a flood of silent connections during which the echo server must keep
// serving.
func TestSoakHTTP(t *testing.T) {
	_ = mode(t) // skips unless SOAK is set
	full := os.Getenv("SOAK") == "full"
	flood := 300
	if full {
		flood = 2000
	}
	checks := []struct {
		name, col string
		run       httpCheck
	}{
		{"half-sent", colHalfSent, halfSent},
		{"dribble", colDribble, dribble},
		{"idle", colIdle, idleKeepAlive},
		{"flood", colHTTPFlood, func(tg httpTarget, p *testutil.Process, addr string, base int) (string, error) {
			return floodHTTP(tg, p, addr, base, flood)
		}},
	}
	type job struct {
		tg             httpTarget
		name, col, res string
		err            error
	}
	var jobs []*job
	var wg sync.WaitGroup
	for _, tg := range httpTargets(full) {
		for _, c := range checks {
			p, addr := tg.start(t) // in the test's goroutine: it may fail the test
			base := baseFDs(t, server{name: tg.name}, p)
			j := &job{tg: tg, name: c.name, col: c.col}
			jobs = append(jobs, j)
			wg.Go(func() { j.res, j.err = c.run(tg, p, addr, base) })
		}
	}
	wg.Wait()
	tb := &table{rows: map[string]map[string]string{}, cols: []string{colHalfSent, colDribble, colIdle, colHTTPFlood}}
	var order []string
	for _, j := range jobs {
		if len(order) == 0 || order[len(order)-1] != j.tg.name {
			order = append(order, j.tg.name)
		}
		t.Run(strings.ReplaceAll(j.tg.name, " ", "_")+"/"+j.name, func(t *testing.T) {
			if j.err != nil {
				t.Errorf("%s: %v (%s)", j.tg.name, j.err, j.res)
				j.res = "FAIL(" + j.res + ")"
			}
			tb.set(j.tg.name, j.col, j.res)
		})
	}
	fmt.Printf("\nsoak HTTP listeners (SOAK=%s): a cell says FAIL(...) where the check failed\n", os.Getenv("SOAK"))
	tb.print(os.Stdout, order)
}

// halfSent sends the start of a request line and nothing more, on four
// connections: each must be closed once the read timeout has passed.
func halfSent(tg httpTarget, _ *testutil.Process, addr string, _ int) (string, error) {
	conns, failed := dialMany(addr, 4)
	defer closeAll(conns)
	worst := waitAllClosed(conns, func(c net.Conn) error {
		if _, err := io.WriteString(c, "GET "+tg.path+" HT"); err != nil {
			return err
		}
		return readUntilClosed(c, tg.read+15*time.Second)
	})
	res := fmt.Sprintf("%.1fs (read timeout %v)", worst.Seconds(), tg.read)
	switch {
	case failed > 0:
		return res, fmt.Errorf("%d dial errors", failed)
	case worst >= tg.read+3*time.Second:
		return res, errors.New("a half-sent request outlives the read timeout")
	}
	return res, nil
}

// dribble sends a request one byte a second (no single wait is long; the
// whole request would take 40 s) on four connections: the read timeout
// bounds the whole request, so each is cut once it has passed.
func dribble(tg httpTarget, _ *testutil.Process, addr string, _ int) (string, error) {
	conns, failed := dialMany(addr, 4)
	defer closeAll(conns)
	request := "GET " + tg.path + " HTTP/1.1\r\nHost: a-very-slow-client.example\r\n\r\n"
	worst := waitAllClosed(conns, func(c net.Conn) error {
		for i := range len(request) {
			_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.WriteString(c, request[i:i+1]); err != nil {
				return err // cut off
			}
			// Not synchronisation: the dribble is the attack.
			time.Sleep(time.Second)
		}
		return errors.New("the whole request arrived: not cut off")
	})
	res := fmt.Sprintf("%.1fs (read timeout %v)", worst.Seconds(), tg.read)
	switch {
	case failed > 0:
		return res, fmt.Errorf("%d dial errors", failed)
	case worst >= tg.read+4*time.Second:
		return res, errors.New("a dribbled request outlives the read timeout")
	}
	return res, nil
}

// idleKeepAlive makes one request on each of four keep-alive connections,
// reads the answer, and then says nothing: each must be closed once the
// idle timeout has passed.
func idleKeepAlive(tg httpTarget, _ *testutil.Process, addr string, _ int) (string, error) {
	conns, failed := dialMany(addr, 4)
	defer closeAll(conns)
	var mu sync.Mutex
	var problems []error
	worst := waitAllClosed(conns, func(c net.Conn) error {
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, "GET "+tg.path+" HTTP/1.1\r\nHost: soak\r\n\r\n"); err != nil {
			return err
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
		}
		if err != nil {
			mu.Lock()
			problems = append(problems, fmt.Errorf("GET %s: %w", tg.path, err))
			mu.Unlock()
			return err
		}
		return readUntilClosed(c, tg.idle+15*time.Second)
	})
	res := fmt.Sprintf("%.1fs (idle timeout %v)", worst.Seconds(), tg.idle)
	switch {
	case failed > 0:
		return res, fmt.Errorf("%d dial errors", failed)
	case len(problems) > 0:
		return res, errors.Join(problems...)
	case worst >= tg.idle+5*time.Second:
		return res, errors.New("an idle keep-alive outlives the idle timeout")
	}
	return res, nil
}

// floodHTTP opens n silent connections to the HTTP listener at once. The
// process must hold no more than the listener's cap of them (the rest wait
// in the kernel's queue, or are dropped there), and the echo server must go
// on serving new clients meanwhile.
func floodHTTP(tg httpTarget, p *testutil.Process, addr string, base, n int) (string, error) {
	pid := p.Cmd.Process.Pid
	conns, _ := dialMany(addr, n)
	defer closeAll(conns)
	held := 0
	count := func() int {
		ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		if err != nil {
			return 0
		}
		held = max(held, len(ents)-base)
		return len(ents) - base
	}
	// Until the count holds still (the listener has taken all it will).
	for last, same := count(), 0; same < 20; same++ {
		time.Sleep(50 * time.Millisecond) // polling the descriptor count
		if v := count(); v != last {
			last, same = v, 0
		}
	}
	// While the flood holds its connections, new echo clients are served.
	served, slowest := 0, time.Duration(0)
	var probeErr error
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for range 20 {
		<-tick.C
		begin := time.Now()
		if probeErr = probe(server{}, p.Addr); probeErr != nil {
			break
		}
		served++
		slowest = max(slowest, time.Since(begin))
		count()
	}
	res := fmt.Sprintf("%d of %d held (cap %d), %d/20 echoes, slowest %.0fms",
		held, len(conns), tg.maxConns, served, slowest.Seconds()*1000)
	// A few descriptors of slack: the probes' own connections, a Python
	// thread's socket being closed.
	switch {
	case held > tg.maxConns+4:
		return res, errors.New("the listener holds more than its cap")
	case probeErr != nil:
		return res, fmt.Errorf("the echo server stopped serving during the flood: %w", probeErr)
	case slowest >= 2*time.Second:
		return res, errors.New("an echo during the flood took long")
	}
	return res, nil
}

// readUntilClosed reads (and discards) from c until the server closes it,
// failing if that takes longer than limit.
func readUntilClosed(c net.Conn, limit time.Duration) error {
	_ = c.SetReadDeadline(time.Now().Add(limit))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("still open after %v", limit)
	}
	return nil // EOF or a reset: closed by the server
}
