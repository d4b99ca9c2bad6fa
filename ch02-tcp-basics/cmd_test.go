package main

import (
	"errors"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/tests/testutil"
)

// These tests run the built program as a student would.

func TestCommandServeClientAndSignal(t *testing.T) {
	bin := testutil.BuildGo(t, ".")
	for _, mode := range [][]string{{"serve"}, {"serve", "-raw"}} {
		t.Run(strings.Join(mode, " "), func(t *testing.T) {
			if mode[len(mode)-1] == "-raw" && !rawSupported {
				t.Skip("the raw-syscall server is Linux-only")
			}
			p := testutil.StartProcess(t, exec.Command(bin, append(mode, "-addr", "127.0.0.1:0")...))
			out, errOut, err := testutil.RunWithTimeout(t, 30*time.Second,
				exec.Command(bin, "client", "-addr", p.Addr), "one\ntwo\n")
			require.NoError(t, err, errOut)
			assert.Equal(t, "echo: one\necho: two\n", out)

			require.NoError(t, p.Signal(syscall.SIGTERM, 10*time.Second), "graceful shutdown exits 0")
			logs := p.Output()
			for _, want := range []string{"msg=listening", "step=\"4 accept\"", "step=\"5 read/write\"", "step=\"6 close\"", "lines=2", "msg=draining", "msg=stopped"} {
				assert.Contains(t, logs, want)
			}
			assert.NotContains(t, logs, "err=<nil>", "a clean close logs no error")
		})
	}
}

func TestCommandInteropGoClientPythonServer(t *testing.T) {
	bin := testutil.BuildGo(t, ".")
	p := testutil.StartPython(t, "ch02_tcp_server.py")
	out, errOut, err := testutil.RunWithTimeout(t, 30*time.Second,
		exec.Command(bin, "client", "-addr", p.Addr), "from go\n\nbye\n")
	require.NoError(t, err, errOut)
	assert.Equal(t, "echo: from go\necho: \necho: bye\n", out)
	require.NoError(t, p.Signal(syscall.SIGTERM, 10*time.Second), "the Python server exits 0 on SIGTERM")
}

func TestCommandUsageErrors(t *testing.T) {
	bin := testutil.BuildGo(t, ".")
	for _, args := range [][]string{{"nosuch"}, {"serve", "-nosuchflag"}, {"serve", "extra"}} {
		_, errOut, err := testutil.RunWithTimeout(t, 30*time.Second, exec.Command(bin, args...), "")
		var ee *exec.ExitError
		require.True(t, errors.As(err, &ee), "%v: %v", args, err)
		assert.Equal(t, 2, ee.ExitCode(), "%v: %s", args, errOut)
	}
}

func TestCommandPortInUse(t *testing.T) {
	bin := testutil.BuildGo(t, ".")
	p := testutil.StartProcess(t, exec.Command(bin, "-addr", "127.0.0.1:0"))
	_, errOut, err := testutil.RunWithTimeout(t, 30*time.Second, exec.Command(bin, "-addr", p.Addr), "")
	var ee *exec.ExitError
	require.True(t, errors.As(err, &ee), "%v", err)
	assert.Equal(t, 1, ee.ExitCode())
	assert.Contains(t, errOut, "address already in use (another server running?")
}

func TestCommandDemos(t *testing.T) {
	bin := testutil.BuildGo(t, ".")
	live := "TIME-WAIT for 2*MSL"
	if runtime.GOOS != "linux" {
		live = "Linux-only"
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"states"}, live},
		{[]string{"states", "-model"}, "11 states, 20 transitions"},
		{[]string{"interfaces"}, "no handshake, so no error"},
		{[]string{"pool", "-clients", "8", "-requests", "5", "-max", "4", "-min-idle", "2", "-idle-timeout", "30s",
			"-timeout", "1s", "-threshold", "2", "-cooldown", "20ms"}, "the trial dial worked"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			out, errOut, err := testutil.RunWithTimeout(t, 60*time.Second, exec.Command(bin, tc.args...), "")
			require.NoError(t, err, errOut)
			assert.Contains(t, out, tc.want)
		})
	}
	_, _, err := testutil.RunWithTimeout(t, 30*time.Second, exec.Command(bin, "pool", "-max", "-1"), "")
	var ee *exec.ExitError
	require.True(t, errors.As(err, &ee), "%v", err)
	assert.Equal(t, 2, ee.ExitCode(), "a bad pool flag is a usage error")
}
