//go:build unix

package cli

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSecondSignalExitsAtOnce: the first Ctrl-C starts a graceful drain;
// a second one ends the process at once, however long the drain would
// take. The test runs Main in a child process (this test binary with
// CLI_MAIN=1) whose "drain" ignores the context for a minute.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	if os.Getenv("CLI_MAIN") == "1" {
		Main("drainer", func(ctx context.Context, _ []string) error {
			fmt.Println("running")
			<-ctx.Done()
			fmt.Println("draining")
			time.Sleep(time.Minute) // a drain that takes long
			return nil
		})
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(exe, "-test.run=^TestSecondSignalExitsAtOnce$")
	cmd.Env = append(os.Environ(), "CLI_MAIN=1")
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	lines := bufio.NewScanner(out)
	require.True(t, lines.Scan())
	require.Equal(t, "running", lines.Text())

	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	require.True(t, lines.Scan())
	require.Equal(t, "draining", lines.Text(), "the first signal starts the drain")
	begin := time.Now()
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee)
		ws := ee.Sys().(syscall.WaitStatus)
		assert.True(t, ws.Signaled() && ws.Signal() == syscall.SIGINT, "killed by the second SIGINT, got %v", err)
		assert.Less(t, time.Since(begin), 5*time.Second)
	case <-time.After(10 * time.Second):
		t.Fatal("a second Ctrl-C did not end the process")
	}
}
