package main

import (
	"bytes"
	"context"
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
	"github.com/tcp-in-go/course/internal/exercise"
	"github.com/tcp-in-go/course/tests/testutil"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// small is a matrix of short runs for tests: bench is the generator binary.
func small(t *testing.T, extra ...*target) options {
	return options{bench: testutil.BuildGo(t, "../../ch07-bench"), root: testutil.RepoRoot(t),
		conns: []int{1, 4}, sizes: []int{64}, duration: 150 * time.Millisecond,
		warmup: 50 * time.Millisecond, extra: extra}
}

// TestReportWritesTablesAndCharts runs the reference echo server as a real
// subprocess, the way the report runs every discovered target, and checks
// the tables (none wider than eight columns) and the charts.
func TestReportWritesTablesAndCharts(t *testing.T) {
	exercise.Graded(t, "exercise-fds-per-conn")
	o := small(t)
	const name = "reference-echo-with-a-long-name"
	o.extra = []*target{
		{Name: name, Argv: []string{o.bench, "echo", "-addr", "127.0.0.1:0"}, Idle: 20},
		{Name: "missing", Argv: []string{filepath.Join(t.TempDir(), "no-such-server")}},
	}
	var log bytes.Buffer
	rs, err := compare(ctxT(t), o, t.TempDir(), &log)
	require.NoError(t, err)
	out := t.TempDir()
	require.NoError(t, rs.write(out))

	b, err := os.ReadFile(filepath.Join(out, "results.md"))
	require.NoError(t, err)
	md := string(b)
	assert.Regexp(t, `\| `+name+` \| 1 \| 64 \| \d+ \| [0-9.]+ \| 0 \|`, md, "a throughput row")
	assert.Regexp(t, `\| `+name+` \| 4 \| 64 \| [0-9.]+[µm]?s \|`, md, "a latency row")
	assert.Contains(t, md, "| "+name+" | 20 / 20 | 0 |", "the idle run held every connection")
	assert.Regexp(t, `\*\*Open loop\*\*(.|\n)*\| `+name+` \| \d+000 / \d+ \|`, md, "an open-loop row")
	assert.Regexp(t, `\| `+name+` \| 4 \| \d+ \| \d+ \| \d+\.\d\d \|`, md, "the generator/minimal ratio row")
	assert.Contains(t, md, "- missing: ", "a target that cannot start is skipped with its reason")
	assert.Contains(t, log.String(), "skipping missing")
	if runtime.GOOS == "linux" {
		assert.Regexp(t, `\| `+name+` \| 4 \| 64 \| \d+ \| [0-9.]+ \| 0 \| \d+% \| [0-9.]+ MB \|`, md, "CPU and RSS sampled")
		assert.Regexp(t, `\| `+name+` \| 20 / 20 \| 0 \| .* \(1\.\d per conn\) \|`, md, "descriptors per held connection")
	}
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "|") {
			assert.LessOrEqual(t, strings.Count(line, "|")-1, 8, "a table of more than 8 columns: %s", line)
		}
	}
	for _, chart := range []string{"latency.svg", "throughput.svg"} {
		checkSVG(t, filepath.Join(out, chart), name)
	}
}

// checkSVG: the chart is well-formed XML, has no NaN, and its legend holds
// the whole target name (not cut short).
func checkSVG(t *testing.T, path, name string) {
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.NotContains(t, string(b), "NaN", path)
	var texts []string
	dec := xml.NewDecoder(bytes.NewReader(b))
	inText := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		require.NoError(t, err, "%s must be well-formed XML", path)
		switch tok := tok.(type) {
		case xml.StartElement:
			inText = tok.Name.Local == "text"
		case xml.CharData:
			if inText {
				texts = append(texts, strings.TrimSpace(string(tok)))
			}
		}
	}
	assert.Contains(t, texts, name, "%s: the legend names the target in full", path)
}

// TestReportTLSTarget: the ch06 target (built, with certificates from its
// gencert command) is measured over TLS, without the minimal-client ratio,
// which speaks plain TCP.
func TestReportTLSTarget(t *testing.T) {
	tmp := t.TempDir()
	tls, err := tlsTarget(ctxT(t), goBuilder(ctxT(t), testutil.RepoRoot(t), tmp), tmp)
	require.NoError(t, err)
	o := small(t, tls)
	o.conns = []int{2}
	rs, err := compare(ctxT(t), o, tmp, io.Discard)
	require.NoError(t, err)
	require.Empty(t, rs.skipped)
	require.Len(t, rs.pingpong, 1)
	assert.True(t, rs.pingpong[0].res.TLS)
	assert.Zero(t, rs.pingpong[0].res.ErrorTotal)
	assert.Empty(t, rs.ratios)
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

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{"-conns", "1,x"}, {"-sizes", "0"}, {"-target", "noequals"}, {"extra"}} {
		_, err := parseFlags(args)
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
