package main

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// ANCHOR: kernel-state
// kernelState returns the kernel's state of the TCP socket whose local and
// remote addresses are given (remote 0.0.0.0:0 for a listener). A line of
// /proc/net/tcp looks like
//
//	sl  local_address rem_address   st tx_queue:rx_queue ...
//	 0: 0100007F:22B8 0100007F:D5A2 01 00000000:00000000 ...
//
// with each address as hex IP:PORT. found is false when no socket has that
// 4-tuple: the connection is CLOSED, forgotten by the kernel.
func kernelState(local, remote netip.AddrPort) (s State, found bool, err error) {
	file := "/proc/net/tcp"
	if local.Addr().Is6() {
		file = "/proc/net/tcp6"
	}
	f, err := os.Open(file)
	if err != nil {
		return Closed, false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // the header line
	for sc.Scan() {
		st, match, err := procLineState(sc.Text(), local, remote)
		switch {
		case err != nil:
			return Closed, false, fmt.Errorf("%s: %w", file, err)
		case !match:
			continue
		}
		if s, ok := linuxStates[st]; ok {
			return s, true, nil
		}
		return Closed, false, fmt.Errorf("%s: unknown state %#x", file, st)
	}
	return Closed, false, sc.Err()
}

// ANCHOR_END: kernel-state

// ANCHOR: proc-line
// procLineState returns the state number on one line of /proc/net/tcp, and
// whether the line is the socket with this local and remote address.
func procLineState(line string, local, remote netip.AddrPort) (
	st uint64, match bool, err error) {
	fields := strings.Fields(line)
	if len(fields) < 4 {
		return 0, false, nil
	}
	l, err1 := parseProcAddr(fields[1])
	r, err2 := parseProcAddr(fields[2])
	if err1 != nil || err2 != nil || l != local || r != remote {
		return 0, false, nil
	}
	st, err = strconv.ParseUint(fields[3], 16, 8)
	if err != nil {
		return 0, false, fmt.Errorf("bad state %q", fields[3])
	}
	return st, true, nil
}

// ANCHOR_END: proc-line

// procHex formats an IP the way /proc/net/tcp does (the inverse of
// parseProcAddr's IP part); tests use it.
func procHex(ip netip.Addr) string {
	raw := ip.AsSlice()
	out := make([]byte, len(raw))
	for i := 0; i < len(raw); i += 4 {
		binary.BigEndian.PutUint32(out[i:], binary.NativeEndian.Uint32(raw[i:]))
	}
	return strings.ToUpper(hex.EncodeToString(out))
}
