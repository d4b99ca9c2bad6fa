package main

import (
	"bytes"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// valueRE matches a key=value figure's value, for comparing line shapes.
var valueRE = regexp.MustCompile(`=\S+`)

// shape is a line with its figures blanked out and its spaces squeezed:
// "small writes records=X bytes=X ...".
func shape(line string) string {
	return strings.Join(strings.Fields(valueRE.ReplaceAllString(line, "=X")), " ")
}

// figure reads key=value from line.
func figure(t *testing.T, line, key string) string {
	t.Helper()
	m := regexp.MustCompile(`\b` + key + `=(\S+)`).FindStringSubmatch(line)
	require.NotNil(t, m, "no %s= in %q", key, line)
	return m[1]
}

// TestFiguresConsistent checks testdata/figures.txt, the timings the page
// shows (written by scripts/ch03-figures.sh on an idle machine, so not
// rerun here): it has each command's lines in the shape the program prints
// today, and its figures say what the page says they show.
func TestFiguresConsistent(t *testing.T) {
	data, err := os.ReadFile("testdata/figures.txt")
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	require.Regexp(t, `^# \S+ \S+, \d+ CPUs, \d{4}-\d\d-\d\d; fsync in a directory on \S+$`, lines[0])

	// Each command and the lines it wrote.
	out := map[string][]string{}
	var cmd string
	for _, l := range lines[1:] {
		if c, ok := strings.CutPrefix(l, "$ go run ./ch03-listen-accept "); ok {
			cmd = strings.Fields(c)[0]
			continue
		}
		require.NotEmpty(t, cmd, "a figure before any command: %q", l)
		out[cmd] = append(out[cmd], l)
	}

	// Today's shapes, from short runs of the same lessons.
	var nodelay, writes, fsync bytes.Buffer
	require.NoError(t, nodelayLesson(&nodelay, 3))
	require.NoError(t, writesLesson(&writes, 10))
	require.NoError(t, fsyncLesson(&fsync, t.TempDir(), 2, true))
	for name, now := range map[string]string{"nodelay": nodelay.String(), "writes": writes.String(), "fsync": fsync.String()} {
		nowLines := strings.Split(strings.TrimSpace(now), "\n")
		require.NotEmpty(t, out[name], "no %s figures", name)
		require.LessOrEqual(t, len(out[name]), len(nowLines), "%s: more lines than the program prints", name)
		for i, l := range out[name] {
			assert.Equal(t, shape(nowLines[i]), shape(l), "%s, line %d: not what the program prints today (rerun scripts/ch03-figures.sh)", name, i+1)
		}
	}

	// What the page reads in them.
	dur := func(line, key string) time.Duration {
		d, err := time.ParseDuration(figure(t, line, key))
		require.NoError(t, err)
		return d
	}
	num := func(line, key string) int {
		n, err := strconv.Atoi(figure(t, line, key))
		require.NoError(t, err)
		return n
	}
	nd := out["nodelay"]
	require.Len(t, nd, 2)
	assert.GreaterOrEqual(t, dur(nd[1], "median"), 10*dur(nd[0], "median"), "Nagle: milliseconds instead of microseconds")
	assert.GreaterOrEqual(t, dur(nd[1], "median"), time.Millisecond)

	w := out["writes"]
	require.Len(t, w, 2)
	for _, l := range w {
		assert.Equal(t, num(l, "bytes"), num(l, "received"), "every byte arrives: %q", l)
	}
	assert.Equal(t, 3*num(w[0], "records"), num(w[0], "write_calls"), "small writes: three write calls per record")
	assert.Less(t, 100*num(w[1], "write_calls"), num(w[1], "records"), "bufio.Writer: a few write calls in all")
	assert.Greater(t, dur(w[0], "elapsed"), dur(w[1], "elapsed"))

	f := out["fsync"]
	require.Len(t, f, 2)
	assert.Greater(t, dur(f[1], "elapsed"), 10*dur(f[0], "elapsed"), "an fsync per block costs more than ten times the writes alone")
}
