package main

import (
	"bufio"
	"context"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// sysctl reads a number from /proc/sys (net/ipv4/tcp_syncookies...).
func sysctl(t *testing.T, name string) int {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/" + name)
	require.NoError(t, err)
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	require.NoError(t, err)
	return n
}

// tcpExt reads a counter of the TcpExt lines of /proc/net/netstat (what
// nstat calls TcpExtSyncookiesSent, for example).
func tcpExt(t *testing.T, name string) int64 {
	t.Helper()
	f, err := os.Open("/proc/net/netstat")
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() { // a line of names, then a line of values
		names := strings.Fields(sc.Text())
		if !sc.Scan() {
			break
		}
		values := strings.Fields(sc.Text())
		if len(names) == 0 || names[0] != "TcpExt:" {
			continue
		}
		for i, n := range names {
			if n == name && i < len(values) {
				v, err := strconv.ParseInt(values[i], 10, 64)
				require.NoError(t, err)
				return v
			}
		}
	}
	t.Fatalf("no TcpExt %s in /proc/net/netstat", name)
	return 0
}

// synReceived counts the sockets in SYN-RECEIVED whose local port is port:
// the listener's half-open connections, its SYN queue.
func synReceived(t *testing.T, port uint16) int {
	t.Helper()
	data, err := os.ReadFile("/proc/net/tcp")
	require.NoError(t, err)
	n := 0
	for _, line := range strings.Split(string(data), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		local, err := parseProcAddr(f[1])
		st, _ := strconv.ParseUint(f[3], 16, 8)
		if err == nil && local.Port() == port && linuxStates[st] == SynReceived {
			n++
		}
	}
	return n
}

// TestSYNQueueIsBoundedByTheBacklog: with SYN cookies on (Linux's default),
// a listener's SYN queue holds about as many half-open connections as its
// backlog, far fewer than net.ipv4.tcp_max_syn_backlog; the SYNs beyond it
// are answered with a cookie, and no state is kept for them.
//
// To keep handshakes half open without sending packets by hand (that needs
// root), the listener sets TCP_DEFER_ACCEPT: the kernel then ignores a final
// ACK that carries no data, and the connection stays in the SYN queue
// (SYN-RECEIVED) while the client, its Dial done, believes it is connected.
// A cookie's ACK, though, has no queued request to wait in: the kernel
// rebuilds the connection from it and puts it straight in the accept queue.
func TestSYNQueueIsBoundedByTheBacklog(t *testing.T) {
	const backlog = 4
	if sysctl(t, "net/ipv4/tcp_syncookies") != 1 {
		t.Skip("net.ipv4.tcp_syncookies is not 1 (the default) on this machine")
	}
	maxSyn := sysctl(t, "net/ipv4/tcp_max_syn_backlog")
	require.Greater(t, maxSyn, 2*backlog, "tcp_max_syn_backlog must be larger than the backlog, or the test proves nothing")

	ln, err := ListenRaw("127.0.0.1:0", backlog)
	require.NoError(t, err)
	defer ln.Close()
	require.NoError(t, unix.SetsockoptInt(ln.fd, unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, 30))
	cookies := tcpExt(t, "SyncookiesSent")

	// The SYN queue and the accept queue each hold backlog connections
	// (backlog + 1 on recent kernels): 2*backlog+1 clients fit on any.
	// The clients dial one after the other: SYNs handled at once on two
	// CPUs can both pass the kernel's queue-full check, and overshoot it.
	const clients = 2*backlog + 1
	conns := make([]net.Conn, clients)
	errs := make([]error, clients)
	for i := range clients {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var d net.Dialer
		conns[i], errs[i] = d.DialContext(ctx, "tcp", ln.Addr().String())
		cancel()
	}
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	for i, err := range errs {
		require.NoError(t, err, "client %d: every client's handshake is done on its side", i)
	}

	port := ln.addr.Port()
	var half int
	var queued uint32
	require.Eventually(t, func() bool {
		half = synReceived(t, port)
		queued, _ = listenerQueue(t, ln.fd)
		return half+int(queued) == clients
	}, 10*time.Second, time.Millisecond, "every client is in one queue or the other")
	t.Logf("backlog %d, tcp_max_syn_backlog %d: %d in the SYN queue, %d in the accept queue, %d cookies sent",
		backlog, maxSyn, half, queued, tcpExt(t, "SyncookiesSent")-cookies)
	assert.Contains(t, []int{backlog, backlog + 1}, half, "the SYN queue is bounded by the backlog")
	assert.GreaterOrEqual(t, tcpExt(t, "SyncookiesSent")-cookies, int64(clients-backlog-1),
		"the SYNs beyond it got cookies (SyncookiesSent counts them, for the whole machine)")
}
