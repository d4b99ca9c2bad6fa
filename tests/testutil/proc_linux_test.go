package testutil

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestChildDiesWithTheTest: a process started by StartProcess is killed by
// the kernel when the test process dies without running its cleanups (as
// under SIGKILL, or go test's timeout). The test runs itself as that test
// process (TESTUTIL_PARENT=1), which starts a child and prints its pid;
// then it kills the parent and waits for the child to go.
func TestChildDiesWithTheTest(t *testing.T) {
	if os.Getenv("TESTUTIL_PARENT") == "1" {
		p := StartProcess(t, exec.Command("sh", "-c", "echo msg=listening addr=127.0.0.1:1 >&2; exec sleep 60"))
		fmt.Println(p.Cmd.Process.Pid)
		time.Sleep(time.Minute) // killed by the outer test long before
		return
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	parent := exec.Command(exe, "-test.run=^TestChildDiesWithTheTest$")
	parent.Env = append(os.Environ(), "TESTUTIL_PARENT=1")
	out, err := parent.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, parent.Start())
	sc := bufio.NewScanner(out)
	require.True(t, sc.Scan(), "the parent printed no pid")
	pid, err := strconv.Atoi(sc.Text())
	require.NoError(t, err)
	require.NoError(t, syscall.Kill(pid, 0), "the child runs")
	require.NoError(t, parent.Process.Kill())
	_ = parent.Wait()
	require.Eventually(t, func() bool { return syscall.Kill(pid, 0) != nil }, 10*time.Second, 10*time.Millisecond,
		"the child outlived its killed parent")
}
