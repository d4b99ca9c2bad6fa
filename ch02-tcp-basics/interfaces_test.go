package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/tests/testutil"
)

// One handler, two stream transports: the same client code works on both.
func TestServeStreamOverTCPAndUnix(t *testing.T) {
	for _, tr := range []struct{ network, addr string }{
		{"tcp", "127.0.0.1:0"},
		{"unix", filepath.Join(shortTempDir(t), "s.sock")},
	} {
		t.Run(tr.network, func(t *testing.T) {
			ln, err := net.Listen(tr.network, tr.addr)
			require.NoError(t, err)
			done := make(chan struct{})
			go func() { serveStream(ln); close(done) }()
			defer func() { ln.Close(); <-done }()

			c, err := net.DialTimeout(tr.network, ln.Addr().String(), 5*time.Second)
			require.NoError(t, err)
			defer c.Close()
			require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
			replies, err := exchange(c, []string{"over " + tr.network, "again"})
			require.NoError(t, err)
			assert.Equal(t, []string{"echo: over " + tr.network, "echo: again"}, replies)
		})
	}
}

// startPackets runs servePackets on a UDP socket and returns a client socket
// with a deadline, and the server's address.
func startPackets(t *testing.T) (client net.PacketConn, server net.Addr) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	go func() { servePackets(pc, udpBufSize); close(done) }()
	t.Cleanup(func() { pc.Close(); <-done })
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	return c, pc.LocalAddr()
}

func readDatagram(t *testing.T, c net.PacketConn) string {
	t.Helper()
	buf := make([]byte, 65536)
	n, _, err := c.ReadFrom(buf)
	require.NoError(t, err)
	return string(buf[:n])
}

func TestServePacketsKeepsBoundaries(t *testing.T) {
	c, srv := startPackets(t)
	// Two datagrams sent back to back stay two messages (a stream would
	// happily deliver "onetwo" in one read). Loopback UDP does not lose
	// or reorder these, so the replies come back in order.
	for _, m := range []string{"one", "two"} {
		_, err := c.WriteTo([]byte(m), srv)
		require.NoError(t, err)
	}
	assert.Equal(t, "echo: one\n", readDatagram(t, c))
	assert.Equal(t, "echo: two\n", readDatagram(t, c))
}

// TestServePacketsDropsCR: a datagram keeps its "\r\n" (no scanner drops
// the "\r" as it does on a stream), and the reply still leaves it out.
func TestServePacketsDropsCR(t *testing.T) {
	c, srv := startPackets(t)
	_, err := c.WriteTo([]byte("telnet\r\n"), srv)
	require.NoError(t, err)
	assert.Equal(t, "echo: telnet\n", readDatagram(t, c))
}

func TestServePacketsTruncatesALongDatagram(t *testing.T) {
	c, srv := startPackets(t)
	long := strings.Repeat("a", udpBufSize) + strings.Repeat("b", udpBufSize)
	_, err := c.WriteTo([]byte(long), srv)
	require.NoError(t, err)
	// The server read only udpBufSize bytes; the b's are gone for good.
	assert.Equal(t, "echo: "+strings.Repeat("a", udpBufSize)+"\n", readDatagram(t, c))

	// And the next datagram is read whole: the lost bytes do not spill over.
	_, err = c.WriteTo([]byte("next"), srv)
	require.NoError(t, err)
	assert.Equal(t, "echo: next\n", readDatagram(t, c))
}

func TestInterfacesTranscript(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out strings.Builder
	require.NoError(t, interfacesDemo(ctx, &out, shortTempDir(t)))
	if runtime.GOOS != "linux" {
		t.Skip("the transcript is Linux's: other systems name Unix sockets and report UDP errors differently")
	}
	testutil.Golden(t, "testdata/interfaces.golden", testutil.Normalize(out.String()))
}

// shortTempDir is a temporary directory with a short path: a Unix socket's
// path is limited to about 100 bytes, and t.TempDir's can be longer on macOS.
func shortTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ch02")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
