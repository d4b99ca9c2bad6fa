package main

import (
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/tests/testutil"
)

// inChild runs the calling test again in a child process (this test binary,
// re-executed with -test.run) and reports whether it is that child. Tests
// that lower a process-wide limit (RLIMIT_FSIZE) run there: the limit would
// otherwise hit every file the test process writes meanwhile, go test's own
// log included ("can't write testlog.txt: file too large").
//
//	if !inChild(t) {
//		return // the child ran the test; its result is checked here
//	}
func inChild(t *testing.T) bool {
	t.Helper()
	if os.Getenv("CH05_CHILD_TEST") == t.Name() {
		return true
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "CH05_CHILD_TEST="+t.Name())
	stdout, stderr, err := testutil.RunWithTimeout(t, 60*time.Second, cmd, "")
	require.NoError(t, err, "the child failed:\n%s\n%s", stdout, stderr)
	require.Contains(t, stdout, "--- PASS: "+t.Name(), "the child must run the test, not skip it")
	return false
}
