package main

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tcp-in-go/course/internal/cli"
	"github.com/tcp-in-go/course/internal/testutil"

	"github.com/tcp-in-go/course/internal/exercise"
)

func TestCompareWritesTablesAndCharts(t *testing.T) {
	addr, _ := startEcho(t)
	o := compareOpts{conns: []int{1, 4}, sizes: []int{64}, duration: 150 * time.Millisecond,
		warmup: 50 * time.Millisecond, extra: []*target{
			{Name: "in-test", Addr: addr, Idle: 20},
			{Name: "missing", Argv: []string{filepath.Join(t.TempDir(), "no-such-server")}},
		}}
	var log bytes.Buffer
	cr, err := compare(ctxT(t), o, &log)
	require.NoError(t, err)
	out := t.TempDir()
	require.NoError(t, cr.write(out))

	md, err := os.ReadFile(filepath.Join(out, "results.md"))
	require.NoError(t, err)
	assert.Contains(t, string(md), "| in-test | 1 | 64 |")
	assert.Contains(t, string(md), "| in-test | 4 | 64 |")
	assert.Contains(t, string(md), "| in-test | 20 | 20 | 0 |", "the idle run held every connection")
	assert.Regexp(t, `\*\*Open loop\*\*(.|\n)*\| in-test \| 4 \| \d+000 \| \d+ \|`, string(md), "an open-loop row")
	assert.Regexp(t, `\| in-test \| 4 \| \d+ \| \d+ \| \d+\.\d\d \|`, string(md), "the generator/minimal ratio row")
	assert.Contains(t, string(md), "- missing: ", "a target that cannot start is skipped with its reason")
	assert.Contains(t, log.String(), "compare: skipping missing")

	for _, name := range []string{"latency.svg", "throughput.svg"} {
		b, err := os.ReadFile(filepath.Join(out, name))
		require.NoError(t, err)
		assert.Contains(t, string(b), "in-test", name)
		assert.NotContains(t, string(b), "NaN", name)
		dec := xml.NewDecoder(bytes.NewReader(b))
		for {
			_, err := dec.Token()
			if err == io.EOF {
				break
			}
			require.NoError(t, err, "%s must be well-formed XML", name)
		}
	}
}

// TestCompareStartsServerProcesses runs the reference echo server as a real
// subprocess, the way compare runs every discovered target, so the server's
// resources are sampled from /proc.
func TestCompareStartsServerProcesses(t *testing.T) {
	exercise.Graded(t, "exercise-fds-per-conn")
	if runtime.GOOS != "linux" {
		t.Skip("server sampling reads /proc (Linux)")
	}
	bin := testutil.BuildGo(t, ".")
	o := compareOpts{conns: []int{2}, sizes: []int{64}, duration: 150 * time.Millisecond,
		warmup: 50 * time.Millisecond, extra: []*target{
			{Name: "subprocess", Argv: []string{bin, "echo", "-addr", "127.0.0.1:0"}, Idle: 50},
		}}
	cr, err := compare(ctxT(t), o, io.Discard)
	require.NoError(t, err)
	require.Empty(t, cr.skipped)
	md := cr.markdown()
	assert.Regexp(t, `\| subprocess \| 2 \| 64 \| \d+ .*\| 0 \| \d+% \| [0-9.]+ MB \|`, md, "CPU and RSS sampled")
	assert.Regexp(t, `\| subprocess \| 50 \| 50 \| 0 \| .* \(\d+\.\d per conn\) \|`, md, "descriptors per held connection")
}

func TestDiscoverSkipsWhatIsMissing(t *testing.T) {
	root := t.TempDir() // a checkout with none of the other chapters
	found, skipped := discoverTargets(ctxT(t), root, t.TempDir(), "/path/to/ch07-bench", 100)
	require.Len(t, found, 2)
	assert.Equal(t, "ref-go", found[0].Name)
	assert.Equal(t, 100, found[0].Idle)
	joined := strings.Join(skipped, "\n")
	for _, want := range []string{"ch04-go", "ch06-tls"} {
		assert.Contains(t, joined, want)
	}
}

func TestCompareUsage(t *testing.T) {
	for _, args := range [][]string{{"-conns", "1,x"}, {"-sizes", "0"}, {"-target", "noequals"}} {
		err := runCompare(ctxT(t), args)
		assert.Equal(t, 2, cli.ExitCode(err), "%v: %v", args, err)
	}
}

func TestPythonModelsReadsHelp(t *testing.T) {
	py := testutil.RequireTool(t, "python3")
	script := filepath.Join(t.TempDir(), "echo.py")
	require.NoError(t, os.WriteFile(script, []byte(`import argparse
p = argparse.ArgumentParser()
p.add_argument("cmd")
p.add_argument("--addr")
p.add_argument("--concurrency", choices=["threads", "selectors", "asyncio"])
p.parse_args()
`), 0o644))
	flag, models := pythonModels(ctxT(t), py, script)
	assert.Equal(t, "--concurrency", flag)
	assert.Equal(t, []string{"threads", "selectors", "asyncio"}, models)

	flag, models = pythonModels(ctxT(t), py, filepath.Join(t.TempDir(), "missing.py"))
	assert.Equal(t, "--model", flag, "fallback when the help says nothing")
	assert.Len(t, models, 3)
}
