package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// Packet is one TCP segment as the capture saw it.
type Packet struct {
	Time             time.Time
	SrcPort, DstPort int
	SYN, ACK, FIN    bool
	RST, PSH         bool
	Seq, Ack         uint32
	Window           uint16
	WScale           int // the window scale option, on a SYN; -1 if absent
	Len              int
	Payload          []byte // the payload bytes the capture kept (see -s)
}

// readPcap decodes every TCP segment of a pcap file (the loopback link type
// that tcpdump -i lo writes: Ethernet headers with zero addresses).
func readPcap(file string) ([]Packet, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		return nil, err
	}
	var pkts []Packet
	for {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return pkts, nil // a file still being written ends mid-packet
		}
		if err != nil {
			return pkts, err
		}
		p := gopacket.NewPacket(data, r.LinkType(), gopacket.Default)
		tl, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if !ok {
			continue
		}
		ip, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		if !ok {
			continue
		}
		pk := Packet{Time: ci.Timestamp, SrcPort: int(tl.SrcPort), DstPort: int(tl.DstPort),
			SYN: tl.SYN, ACK: tl.ACK, FIN: tl.FIN, RST: tl.RST, PSH: tl.PSH,
			Seq: tl.Seq, Ack: tl.Ack, Window: tl.Window, WScale: -1,
			// The payload's length from the headers: the capture keeps
			// only the first bytes of each packet.
			Len:     int(ip.Length) - int(ip.IHL)*4 - int(tl.DataOffset)*4,
			Payload: append([]byte(nil), tl.Payload...)}
		for _, o := range tl.Options {
			if o.OptionType == layers.TCPOptionKindWindowScale && len(o.OptionData) == 1 {
				pk.WScale = int(o.OptionData[0])
			}
		}
		pkts = append(pkts, pk)
	}
}

// Row is one line of the packet table, numbers made relative.
type Row struct {
	Ms       int64  // since the first packet, rounded to 10 ms
	FromCli  bool   // client→server
	Flags    string // e.g. "SYN, ACK"
	Seq, Ack uint32 // relative to the sender's and the receiver's ISN
	HasAck   bool
	Window   int // bytes: the raw field scaled by the sender's window scale
	Len      int
	// Probe: an empty segment one byte below what the sender has already
	// sent. Linux sends it to a peer whose window is zero (the zero-window
	// probe, RFC 9293 §3.8.6.1): the answer carries the current window.
	Probe bool
	TLS   string // the TLS records starting in this segment, if asked for
}

// Rows turns the packets of one connection into table rows. The server is
// the side whose port is serverPort. Sequence numbers count from each side's
// initial sequence number (the one in its SYN), as Wireshark's "relative
// sequence numbers" do; the window is the advertised receive window in
// bytes (the field times 2^scale, RFC 7323 §2; never scaled on a SYN).
func Rows(pkts []Packet, serverPort int) []Row {
	var isnC, isnS uint32
	scaleC, scaleS := 0, 0
	for _, p := range pkts {
		if p.SYN {
			sc := max(p.WScale, 0)
			if p.DstPort == serverPort {
				isnC, scaleC = p.Seq, sc
			} else {
				isnS, scaleS = p.Seq, sc
			}
		}
	}
	var rows []Row
	var nextC, nextS uint32 // the next relative seq each side would send
	for _, p := range pkts {
		fromCli := p.DstPort == serverPort
		r := Row{FromCli: fromCli, Flags: flags(p), HasAck: p.ACK, Len: p.Len}
		r.Ms = (p.Time.Sub(pkts[0].Time).Milliseconds() + 5) / 10 * 10
		mine, theirs, scale := isnS, isnC, scaleS
		if fromCli {
			mine, theirs, scale = isnC, isnS, scaleC
		}
		r.Seq = p.Seq - mine
		if p.ACK {
			r.Ack = p.Ack - theirs
		}
		next := &nextS
		if fromCli {
			next = &nextC
		}
		if !p.SYN && !p.RST && p.Len == 0 && int32(r.Seq-*next) < 0 {
			r.Probe = true
		}
		end := r.Seq + uint32(p.Len)
		if p.SYN || p.FIN {
			end++
		}
		if int32(end-*next) > 0 {
			*next = end
		}
		r.Window = int(p.Window)
		if !p.SYN {
			r.Window <<= scale
		}
		rows = append(rows, r)
	}
	return rows
}

func flags(p Packet) string {
	var f []string
	for _, x := range []struct {
		on   bool
		name string
	}{{p.SYN, "SYN"}, {p.FIN, "FIN"}, {p.RST, "RST"}, {p.PSH, "PSH"}, {p.ACK, "ACK"}} {
		if x.on {
			f = append(f, x.name)
		}
	}
	return strings.Join(f, ", ")
}

// Markdown renders the table and the mermaid sequence diagram of a scene.
// Normalised, so that the output is the same on every run: times are
// rounded to 10 ms, ports are replaced by the roles "client" and "server",
// and sequence numbers are relative to each side's ISN.
func Markdown(title string, rows []Row, notes []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "```mermaid\nsequenceDiagram\n    participant C as client\n    participant S as server\n")
	for _, r := range rows {
		arrow := "C->>S"
		if !r.FromCli {
			arrow = "S->>C"
		}
		label := fmt.Sprintf("%s seq=%d", r.Flags, r.Seq)
		if r.HasAck {
			label += fmt.Sprintf(" ack=%d", r.Ack)
		}
		if r.Len > 0 {
			label += fmt.Sprintf(" len=%d", r.Len)
		}
		if r.Window == 0 && !strings.Contains(r.Flags, "RST") {
			label += " win=0"
		}
		if r.Probe {
			label += " (zero-window probe)"
		}
		if r.TLS != "" {
			label += " [" + r.TLS + "]"
		}
		fmt.Fprintf(&b, "    %s: %s\n", arrow, label)
	}
	for _, n := range notes {
		fmt.Fprintf(&b, "    %s\n", n)
	}
	b.WriteString("```\n\n")
	fmt.Fprintf(&b, "**%s**\n\n", title)
	tlsCol := false
	for _, r := range rows {
		tlsCol = tlsCol || r.TLS != ""
	}
	if tlsCol {
		b.WriteString("| # | ms | direction | flags | seq | ack | window | len | TLS records |\n")
		b.WriteString("|--:|---:|-----------|-------|----:|----:|-------:|----:|-------------|\n")
	} else {
		b.WriteString("| # | ms | direction | flags | seq | ack | window | len |\n")
		b.WriteString("|--:|---:|-----------|-------|----:|----:|-------:|----:|\n")
	}
	for i, r := range rows {
		dir := "client → server"
		if !r.FromCli {
			dir = "server → client"
		}
		ack := ""
		if r.HasAck {
			ack = fmt.Sprint(r.Ack)
		}
		fl := r.Flags
		if r.Probe {
			fl += " (probe)"
		}
		fmt.Fprintf(&b, "| %d | %d | %s | %s | %d | %s | %d | %d |", i+1, r.Ms, dir, fl, r.Seq, ack, r.Window, r.Len)
		if tlsCol {
			fmt.Fprintf(&b, " %s |", r.TLS)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// timeWaitNote names the side that enters TIME-WAIT: the one that sent the
// first FIN (the active closer, RFC 9293 §3.3.2). A reset ends the
// connection at once, with no TIME-WAIT.
func timeWaitNote(rows []Row) []string {
	for _, r := range rows {
		if strings.Contains(r.Flags, "RST") {
			return []string{"Note over C,S: RST: both sides drop the connection at once, no TIME-WAIT"}
		}
	}
	for _, r := range rows {
		if strings.Contains(r.Flags, "FIN") {
			if r.FromCli {
				return []string{"Note over C: TIME-WAIT (the client closed first)"}
			}
			return []string{"Note over S: TIME-WAIT (the server closed first)"}
		}
	}
	return nil
}
