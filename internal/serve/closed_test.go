package serve

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReason(t *testing.T) {
	deadline := fmt.Errorf("read: %w", timeoutErr{})
	closed := fmt.Errorf("read: %w", net.ErrClosed)
	for _, tc := range []struct {
		err      error
		draining bool
		want     string
	}{
		{nil, false, "eof"},
		{nil, true, "eof"},
		{deadline, false, "idle"},
		{deadline, true, "drained"},
		{closed, false, "error"}, // closed by someone else: not ours
		{closed, true, "shutdown"},
		{io.ErrUnexpectedEOF, false, "error"},
		{io.ErrUnexpectedEOF, true, "error"},
	} {
		assert.Equal(t, tc.want, Reason(tc.err, tc.draining), "%v, draining=%v", tc.err, tc.draining)
	}
}

// TestLogClosed: one line, INFO for an end that is no failure (even with
// the deadline error that caused it), WARN with err for a failure.
func TestLogClosed(t *testing.T) {
	start := time.Now().Add(-time.Second)
	for _, tc := range []struct {
		reason string
		err    error
		want   []string
		not    []string
	}{
		{"eof", nil, []string{"level=INFO", "msg=closed", "reason=eof", "bytes_in=3"}, []string{"err="}},
		{"idle", timeoutErr{}, []string{"level=INFO", "reason=idle"}, []string{"err="}},
		{"error", io.ErrUnexpectedEOF, []string{"level=WARN", "reason=error", `err="unexpected EOF"`}, nil},
		{"too_long", errors.New("line too long"), []string{"level=WARN", "reason=too_long", `err="line too long"`}, nil},
		{"busy", nil, []string{"level=INFO", "reason=busy"}, []string{"err="}},
	} {
		var buf bytes.Buffer
		LogClosed(slog.New(slog.NewTextHandler(&buf, nil)), "127.0.0.1:1", start, tc.reason, tc.err, "bytes_in", 3)
		line := buf.String()
		assert.Equal(t, 1, strings.Count(line, "\n"), "one line: %q", line)
		assert.Contains(t, line, "peer=127.0.0.1:1")
		assert.Regexp(t, `duration=1\.\d+s`, line)
		for _, w := range tc.want {
			assert.Contains(t, line, w)
		}
		for _, n := range tc.not {
			assert.NotContains(t, line, n)
		}
	}
}

// TestCoreLogsAndCountsTheSameReason: the Core writes a connection's two
// lines, and the reason on its closed line is the one the Observer hears:
// a handler's own reason, or the one Reason names from its error (here
// during a drain, so the same deadline error is "drained", not "idle").
func TestCoreLogsAndCountsTheSameReason(t *testing.T) {
	var logs bytes.Buffer
	obs := &countingObserver{}
	core := New(Config{Observer: obs, Log: slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil))})
	ln := listen(t)
	next := make(chan End, 3)
	ch := make(chan error, 1)
	go func() {
		ch <- core.Serve(ln, func(c net.Conn) End {
			_, _ = c.Read(make([]byte, 1))
			return <-next
		})
	}()
	for _, end := range []End{{Reason: "too_long", Err: errors.New("long")}, {Err: timeoutErr{}}} {
		c := dial(t, ln.Addr().String())
		_, err := c.Write([]byte("x"))
		require.NoError(t, err)
		next <- end
		_, err = c.Read(make([]byte, 1))
		require.ErrorIs(t, err, io.EOF, "the Core closes the connection after the handler")
		c.Close()
	}
	require.Eventually(t, func() bool { obs.mu.Lock(); defer obs.mu.Unlock(); return len(obs.reasons) == 2 }, 10*time.Second, time.Millisecond)
	// The Observer hears Closed before the Core forgets the connection:
	// wait until both are gone, so that the next count of 1 is the third.
	require.Eventually(t, func() bool { return core.OpenConns() == 0 }, 10*time.Second, time.Millisecond)
	// The third ends during the drain.
	c := dial(t, ln.Addr().String())
	_, err := c.Write([]byte("x"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return core.OpenConns() == 1 }, 10*time.Second, time.Millisecond)
	core.BeginShutdown()
	next <- End{Err: timeoutErr{}}
	require.NoError(t, core.Wait(bounded(t)))
	select {
	case err := <-ch:
		require.ErrorIs(t, err, ErrServerClosed)
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	assert.Equal(t, []string{"too_long", "idle", "drained"}, obs.reasons)
	out := logs.String()
	assert.Equal(t, 3, strings.Count(out, "msg=accepted peer=127.0.0.1:"), out)
	for _, r := range obs.reasons {
		assert.Contains(t, out, "msg=closed peer=127.0.0.1:", out)
		assert.Contains(t, out, "reason="+r, out)
	}
}
