//go:build !linux

package testutil

import "os/exec"

// dieWithTest: only Linux can have the kernel kill a child when its parent
// dies (PR_SET_PDEATHSIG). Elsewhere a child of a killed test is stopped
// by the test's cleanup only, which a SIGKILL skips.
func dieWithTest(*exec.Cmd) {}
