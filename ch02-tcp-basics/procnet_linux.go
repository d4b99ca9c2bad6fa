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

// ANCHOR: linux-states
// linuxStates maps the state numbers of /proc/net/tcp (include/net/tcp_states.h)
// to the model. Linux spells them FIN_WAIT2, SYN_RECV, CLOSE...; ss and
// netstat print the same names.
var linuxStates = map[uint64]State{
	0x01: Established, 0x02: SynSent, 0x03: SynReceived, 0x04: FinWait1,
	0x05: FinWait2, 0x06: TimeWait, 0x07: Closed, 0x08: CloseWait,
	0x09: LastAck, 0x0A: Listen, 0x0B: Closing,
	0x0C: SynReceived, // NEW_SYN_RECV: a request socket, half way through the handshake
}

// ANCHOR_END: linux-states

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
func procLineState(line string, local, remote netip.AddrPort) (st uint64, match bool, err error) {
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

// ANCHOR: parse-proc-addr
// parseProcAddr decodes "0100007F:22B8". The IP is the kernel's in-memory
// bytes printed as 32-bit words in the machine's byte order (so 127.0.0.1 is
// 0100007F on x86); the port is plain big-endian hex.
func parseProcAddr(s string) (netip.AddrPort, error) {
	ipHex, portHex, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("bad address %q", s)
	}
	raw, err := hex.DecodeString(ipHex)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, fmt.Errorf("bad address %q", s)
	}
	ip := make([]byte, len(raw))
	for i := 0; i < len(raw); i += 4 {
		binary.NativeEndian.PutUint32(ip[i:], binary.BigEndian.Uint32(raw[i:]))
	}
	port, err := strconv.ParseUint(portHex, 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("bad port in %q", s)
	}
	addr, _ := netip.AddrFromSlice(ip)
	return netip.AddrPortFrom(addr.Unmap(), uint16(port)), nil
}

// ANCHOR_END: parse-proc-addr

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
