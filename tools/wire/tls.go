package main

import (
	"fmt"
	"strings"
)

// tlsRecords names, for each segment, the TLS records that start in it
// (RFC 8446 §5.1: a 5-byte header, content type, version, length), and
// for a handshake record in the clear its message type (§4). A record may
// span segments: per direction, the bytes still owed to the record in
// progress are skipped. After the ServerHello, TLS 1.3 encrypts the
// handshake: those records travel as application_data (type 23).
func tlsRecords(pkts []Packet, rows []Row, serverPort int) {
	owed := map[bool]int{}
	for i, p := range pkts {
		if p.Len == 0 {
			continue
		}
		fromCli := p.DstPort == serverPort
		data := p.Payload // what the capture kept of it
		off := owed[fromCli]
		var names []string
		for off+5 <= p.Len && off+5 <= len(data) {
			typ, n := data[off], int(data[off+3])<<8|int(data[off+4])
			name := recordName(typ)
			if typ == 22 && off+5 < len(data) {
				name = handshakeName(data[off+5])
			}
			names = append(names, name)
			off += 5 + n
		}
		owed[fromCli] = max(off-p.Len, 0)
		rows[i].TLS = compact(names)
	}
}

func recordName(t byte) string {
	switch t {
	case 20:
		return "ChangeCipherSpec"
	case 21:
		return "Alert"
	case 22:
		return "Handshake"
	case 23:
		return "ApplicationData"
	}
	return fmt.Sprintf("type %d", t)
}

func handshakeName(t byte) string {
	switch t {
	case 1:
		return "ClientHello"
	case 2:
		return "ServerHello"
	}
	return fmt.Sprintf("Handshake %d", t)
}

// compact writes repeated names once, with a count: "ApplicationData ×4".
func compact(names []string) string {
	var out []string
	for i := 0; i < len(names); {
		j := i
		for j < len(names) && names[j] == names[i] {
			j++
		}
		if j-i > 1 {
			out = append(out, fmt.Sprintf("%s ×%d", names[i], j-i))
		} else {
			out = append(out, names[i])
		}
		i = j
	}
	return strings.Join(out, ", ")
}
