package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
)

// ANCHOR: getsockopt
// sockBuf reads SO_RCVBUF and SO_SNDBUF of a connection: what the kernel
// really gave it, which is not always what was asked for.
func sockBuf(c *net.TCPConn) (rcv, snd int, err error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, 0, err
	}
	cerr := raw.Control(func(fd uintptr) {
		rcv, err = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF)
		if err == nil {
			snd, err = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF)
		}
	})
	return rcv, snd, errors.Join(cerr, err)
}

// ANCHOR_END: getsockopt

// sysctl reads a kernel setting, e.g. "net/ipv4/tcp_rmem".
func sysctl(name string) string {
	b, err := os.ReadFile("/proc/sys/" + name)
	if err != nil {
		return "unavailable"
	}
	return strings.Join(strings.Fields(string(b)), " ")
}

// sockbufRows measures the buffer sizes of this machine: the kernel's
// settings, a fresh loopback connection's buffers, and what is left of a
// request for 64 KiB.
func sockbufRows() ([][2]string, error) {
	rows := [][2]string{
		{"net.ipv4.tcp_rmem (min default max)", sysctl("net/ipv4/tcp_rmem")},
		{"net.ipv4.tcp_wmem (min default max)", sysctl("net/ipv4/tcp_wmem")},
		{"net.core.rmem_max", sysctl("net/core/rmem_max")},
		{"net.core.wmem_max", sysctl("net/core/wmem_max")},
	}
	err := withPair(func(client, _ net.Conn) error {
		tc := client.(*net.TCPConn)
		rcv, snd, err := sockBuf(tc)
		if err != nil {
			return err
		}
		rows = append(rows,
			[2]string{"SO_RCVBUF of a new connection", fmt.Sprint(rcv)},
			[2]string{"SO_SNDBUF of a new connection", fmt.Sprint(snd)})
		if err := tc.SetReadBuffer(64 << 10); err != nil {
			return err
		}
		if err := tc.SetWriteBuffer(64 << 10); err != nil {
			return err
		}
		rcv, snd, err = sockBuf(tc)
		rows = append(rows,
			[2]string{"SO_RCVBUF after SetReadBuffer(65536)", fmt.Sprint(rcv)},
			[2]string{"SO_SNDBUF after SetWriteBuffer(65536)", fmt.Sprint(snd)})
		return err
	})
	return rows, err
}
