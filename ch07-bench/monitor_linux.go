package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// clockTicks is USER_HZ, the unit of CPU times in /proc/PID/stat. It is 100
// on every Linux architecture Go supports.
const clockTicks = 100

// ANCHOR: proc
// readProc reads a process's CPU time, resident memory, threads and open
// file descriptors from /proc. These are the numbers top and ps show.
func readProc(pid int, s *sample) error {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return fmt.Errorf("server process %d: %w", pid, err)
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// split after the last ')'. utime and stime are fields 14 and 15.
	rest := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	if len(rest) < 13 {
		return fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	utime, _ := strconv.ParseInt(rest[11], 10, 64)
	stime, _ := strconv.ParseInt(rest[12], 10, 64)
	s.cpuTicks = utime + stime

	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return err
	}
	for _, line := range strings.Split(string(status), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "VmRSS:": // in kB
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			s.rss = kb * 1024
		case "Threads:":
			s.threads, _ = strconv.ParseInt(f[1], 10, 64)
		}
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err == nil {
		s.fds = int64(len(fds))
	}
	return nil
}

// ANCHOR_END: proc

// ANCHOR: limits
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

// ANCHOR_END: limits
