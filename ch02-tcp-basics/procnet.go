package main

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Linux lists every TCP socket in /proc/net/tcp (and /proc/net/tcp6), one
// line each. Reading the file is Linux-only (procnet_linux.go); parsing its
// text is not, so the census of census.go can be tested anywhere.

// ANCHOR: linux-states
// linuxStates maps the state numbers of /proc/net/tcp (include/net/tcp_states.h)
// to the model. Linux spells them FIN_WAIT2, SYN_RECV, CLOSE...; ss and
// netstat print the same names.
var linuxStates = map[uint64]State{
	0x01: Established, 0x02: SynSent, 0x03: SynReceived, 0x04: FinWait1,
	0x05: FinWait2, 0x06: TimeWait, 0x07: Closed, 0x08: CloseWait,
	0x09: LastAck, 0x0A: Listen, 0x0B: Closing,
	0x0C: SynReceived, // NEW_SYN_RECV: a request socket, a handshake half done
}

// ANCHOR_END: linux-states

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
