package main

import (
	"fmt"
	"os"
	"strings"
	"syscall"
)

// machineLimits reads the kernel settings that decide how far C10K goes on
// this machine, for the results page: descriptors per process and in all,
// the ephemeral port range, the accept backlog cap, socket buffer sizes.
func machineLimits() [][2]string {
	var rows [][2]string
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil {
		rows = append(rows, [2]string{"open files per process (RLIMIT_NOFILE soft/hard)", fmt.Sprintf("%d / %d", rl.Cur, rl.Max)})
	}
	for _, f := range []struct{ path, what string }{
		{"/proc/sys/fs/nr_open", "highest per-process limit root may set (fs.nr_open)"},
		{"/proc/sys/fs/file-max", "open files, whole system (fs.file-max)"},
		{"/proc/sys/net/ipv4/ip_local_port_range", "ephemeral ports (net.ipv4.ip_local_port_range)"},
		{"/proc/sys/net/ipv4/tcp_tw_reuse", "reuse TIME_WAIT ports for new connections (0 off, 1 on, 2 loopback only)"},
		{"/proc/sys/net/core/somaxconn", "listen backlog cap (net.core.somaxconn)"},
		{"/proc/sys/net/ipv4/tcp_rmem", "receive buffer min/default/max bytes (net.ipv4.tcp_rmem)"},
		{"/proc/sys/net/ipv4/tcp_wmem", "send buffer min/default/max bytes (net.ipv4.tcp_wmem)"},
		{"/proc/sys/net/ipv4/tcp_mem", "TCP memory, all sockets, in pages: low/pressure/high (net.ipv4.tcp_mem)"},
	} {
		if b, err := os.ReadFile(f.path); err == nil {
			rows = append(rows, [2]string{f.what, strings.Join(strings.Fields(string(b)), " ")})
		}
	}
	return rows
}
