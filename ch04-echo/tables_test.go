package main

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tables the page includes are written by scripts; these tests check
// that what is committed parses, names the command that made it, and agrees
// with itself (ratios and per-connection figures match their rows, verdicts
// match their ratios), so a hand edit or a half-rewritten table fails.

// tableRows returns the cells of a Markdown table's body rows.
func tableRows(t *testing.T, text string) [][]string {
	t.Helper()
	var rows [][]string
	for _, l := range strings.Split(text, "\n") {
		if !strings.HasPrefix(l, "|") || strings.HasPrefix(l, "|---") {
			continue
		}
		cells := strings.Split(strings.Trim(l, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		rows = append(rows, cells)
	}
	require.NotEmpty(t, rows, "no table")
	return rows[1:] // without the header
}

// number parses the first number in s ("1,234 MiB/s (45% of iperf3)").
func number(t *testing.T, s string) float64 {
	t.Helper()
	m := regexp.MustCompile(`[\d,]+(\.\d+)?`).FindString(s)
	f, err := strconv.ParseFloat(strings.ReplaceAll(m, ",", ""), 64)
	require.NoError(t, err, "no number in %q", s)
	return f
}

func TestBenchTableConsistent(t *testing.T) {
	data, err := os.ReadFile("testdata/bench.md")
	require.NoError(t, err)
	text := string(data)
	require.Regexp(t, "Made by `COUNT=\\d+ BENCHTIME=\\S+ scripts/ch04-bench.sh`", text)

	var iperf float64
	c := map[string]float64{}     // benchmark -> the C reference's figure
	ratio := map[string]float64{} // "server, benchmark" -> its ratio cell
	for _, r := range tableRows(t, text) {
		require.Len(t, r, 4, "row %q", r)
		if strings.HasPrefix(r[1], "iperf3") {
			iperf = number(t, r[2])
		}
		if r[1] == "C epoll reference" {
			c[r[0]] = number(t, r[2])
			assert.Equal(t, "1.00×", r[3])
		}
	}
	for _, r := range tableRows(t, text) {
		if m := regexp.MustCompile(`\((\d+)% of iperf3\)`).FindStringSubmatch(r[2]); m != nil {
			require.Positive(t, iperf, "a percentage of iperf3 needs the iperf3 row")
			assert.InDelta(t, 100*number(t, r[2])/iperf, number(t, m[1]), 1, "row %q", r)
		}
		if r[3] == "" {
			continue
		}
		require.Contains(t, c, r[0], "a ratio needs the C row of %q", r[0])
		got := number(t, r[3])
		ratio[r[1]+", "+r[0]] = got
		want := number(t, r[2]) / c[r[0]] // from rounded figures: allow for the rounding
		assert.InDelta(t, want, got, 0.006+0.005*want, "row %q: its ratio to C", r)
	}

	// Each target line: its ratio is the table's, its verdict follows.
	labels := map[string]string{"PingPong64/conns=50": "Ping-pong 64 B, 50 conns", "Bulk/copy=buffer": "Bulk echo, 64 KiB writes"}
	// Each may give the range of the rounds' ratios (the script writes it
	// since it says so above the lines): the ratio of the medians lies
	// within it, whatever the rounds were.
	targetRE := regexp.MustCompile(`(?m)^- (.+), (\S+): ≥ ([\d.]+)× the C reference: ([\d.]+)×(?: \(rounds ([\d.]+)×–([\d.]+)×\))?, (PASS|FAIL)$`)
	ranges := strings.Contains(text, "In brackets, the lowest and the highest of the rounds' ratios")
	targets := targetRE.FindAllStringSubmatch(text, -1)
	require.Len(t, targets, 4, "two targets, for the plain and the tuned server")
	for _, m := range targets {
		want, got := number(t, m[3]), number(t, m[4])
		assert.Equal(t, ratio[m[1]+", "+labels[m[2]]], got, "target line %q quotes its row", m[0])
		assert.Equal(t, got >= want, m[7] == "PASS", "target line %q", m[0])
		if !ranges {
			continue
		}
		if !assert.NotEmpty(t, m[5], "target line %q: the table says each line gives its rounds' range", m[0]) {
			continue
		}
		lo, hi := number(t, m[5]), number(t, m[6])
		assert.LessOrEqual(t, lo, hi, "target line %q", m[0])
		assert.True(t, lo-0.005 <= got && got <= hi+0.005, "target line %q: the median ratio lies within the rounds' range", m[0])
	}
}

func TestIdleMemTableConsistent(t *testing.T) {
	data, err := os.ReadFile("testdata/idle-mem.md")
	require.NoError(t, err)
	text := string(data)
	made := regexp.MustCompile("Made by `scripts/ch04-idle-mem.sh (\\d+)`").FindStringSubmatch(text)
	require.NotNil(t, made, "the table names the command that made it")
	rows := tableRows(t, text)
	require.Len(t, rows, 2, "plain and tuned")
	perConn := map[string]float64{}
	for _, r := range rows {
		require.Len(t, r, 7, "row %q", r)
		n := number(t, r[1])
		assert.Equal(t, number(t, made[1]), n, "the command's N is the row's")
		before, after := number(t, r[2]), number(t, r[3]) // MiB
		perConn[r[0]] = number(t, r[4])                   // KiB
		assert.InDelta(t, (after-before)*1024/n, perConn[r[0]], 0.06, "row %q: RSS per connection", r)
	}
	// The page's claim: the tuned server holds at most 4.5 KiB per idle
	// connection, and less than the plain one.
	assert.LessOrEqual(t, perConn["tuned"], 4.5)
	assert.Less(t, perConn["tuned"], perConn["plain"])
}

func TestBenchCPUTableConsistent(t *testing.T) {
	data, err := os.ReadFile("testdata/bench-cpu.md")
	require.NoError(t, err)
	text := string(data)
	require.Regexp(t, "Made by the same run of `scripts/ch04-bench.sh`", text)
	serverEcho := map[string]float64{} // server -> its µs of CPU per echo
	clientEcho := map[string]float64{} // server -> the client's µs of CPU per echo
	var c, busiest float64             // the C reference's echoes/s; the most cores a pair used
	for _, r := range tableRows(t, text) {
		require.Len(t, r, 4, "row %q", r)
		rate := number(t, r[1])
		serverEcho[r[0]], clientEcho[r[0]] = number(t, r[2]), number(t, r[3])
		busiest = max(busiest, (serverEcho[r[0]]+clientEcho[r[0]])*rate/1e6)
		if r[0] == "C epoll reference" {
			c = rate
		}
	}
	// The page: per echo, the C reference spends less CPU than the Go server.
	assert.Less(t, serverEcho["C epoll reference"], serverEcho["Go"], "C's CPU per echo")

	// The ceiling line: the client's cheapest echo, on the machine's cores.
	m := regexp.MustCompile(`against (.+?)\) cost ([\d.]+) µs of CPU: on (\d+) cores it can drive at most ([\d,]+) echoes/s.*?, ([\d.]+)× the C reference's ([\d,]+)`).FindStringSubmatch(text)
	require.NotNil(t, m, "the ceiling line")
	cheapest, cores := number(t, m[2]), number(t, m[3])
	assert.Equal(t, clientEcho[m[1]], cheapest, "the ceiling quotes its row")
	for s, v := range clientEcho {
		assert.GreaterOrEqual(t, v, cheapest, "%s: the ceiling takes the cheapest echo", s)
	}
	ceiling := number(t, m[4])
	assert.InDelta(t, cores*1e6/cheapest, ceiling, 0.01*ceiling, "cores / CPU per echo")
	assert.Equal(t, c, number(t, m[6]), "the C reference's rate is its row's")
	assert.InDelta(t, ceiling/c, number(t, m[5]), 0.01)

	// The page: the two processes together use less than all the cores, so
	// CPU is not what sets the rate.
	used := regexp.MustCompile(`together used at most ([\d.]+) of the (\d+) cores`).FindStringSubmatch(text)
	require.NotNil(t, used, "the cores line")
	assert.InDelta(t, busiest, number(t, used[1]), 0.02, "the busiest pair's cores, from its row")
	assert.Equal(t, cores, number(t, used[2]))
	assert.Less(t, number(t, used[1]), cores, "client and server fill the cores")
}
