package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
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
	if err := readProcStatus(pid, s); err != nil {
		return err
	}
	if fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil {
		s.fds = int64(len(fds)) // one entry per open descriptor
	}
	return nil
}

// ANCHOR_END: proc

// ANCHOR: proc-status
// readProcStatus reads the resident memory and the thread count from
// /proc/PID/status, a "Name: value" line each.
func readProcStatus(pid int, s *sample) error {
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
	return nil
}

// ANCHOR_END: proc-status
