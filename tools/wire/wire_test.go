package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/SCENE.md and docs/src/wire/SCENE.pcap from a new capture")

// pcapDir is where the book links the captures from, for download.
const pcapDir = "../../docs/src/wire"

// TestScenes captures every scene and compares its shape with the golden
// file: for each packet its direction, flags, relative seq and ack, payload
// length, and whether the window is zero. Times and window sizes are left
// out of the comparison (they vary with the machine's load and the
// kernel's buffer tuning); ports never appear (the table names roles).
func TestScenes(t *testing.T) {
	for _, sc := range scenes {
		t.Run(sc.Name, func(t *testing.T) {
			dir := t.TempDir()
			if *update {
				dir = pcapDir
			}
			res, err := Run(context.Background(), sc, dir)
			if errors.Is(err, ErrNoCapture) {
				if os.Getenv("CI") != "" {
					t.Fatalf("CI is set, so the capture must run: %v", err)
				}
				t.Skip("skipping: " + err.Error())
			}
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", sc.Name+".md")
			if *update {
				if err := os.WriteFile(golden, []byte(res.Markdown), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update as root to capture it)", err)
			}
			shapeOf := shape
			if sc.Loose {
				shapeOf = events
			}
			if sc.TLS {
				shapeOf = records
			}
			if diff := cmp.Diff(shapeOf(string(want)), shapeOf(res.Markdown)); diff != "" {
				t.Errorf("%s: the packets differ from %s (-golden +captured):\n%s\ncaptured:\n%s", sc.Name, golden, diff, res.Markdown)
			}
		})
	}
}

// shape keeps, of each table row, the columns a lesson is about:
// direction, flags, seq, ack, length, and "win=0" for a zero window.
func shape(md string) []string {
	var out []string
	for _, line := range strings.Split(md, "\n") {
		cols := strings.Split(line, "|")
		if (len(cols) != 10 && len(cols) != 11) || strings.TrimSpace(cols[1]) == "#" || strings.HasPrefix(strings.TrimSpace(cols[1]), "-") {
			continue
		}
		c := make([]string, len(cols))
		for i := range cols {
			c[i] = strings.TrimSpace(cols[i])
		}
		row := strings.Join([]string{c[3], c[4], "seq=" + c[5], "ack=" + c[6], "len=" + c[8]}, " ")
		if c[7] == "0" {
			row += " win=0"
		}
		if len(c) == 11 && c[9] != "" {
			row += " tls=" + c[9]
		}
		out = append(out, row)
	}
	return out
}

// events is the shape of a Loose scene, whose bulk data takes a varying
// number of segments: the handshake, whether the client's window closes to
// zero, whether the server probes it, and the connection's last packet.
func events(md string) []string {
	rows := shape(md)
	if len(rows) < 4 {
		return rows
	}
	out := append([]string(nil), rows[:3]...)
	zero, probe := false, false
	for _, r := range rows {
		zero = zero || strings.HasPrefix(r, "client → server") && strings.HasSuffix(r, "win=0")
		probe = probe || strings.HasPrefix(r, "server → client ACK (probe)")
	}
	last, _, _ := strings.Cut(rows[len(rows)-1], " seq=")
	return append(out, fmt.Sprintf("client window closes to zero: %v", zero),
		fmt.Sprintf("server sends zero-window probes: %v", probe),
		"last: "+last)
}

// records is the shape of a TLS scene: directions, flags and TLS records,
// without seq, ack and lengths (the server's flight varies by a byte or two:
// an ECDSA signature's DER encoding is 70 to 72 bytes). It keeps the TCP
// handshake and the segments that carry TLS records, then says whether a FIN
// or RST closed the connection: where the client's FIN falls among the
// server's last records (and its close_notify) is a race between the two
// closes, not part of the lesson.
func records(md string) []string {
	closed := false
	var out []string
	for _, r := range shape(md) {
		closed = closed || strings.Contains(r, "FIN") || strings.Contains(r, "RST")
		if !strings.Contains(r, "SYN") && !strings.Contains(r, "tls=") {
			continue
		}
		var keep []string
		for _, f := range strings.Split(r, " ") {
			if !strings.HasPrefix(f, "seq=") && !strings.HasPrefix(f, "ack=") && !strings.HasPrefix(f, "len=") {
				keep = append(keep, f)
			}
		}
		out = append(out, strings.Join(keep, " "))
	}
	return append(out, fmt.Sprintf("then closed by FIN or RST: %v", closed))
}

// TestShapeSeesZeroWindow: the comparison must notice a window that closes.
func TestShapeSeesZeroWindow(t *testing.T) {
	open := "| 1 | 0 | server → client | ACK | 1 | 7 | 65536 | 0 |\n"
	closed := "| 1 | 0 | server → client | ACK | 1 | 7 | 0 | 0 |\n"
	if cmp.Equal(shape(open), shape(closed)) {
		t.Fatal("a zero window is not part of the shape")
	}
	if len(shape(open)) != 1 {
		t.Fatalf("shape(%q) = %q, want one row", open, shape(open))
	}
}
