package main

import (
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// acceptResult is what a blocking accept() returned.
type acceptResult struct {
	fd  int
	err error
}

// blockInAccept listens on a raw blocking socket and starts a thread that
// blocks in accept() on it. It returns once /proc shows that thread inside
// the accept4 system call, so what the test does next happens to a thread
// that is really blocked.
func blockInAccept(t *testing.T) (fd int, addr string, accepted <-chan acceptResult) {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	require.NoError(t, unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}))
	require.NoError(t, unix.Listen(fd, 16))
	sa, err := unix.Getsockname(fd)
	require.NoError(t, err)
	addr = fmt.Sprintf("127.0.0.1:%d", sa.(*unix.SockaddrInet4).Port)

	tids := make(chan int, 1)
	res := make(chan acceptResult, 1)
	go func() {
		runtime.LockOSThread() // the thread dies with the goroutine
		tids <- unix.Gettid()
		cfd, _, err := unix.Accept(fd)
		res <- acceptResult{cfd, err}
	}()
	tid := <-tids
	require.Eventually(t, func() bool { return inSyscall(tid, unix.SYS_ACCEPT4) }, 10*time.Second, time.Millisecond,
		"the thread never blocked in accept4")
	return fd, addr, res
}

// inSyscall reports whether thread tid of this process is blocked in the
// system call nr (the first field of /proc/self/task/TID/syscall).
func inSyscall(tid, nr int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/syscall", tid))
	if err != nil {
		return false
	}
	f := strings.Fields(string(b))
	return len(f) > 0 && f[0] == strconv.Itoa(nr)
}

// TestCloseDoesNotWakeAccept: on Linux, close() on a listening socket does
// not wake a thread blocked in accept() on it. The blocked call holds the
// socket open: a client can still connect, and accept() returns it.
func TestCloseDoesNotWakeAccept(t *testing.T) {
	fd, addr, accepted := blockInAccept(t)
	require.NoError(t, unix.Close(fd))
	select {
	case r := <-accepted:
		t.Fatalf("close() woke accept(): fd=%d err=%v", r.fd, r.err)
	case <-time.After(300 * time.Millisecond): // still blocked: what close() does
	}
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err, "the closed listener still completes handshakes")
	defer c.Close()
	select {
	case r := <-accepted:
		require.NoError(t, r.err)
		assert.NoError(t, unix.Close(r.fd))
	case <-time.After(10 * time.Second):
		t.Fatal("accept() did not return the new connection")
	}
}

// TestShutdownWakesAccept: shutdown() on the listening socket makes the
// blocked accept() fail at once (EINVAL): the way to stop a thread in it.
func TestShutdownWakesAccept(t *testing.T) {
	fd, _, accepted := blockInAccept(t)
	defer unix.Close(fd)
	require.NoError(t, unix.Shutdown(fd, unix.SHUT_RDWR))
	select {
	case r := <-accepted:
		assert.ErrorIs(t, r.err, unix.EINVAL)
	case <-time.After(10 * time.Second):
		t.Fatal("shutdown() did not wake accept()")
	}
}
