package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// benchRow is a row of a table of testdata/bench.md: its label and its
// cells, a figure or "—" (not measured in that run).
type benchRow struct {
	label string
	cells []string
}

// benchTables reads the tables of bench.md, keyed by the first cell of
// each row.
func benchTables(t *testing.T) map[string]benchRow {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "bench.md"))
	require.NoError(t, err)
	rows := map[string]benchRow{}
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "|---") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		rows[cells[0]] = benchRow{cells[0], cells[1:]}
	}
	return rows
}

// figure parses a cell: a number, or ok false for "—".
func figure(t *testing.T, cell string) (float64, bool) {
	t.Helper()
	if cell == "—" {
		return 0, false
	}
	f, err := strconv.ParseFloat(strings.TrimSuffix(cell, "×"), 64)
	require.NoError(t, err, "cell %q", cell)
	return f, true
}

// TestBenchTableConsistent checks what the page "What TLS costs" reads
// from the table that scripts/ch06-bench.sh writes: one row per key
// exchange the benchmark measures; with the same key exchange, a resumed
// handshake is faster than a full one; 1000 full handshakes take under
// two seconds; the hybrid post-quantum exchange
// costs more than X25519 alone; TLS echoes fewer bytes per second than
// plain TCP; and each ratio is the quotient of its row. A figure the
// run did not measure ("—") is skipped, and logged.
func TestBenchTableConsistent(t *testing.T) {
	rows := benchTables(t)
	data, err := os.ReadFile(filepath.Join("testdata", "bench.md"))
	require.NoError(t, err)
	assert.Regexp(t, regexp.MustCompile("^Measured by `scripts/ch06-bench.sh` \\(`go test -bench \\. "), string(data))

	full := map[string]float64{}
	for label, group := range map[string]string{"X25519MLKEM768 (Go's default)": "X25519MLKEM768", "X25519": "X25519"} {
		row, ok := rows[label]
		require.True(t, ok, "no row for %s: the benchmark measures it (BenchmarkHandshake)", label)
		require.Len(t, row.cells, 3, label)
		f, fok := figure(t, row.cells[0])
		r, rok := figure(t, row.cells[1])
		if fok {
			full[group] = f
		}
		if !fok || !rok {
			t.Logf("%s: not measured in this run (rerun scripts/ch06-bench.sh on a quiet machine)", label)
			continue
		}
		assert.Greater(t, r, f, "%s: a resumed handshake is faster than a full one with the same key exchange", label)
		ratio, _ := figure(t, row.cells[2])
		assert.Equal(t, fmt.Sprintf("%.2f", r/f), fmt.Sprintf("%.2f", ratio), "%s: resumed ÷ full", label)
	}
	// The chapter's -max-conns default (1000) lets that many handshakes in
	// at once: at the slowest full rate, they must take under 2 s, well
	// inside the default -handshake-timeout (10 s).
	for group, rate := range full {
		assert.Less(t, 1000/rate, 2.0, "%s: 1000 full handshakes take %.1f s", group, 1000/rate)
	}
	if h, ok := full["X25519MLKEM768"]; ok {
		if x, ok := full["X25519"]; ok {
			assert.Less(t, h, x, "the hybrid post-quantum key exchange costs more than X25519 alone")
		}
	}

	plain, pok := figure(t, rows["plain TCP"].cells[0])
	tls, tok := figure(t, rows["TLS 1.3"].cells[0])
	require.True(t, pok && tok, "the echo throughput rows")
	assert.Less(t, tls, plain, "TLS costs throughput")
	ratio, _ := figure(t, rows["TLS 1.3"].cells[1])
	assert.Equal(t, fmt.Sprintf("%.2f", tls/plain), fmt.Sprintf("%.2f", ratio), "TLS ÷ plain")
}
