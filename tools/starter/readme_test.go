package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/tests/testutil"
)

// The README's Grading section lists, for each chapter with a server, the
// command that grades another implementation through its address:
//
//	CH01_ADDR=127.0.0.1:9000 go test ./ch01-overview -run Conformance -v
//
// The tests below read those lines from README.md itself, so the README and
// what is tested cannot drift apart.

// gradingCommand is one of those lines.
type gradingCommand struct {
	Line string
	Env  [][2]string // the assignments before "go", in order
	Args []string    // after "go"
}

// addrVar is the command's address variable: CH01_ADDR, ECHO_ADDR...
func (c gradingCommand) addrVar() string {
	for _, kv := range c.Env {
		if strings.HasSuffix(kv[0], "_ADDR") {
			return kv[0]
		}
	}
	return ""
}

func (c gradingCommand) env(name string) string {
	for _, kv := range c.Env {
		if kv[0] == name {
			return kv[1]
		}
	}
	return ""
}

var commandRE = regexp.MustCompile(`^((?:[A-Z][A-Z0-9_]*=\S+ )+)go (test .*)$`)

// gradingCommands returns the grading command lines of a README's console
// blocks (under its "Grading" heading, for the course's README).
func gradingCommands(readme string) []gradingCommand {
	var out []gradingCommand
	inBlock := false
	for _, line := range strings.Split(readme, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "```"):
			inBlock = !inBlock && trimmed == "```console"
			continue
		case !inBlock:
			continue
		}
		m := commandRE.FindStringSubmatch(trimmed)
		if m == nil {
			continue
		}
		c := gradingCommand{Line: trimmed, Args: strings.Fields(m[2])}
		for _, a := range strings.Fields(m[1]) {
			k, v, _ := strings.Cut(a, "=")
			c.Env = append(c.Env, [2]string{k, v})
		}
		out = append(out, c)
	}
	return out
}

// readmeCommands reads the course README's grading commands.
func readmeCommands(t *testing.T) []gradingCommand {
	t.Helper()
	data, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	_, grading, ok := strings.Cut(string(data), "\n## Grading\n")
	require.True(t, ok, "README.md has no Grading section")
	grading, _, _ = strings.Cut(grading, "\n## ")
	cmds := gradingCommands(grading)
	require.NotEmpty(t, cmds, "README.md's Grading section shows no grading command")
	return cmds
}

// hook is what it takes to grade a chapter's servers through its address
// variable: the course's Go server and Python twin (correct), and a server
// known to be broken for this chapter's rubric, with the check it fails.
type hook struct {
	pkg, script string
	args        func(t *testing.T, starter string, c gradingCommand, python bool) []string
	broken      string // a course package whose server speaks another protocol
	fails       string // the check the broken server fails first
}

var hooks = map[string]hook{
	"CH01_ADDR": {pkg: "ch01-overview", script: "ch01_overview.py", broken: "ch04-echo", fails: "QuietOnLines"}, // an echo server answers
	"CH02_ADDR": {pkg: "ch02-tcp-basics", script: "ch02_tcp_server.py", broken: "ch01-overview", fails: "OneLine"},
	"CH03_ADDR": {pkg: "ch03-listen-accept", script: "ch03_heartbeat.py", broken: "ch04-echo", fails: "Ping"}, // PING comes back as PING
	"ECHO_ADDR": {pkg: "ch04-echo", script: "ch04_echo.py", broken: "ch01-overview", fails: "SingleByte"},     // nothing comes back
	"CH05_ADDR": {pkg: "ch05-filexfer", script: "ch05_filexfer.py", broken: "ch04-echo", fails: "SendOne",
		args: func(t *testing.T, starter string, c gradingCommand, python bool) []string {
			dir := filepath.Join(starter, c.env("CH05_DIR"))
			require.NoError(t, os.MkdirAll(dir, 0o755))
			return []string{flagName("dir", python), dir}
		}},
	"CH06_ADDR": {pkg: "ch06-tls", script: "ch06_tls.py", broken: "ch04-echo", fails: "TLS13WithALPN", // no TLS at all
		args: func(t *testing.T, starter string, c gradingCommand, python bool) []string {
			certs := filepath.Join(starter, filepath.Dir(c.env("CH06_CA")))
			return []string{flagName("cert", python), filepath.Join(certs, "server.pem"), flagName("key", python), filepath.Join(certs, "server-key.pem")}
		}},
}

// flagName is a flag's spelling in Go (-dir) or in the Python twin (--dir).
func flagName(name string, python bool) string {
	if python {
		return "--" + name
	}
	return "-" + name
}

// Every chapter with an address hook has its command in the README, and
// the student's README lists the same commands: fast, no E2E needed.
func TestReadmeListsEveryGradingCommand(t *testing.T) {
	cmds := readmeCommands(t)
	seen := map[string]bool{}
	for _, c := range cmds {
		v := c.addrVar()
		_, known := hooks[v]
		assert.True(t, known, "%q: no end-to-end test knows how to start a server for %s", c.Line, v)
		seen[v] = true
		require.GreaterOrEqual(t, len(c.Args), 2, c.Line)
		assert.Equal(t, "./"+hooks[v].pkg, c.Args[1], "%q grades another chapter than %s's", c.Line, v)
	}
	for v := range hooks {
		assert.True(t, seen[v], "README.md shows no command for %s", v)
	}
	student := gradingCommands(string(studentREADME))
	var lines, studentLines []string
	for _, c := range cmds {
		lines = append(lines, c.Line)
	}
	for _, c := range student {
		studentLines = append(studentLines, c.Line)
	}
	assert.Equal(t, lines, studentLines, "README.student.md lists other grading commands than README.md")
}

var (
	topPassRE = regexp.MustCompile(`(?m)^--- PASS: (\w+) `)
	subPassRE = regexp.MustCompile(`(?m)^\s+--- PASS: \w+/`)
	topSkipRE = regexp.MustCompile(`(?m)^--- SKIP: (\w+) `)
)

// TestReadmeGradingCommands runs each of the README's grading commands in a
// fresh starter copy, as a student would: against the course's own Go
// server and its Python twin (each must pass, with nothing but the external
// server's checks run), and against a server known to be broken for that
// rubric (it must fail, and the output must name the failing check).
func TestReadmeGradingCommands(t *testing.T) {
	root, _ := course(t)
	cmds := readmeCommands(t)
	starter := filepath.Join(t.TempDir(), "starter")
	_, err := Write(root, starter, false)
	require.NoError(t, err)
	// The servers under test are the course's own, built from the course
	// (solutions in); the starter only grades them.
	var certs string
	for _, c := range cmds {
		if ca := c.env("CH06_CA"); ca != "" {
			certs = filepath.Join(starter, filepath.Dir(ca))
			out, err := exec.Command(testutil.BuildGo(t, "../../ch06-tls"), "gencert", "-dir", certs).CombinedOutput()
			require.NoError(t, err, "gencert: %s", out)
		}
	}
	for _, c := range cmds {
		h := hooks[c.addrVar()]
		t.Run(c.addrVar(), func(t *testing.T) {
			t.Parallel()
			extra := func(python bool) []string {
				if h.args == nil {
					return nil
				}
				return h.args(t, starter, c, python)
			}
			goSrv := testutil.StartProcess(t, exec.Command(testutil.BuildGo(t, "../../"+h.pkg),
				append([]string{"serve", "-addr", "127.0.0.1:0"}, extra(false)...)...))
			out, err := runGrading(t, starter, c, goSrv.Addr)
			assertGraded(t, c, "the course's Go server", out, err)

			py := testutil.StartPython(t, h.script, append([]string{"serve"}, extra(true)...)...)
			out, err = runGrading(t, starter, c, py.Addr)
			assertGraded(t, c, "the course's Python twin", out, err)

			bad := testutil.StartProcess(t, exec.Command(testutil.BuildGo(t, "../../"+h.broken), "serve", "-addr", "127.0.0.1:0"))
			out, err = runGrading(t, starter, c, bad.Addr)
			require.Error(t, err, "%s passes against %s's server:\n%s", c.Line, h.broken, out)
			failRE := regexp.MustCompile(`(?m)^\s*--- FAIL: \S+/` + regexp.QuoteMeta(h.fails) + ` \(`)
			assert.Regexp(t, failRE, out, "%s against %s's server: the output does not name the failing check %s", c.Line, h.broken, h.fails)
			t.Logf("%s against %s's server fails %s, as it should", c.addrVar(), h.broken, h.fails)
		})
	}
}

// runGrading runs a README command in the starter copy, its address
// variable pointing at addr.
func runGrading(t *testing.T, starter string, c gradingCommand, addr string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", c.Args...)
	cmd.Dir = starter
	cmd.Env = os.Environ()
	for _, kv := range c.Env {
		v := kv[1]
		if kv[0] == c.addrVar() {
			v = addr
		}
		cmd.Env = append(cmd.Env, kv[0]+"="+v)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	t.Logf("%s (at %s): %v in %s", c.Line, addr, errOrOK(err), time.Since(start).Round(100*time.Millisecond))
	return out.String(), err
}

func errOrOK(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

// assertGraded checks a run against a correct server: it passed, ran the
// external server's checks, and ran nothing else (every other test of the
// pattern skipped, saying why).
func assertGraded(t *testing.T, c gradingCommand, what, out string, err error) {
	t.Helper()
	if !assert.NoError(t, err, "%s against %s:\n%s", c.Line, what, out) {
		return
	}
	passed := topPassRE.FindAllStringSubmatch(out, -1)
	assert.Len(t, passed, 1, "%s against %s: one test, the external server's checks, should run:\n%s", c.Line, what, out)
	assert.Regexp(t, subPassRE, out, "%s against %s: no check ran", c.Line, what)
	for _, m := range topSkipRE.FindAllStringSubmatch(out, -1) {
		assert.Regexp(t, regexp.MustCompile(`is set: grading that \w+ only`), out, "%s skipped %s without saying why", c.Line, m[1])
	}
	assert.NotContains(t, out, "--- FAIL", fmt.Sprintf("%s against %s", c.Line, what))
}
