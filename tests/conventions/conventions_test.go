package conventions

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/tests/testutil"
)

// The rules, as small tables: CONTRIBUTING.md's conventions.

// A rule is one row of the flag table.
type rule struct {
	kind string // the Go flag's type as -h prints it: string, int, duration
	def  string // the default every program uses, when the table fixes one
	// help is the concept's wording: a flag's help text is one of these, or
	// one of these, "; " and a remark of the program's own ("connections
	// served at once (0: no limit); more are told BUSY"). Two entries are two
	// meanings of one name, told apart by their words (the address a server
	// listens on, or the one a client dials).
	help []string
}

// names: one name per concept, in Go (-name) and Python (--name), with the
// concept's one wording.
var names = map[string]rule{
	"addr": {kind: "string", help: []string{
		"address to listen on (:PORT for all interfaces)",
		"server address (HOST:PORT)",
	}},
	"drain-timeout": {kind: "duration", def: "10s", help: []string{"on SIGINT/SIGTERM, how long open connections may finish"}},
	"idle-timeout": {kind: "duration", help: []string{
		"close a client silent this long (0: never)",
		"close a pooled connection unused this long",                     // ch02's pool
		"give up when the server sends nothing for this long (0: never)", // ch04's client
	}},
	"max-conns":    {kind: "int", help: []string{"connections served at once (0: no limit)"}},
	"debug-addr":   {kind: "string", help: []string{"serve pprof and expvar here, e.g. 127.0.0.1:6060 (loopback only)"}},
	"metrics-addr": {kind: "string", help: []string{"serve /metrics here (may listen on any address)"}},
	"server-name":  {kind: "string", help: []string{"name to verify in the server's certificate (default: the host of -addr)"}},
	"timeout":      {kind: "duration", help: []string{"give up after this long"}},
	"conns":        {kind: "int", help: []string{"connections to open at once"}},
	"max-idle":     {kind: "int", help: []string{"idle connections a pool keeps"}},
	"duration":     {kind: "duration", help: []string{"how long the run lasts"}},
	"dir":          {kind: "string", help: []string{"directory to write files into"}},
}

// homonyms are flags outside the table that one name gives several
// meanings, each with its wording. Any other flag found in several
// programs, or in a program and its Python twin, has one wording.
var homonyms = map[string][]string{
	"cert":     {"server certificate (PEM)", "client certificate for mutual TLS (PEM)"},
	"key":      {"server private key (PEM)", "client private key (PEM)"},
	"model":    {"print the RFC 9293 state machine model and exit", "concurrency model"},
	"requests": {"requests (lines) per client", "stop after this many measured requests (overrides -duration)"},
	"resume":   {"continue cut-off transfers from what the receiver has", "connect a second time and show the resumed session"},
	"n": {
		"send n generated messages of -size bytes and verify the echo",
		"4 KiB blocks to write for the timing",
		"request/response rounds per setting",
		"records to send",
	},
}

// wrongNames are other names for the table's concepts, with the one to use.
var wrongNames = map[string]string{
	"drain":            "-drain-timeout",
	"drain-time":       "-drain-timeout",
	"grace":            "-drain-timeout",
	"shutdown-timeout": "-drain-timeout",
	"idle":             "-idle-timeout (a duration), -max-idle (idle connections a pool keeps) or -conns (connections to open)",
	"idle-time":        "-idle-timeout",
	"servername":       "-server-name",
	"sni":              "-server-name",
	"maxconns":         "-max-conns",
	"max-connections":  "-max-conns",
	"pprof":            "-debug-addr",
	"pprof-addr":       "-debug-addr",
	"listen":           "-addr",
	"address":          "-addr",
	"delay":            "a name for what waits: -interval, -timeout or -max-backoff",
}

// goOnly are Go flags a Python twin does not have, keyed "program command
// -flag" (or "-flag" in every program), with the reason.
var goOnly = map[string]string{
	"-debug-addr":                             "pprof and expvar are Go's tools",
	"ch01-overview serve -max-conns":          "LimitListener is the Go exercise of ch01's own accept loop",
	"ch02-tcp-basics serve -raw":              "the raw-syscall server is a Go (Linux) lesson",
	"ch02-tcp-basics serve -backlog":          "the -raw server's listen backlog",
	"ch03-listen-accept serve -drain-timeout": "the Python heartbeat server stops at once, without a drain",
	"ch03-listen-accept client -v":            "a debug line per PING and PONG: the Go client's",
	"ch04-echo serve -max-conns":              "the Python servers have no connection limit",
	"ch04-echo serve -max-bytes":              "the byte quota is an exercise of the Go server (quota.go)",
	"ch04-echo serve -tuned":                  "the stack-tuned server is a Go lesson (tuned.go)",
	"ch04-echo client -n":                     "generated, verified payloads are the Go client's",
	"ch04-echo client -size":                  "generated, verified payloads are the Go client's",
	"ch05-filexfer serve -drain-timeout":      "the Python receiver stops at once, without a drain",
	"ch05-filexfer serve -metrics-addr":       "of the Python twins, only the echo server exports metrics (operations chapter)",
	"ch06-tls serve -metrics-addr":            "of the Python twins, only the echo server exports metrics (operations chapter)",
}

// pyOnly are Python options a Go program does not have, keyed "program
// command --option".
var pyOnly = map[string]string{
	"ch04-echo serve --model": "three concurrency models are the Python lesson",
}

// noCLI are Python files of a chapter that are not programs of their own.
var noCLI = map[string]string{
	"ch07_locustfile.py": "a locustfile: locust owns the command line",
}

// durationProbe is the value every duration option must accept.
const durationProbe = "1m30s"

var (
	kebabRE   = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)
	secondsRE = regexp.MustCompile(`(?i)\bseconds\b`)
)

// A flag as a program's -h describes it.
type flagInfo struct {
	name string
	kind string // Go: the type -h shows ("" for a bool); Python: the metavar
	help string // without the default
	def  string // the default -h shows ("" when zero or unset)
}

// A program's commands: names in order (the first is the default) and flags.
type program struct {
	commands []string
	flags    map[string][]flagInfo
}

func TestConventions(t *testing.T) {
	root := testutil.RepoRoot(t)
	dirs, err := filepath.Glob(filepath.Join(root, "ch[0-9][0-9]-*", "main.go"))
	require.NoError(t, err)
	require.NotEmpty(t, dirs, "no chapter programs found")
	for _, mainGo := range dirs {
		name := filepath.Base(filepath.Dir(mainGo))
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			gp := goProgram(t, testutil.BuildGo(t, filepath.Dir(mainGo)), name)
			for _, twin := range twins(t, root, name) {
				t.Run(twin, func(t *testing.T) { pythonTwin(t, twin, name, gp) })
			}
		})
	}
}

// twins returns the Python twin of chapter dir ("ch04-echo": python/ch04_*.py).
func twins(t *testing.T, root, dir string) []string {
	files, err := filepath.Glob(filepath.Join(root, "python", dir[:4]+"_*.py"))
	require.NoError(t, err)
	var out []string
	for _, f := range files {
		if _, ok := noCLI[filepath.Base(f)]; !ok {
			out = append(out, filepath.Base(f))
		}
	}
	return out
}

// goProgram reads a Go program's commands and flags (goHelp) and reports
// every flag against the table.
func goProgram(t *testing.T, bin, prog string) program {
	p := goHelp(t, bin, prog)
	for _, c := range p.commands {
		for _, f := range p.flags[c] {
			for _, problem := range checkFlag(prog+" "+c+" -", f, true) {
				t.Error(problem)
			}
		}
	}
	return p
}

// goHelp runs "prog -h" and "prog COMMAND -h" for each command it lists.
func goHelp(t *testing.T, bin, prog string) program {
	out, code := run(t, exec.Command(bin, "-h"))
	require.Equal(t, 0, code, "%s -h:\n%s", prog, out)
	p := program{commands: parseGoCommands(out), flags: map[string][]flagInfo{}}
	require.NotEmpty(t, p.commands, "%s -h lists no commands:\n%s", prog, out)
	for _, c := range p.commands {
		out, code := run(t, exec.Command(bin, c, "-h"))
		require.Equal(t, 0, code, "%s %s -h:\n%s", prog, c, out)
		p.flags[c] = parseGoFlags(out)
	}
	return p
}

// pythonTwin checks a Python twin's commands and options, alone and against
// its Go program's.
func pythonTwin(t *testing.T, script, prog string, gp program) {
	out, code := run(t, testutil.PythonCmd(t, script, "-h"))
	require.Equal(t, 0, code, "%s -h:\n%s", script, out)
	top := parsePythonHelp(out)
	require.NotEmpty(t, top.commands, "%s -h lists no commands: use argparse subcommands, as Go does:\n%s", script, out)
	for _, f := range top.flags {
		t.Errorf("%s --%s: options belong to a command (the default one takes them without its name)", script, f.name)
	}

	// The default command: the one marked on -h, and the one that runs.
	if def := gp.commands[0]; !slices.Contains(top.commands, def) {
		t.Errorf("%s has no %q, the Go program's default command", script, def)
	} else {
		assert.Contains(t, top.summaries[def], "(default)", "%s -h: %q is the default command, as in Go", script, def)
		out, _ := run(t, testutil.PythonCmd(t, script, def, "-h"))
		if args := defaultProbe(parsePythonHelp(out).flags); args != nil {
			out, code := run(t, testutil.PythonCmd(t, script, append(args, "-h")...))
			assert.True(t, code == 0 && strings.Contains(out, "usage: "+top.prog+" "+def+" "),
				"%s %s -h: an option without a command runs %q, the default command, as in Go:\n%s",
				script, strings.Join(args, " "), def, out)
		}
	}

	for _, c := range top.commands {
		t.Run(c, func(t *testing.T) {
			t.Parallel()
			pythonCommand(t, script, prog, c, gp)
		})
	}
}

// pythonCommand checks one command of a Python twin: its options by the
// table, against the Go command's flags, and that durations take "1m30s".
func pythonCommand(t *testing.T, script, prog, c string, gp program) {
	goFlags, inGo := gp.flags[c]
	if !inGo {
		t.Errorf("%s %s: the Go program has no command %q (it has %v)", script, c, c, gp.commands)
	}
	out, code := run(t, testutil.PythonCmd(t, script, c, "-h"))
	require.Equal(t, 0, code, "%s %s -h:\n%s", script, c, out)
	pyFlags := parsePythonHelp(out).flags
	var durations []string
	for _, f := range pyFlags {
		for _, problem := range checkFlag(script+" "+c+" --", f, false) {
			t.Error(problem)
		}
		if names[f.name].kind == "duration" || f.kind == "DURATION" || goKind(goFlags, f.name) == "duration" {
			durations = append(durations, "--"+f.name, durationProbe)
		}
	}
	if inGo {
		for _, problem := range compareTwins(prog+" "+c, goFlags, pyFlags) {
			t.Error(problem)
		}
	}
	// argparse converts each value as it reads it, and -h then exits:
	// exit 2 here means an option refused a Go duration.
	if len(durations) > 0 {
		out, code := run(t, testutil.PythonCmd(t, script, append(append([]string{c}, durations...), "-h")...))
		if code != 0 {
			t.Errorf("%s %s %s: durations are Go strings in both languages (common.parse_duration):\n%s",
				script, c, strings.Join(durations, " "), lastLine(out))
		}
	}
}

// defaultProbe returns an option of the default command with a value it
// accepts (its default), to call the program with and no command name.
func defaultProbe(flags []flagInfo) []string {
	for _, f := range flags {
		switch {
		case f.kind == "":
			return []string{"--" + f.name}
		case f.def != "":
			return []string{"--" + f.name, f.def}
		}
	}
	return nil
}

// checkFlag returns what is wrong with one flag by the table. where names
// it up to its dash ("ch04-echo serve -").
func checkFlag(where string, f flagInfo, isGo bool) []string {
	var bad []string
	if !kebabRE.MatchString(f.name) {
		bad = append(bad, fmt.Sprintf("%s%s: a flag name is lower-case words joined by '-'", where, f.name))
	}
	if use, ok := wrongNames[f.name]; ok {
		bad = append(bad, fmt.Sprintf("%s%s contradicts the conventions table: use %s", where, f.name, use))
	}
	if strings.TrimSpace(f.help) == "" {
		bad = append(bad, fmt.Sprintf("%s%s has no help text", where, f.name))
	}
	r, inTable := names[f.name]
	if isGo && inTable && f.kind != r.kind {
		bad = append(bad, fmt.Sprintf("%s%s is a %s; the conventions table says %s", where, f.name, kindName(f.kind), r.kind))
	}
	if inTable && r.def != "" && !sameDefault(r.kind, f.def, r.def) {
		bad = append(bad, fmt.Sprintf("%s%s defaults to %q; the conventions table says %s", where, f.name, f.def, r.def))
	}
	if !isGo && secondsRE.MatchString(f.help) {
		bad = append(bad, fmt.Sprintf("%s%s speaks of seconds: a duration is a Go string such as 5s or 250ms (help: %q)", where, f.name, f.help))
	}
	return bad
}

// compareTwins returns the differences between a command's Go flags and its
// Python twin's options: missing on one side, or another default.
func compareTwins(where string, goFlags, pyFlags []flagInfo) []string {
	var bad []string
	py := map[string]flagInfo{}
	for _, f := range pyFlags {
		py[f.name] = f
	}
	for _, g := range goFlags {
		p, ok := py[g.name]
		_, own := goOnly[where+" -"+g.name]
		_, ownEverywhere := goOnly["-"+g.name]
		switch {
		case !ok && !own && !ownEverywhere:
			bad = append(bad, fmt.Sprintf("%s -%s has no Python twin --%s (add it, or list it in goOnly with the reason)", where, g.name, g.name))
		case ok && !sameDefault(g.kind, goDefault(g), p.def):
			bad = append(bad, fmt.Sprintf("%s -%s defaults to %q in Go but --%s to %q in Python", where, g.name, goDefault(g), g.name, p.def))
		}
		delete(py, g.name)
	}
	for _, p := range pyFlags {
		if _, left := py[p.name]; !left {
			continue
		}
		if _, own := pyOnly[where+" --"+p.name]; !own {
			bad = append(bad, fmt.Sprintf("%s --%s (Python) has no Go twin -%s (rename it, or list it in pyOnly with the reason)", where, p.name, p.name))
		}
	}
	return bad
}

// sameDefault compares two defaults as -h prints them; durations by value
// (Go's "5m0s" is Python's "5m").
func sameDefault(kind, a, b string) bool {
	if a == b {
		return true
	}
	if kind != "duration" {
		return false
	}
	da, errA := time.ParseDuration(a)
	db, errB := time.ParseDuration(b)
	return errA == nil && errB == nil && da == db
}

// goDefault is a Go flag's default without the quotes -h puts on strings.
func goDefault(f flagInfo) string {
	if s, err := strconv.Unquote(f.def); err == nil && f.kind == "string" {
		return s
	}
	return f.def
}

func goKind(flags []flagInfo, name string) string {
	for _, f := range flags {
		if f.name == name {
			return f.kind
		}
	}
	return ""
}

func kindName(kind string) string {
	if kind == "" {
		return "bool"
	}
	return kind
}

// parseGoCommands reads cli.Dispatch's list, first (default) command first:
//
//	commands:
//	  serve        print every line clients send (default)
func parseGoCommands(help string) []string {
	_, list, ok := strings.Cut(help, "\ncommands:\n")
	if !ok {
		return nil
	}
	list, _, _ = strings.Cut(list, "\n\n")
	var cmds []string
	for _, line := range strings.Split(list, "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			cmds = append(cmds, f[0])
		}
	}
	return cmds
}

var goDefaultRE = regexp.MustCompile(`^(.*?) ?\(default ("(?:[^"\\]|\\.)*"|[^()]*)\)$`)

// parseGoFlags reads the flag package's PrintDefaults:
//
//	-addr string
//	  	address to listen on (default "127.0.0.1:9000")
//	-x	usage of a one-letter bool flag
func parseGoFlags(help string) []flagInfo {
	var flags []flagInfo
	for _, line := range strings.Split(help, "\n") {
		switch {
		case strings.HasPrefix(line, "  -"):
			head, usage, _ := strings.Cut(line[3:], "\t")
			name, kind, _ := strings.Cut(head, " ")
			flags = append(flags, flagInfo{name: name, kind: kind, help: usage})
		case strings.HasPrefix(line, "    \t") && len(flags) > 0:
			f := &flags[len(flags)-1]
			f.help = strings.TrimSpace(f.help + " " + line[5:])
		}
	}
	for i, f := range flags {
		if m := goDefaultRE.FindStringSubmatch(f.help); m != nil {
			flags[i].help, flags[i].def = m[1], m[2]
		}
	}
	return flags
}

// pythonHelp is what parsePythonHelp reads from argparse's -h.
type pythonHelp struct {
	prog      string
	commands  []string
	summaries map[string]string
	flags     []flagInfo
}

var (
	pyUsageRE    = regexp.MustCompile(`(?m)^usage: (\S+)`)
	pyCommandsRE = regexp.MustCompile(`\{([\w,-]+)\}`)
	pyOptionRE   = regexp.MustCompile(`^  (-\S.*?)(?:\s{2,}(.*))?$`)
	pyMoreRE     = regexp.MustCompile(`^\s{3,}(\S.*)$`)
	pyDefaultRE  = regexp.MustCompile(`^(.*?) ?\(default (.*)\)$`)
)

// parsePythonHelp reads argparse's help (printed with common.GoHelpFormatter,
// so defaults read "(default 5s)" as in Go):
//
//	usage: ch04_echo.py [-h] {serve,client} ...
//	positional arguments:
//	  {serve,client}
//	    serve         run the echo server (default)
//	options:
//	  --addr ADDR           listen address (default 127.0.0.1:65432)
//	  --idle-timeout DURATION
//	                        close a client ... (default 5m)
func parsePythonHelp(help string) pythonHelp {
	h := pythonHelp{summaries: map[string]string{}}
	if m := pyUsageRE.FindStringSubmatch(help); m != nil {
		h.prog = m[1]
	}
	usage, _, _ := strings.Cut(help, "\n\n")
	if m := pyCommandsRE.FindStringSubmatch(usage); m != nil {
		h.commands = strings.Split(m[1], ",")
	}
	section := ""
	var last *flagInfo
	for _, line := range strings.Split(help, "\n") {
		if line != "" && line[0] != ' ' {
			section, last = line, nil
			continue
		}
		if section == "positional arguments:" {
			if f := strings.Fields(line); len(f) > 0 && slices.Contains(h.commands, f[0]) {
				h.summaries[f[0]] = strings.Join(f[1:], " ")
			}
			continue
		}
		if m := pyOptionRE.FindStringSubmatch(line); m != nil {
			var f flagInfo
			for _, opt := range strings.Split(m[1], ", ") {
				if name, ok := strings.CutPrefix(opt, "--"); ok {
					f.name, f.kind, _ = strings.Cut(name, " ")
				}
			}
			f.help = m[2]
			if f.name == "help" || f.name == "" {
				last = nil
				continue
			}
			h.flags = append(h.flags, f)
			last = &h.flags[len(h.flags)-1]
		} else if m := pyMoreRE.FindStringSubmatch(line); m != nil && last != nil {
			last.help = strings.TrimSpace(last.help + " " + m[1])
		}
	}
	for i, f := range h.flags {
		if m := pyDefaultRE.FindStringSubmatch(f.help); m != nil {
			h.flags[i].help, h.flags[i].def = m[1], m[2]
		}
	}
	return h
}

// run runs cmd (with a wide terminal, so help lines do not wrap) and returns
// its output, stdout then stderr, and exit status.
func run(t *testing.T, cmd *exec.Cmd) (string, int) {
	t.Helper()
	cmd.Env = append(os.Environ(), "COLUMNS=1000")
	stdout, stderr, err := testutil.RunWithTimeout(t, 30*time.Second, cmd, "")
	var exit *exec.ExitError
	switch {
	case err == nil:
		return stdout + stderr, 0
	case errors.As(err, &exit):
		return stdout + stderr, exit.ExitCode()
	default:
		t.Fatalf("%s: %v", cmd, err)
		return "", -1
	}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndex(s, "\n")+1:]
}

// The parsers and checks on known help texts, so that a check that cannot
// fail would show here.
func TestChecks(t *testing.T) {
	goHelp := "Usage of serve:\n" +
		"  -addr string\n    \taddress to listen on (default \"127.0.0.1:9000\")\n" +
		"  -drain duration\n    \ton Ctrl-C, how long\n    \tconnections may finish (default 5s)\n" +
		"  -max-conns int\n    \t\n" +
		"  -v\tverbose\n"
	g := parseGoFlags(goHelp)
	require.Equal(t, []flagInfo{
		{name: "addr", kind: "string", help: "address to listen on", def: `"127.0.0.1:9000"`},
		{name: "drain", kind: "duration", help: "on Ctrl-C, how long connections may finish", def: "5s"},
		{name: "max-conns", kind: "int"},
		{name: "v", help: "verbose"},
	}, g)
	assert.Equal(t, []string{"serve", "client"}, parseGoCommands(
		"usage: x [command] [flags]\n\ncommands:\n  serve        s (default)\n  client       c\n\nRun 'x COMMAND -h'\n"))

	assert.Empty(t, checkFlag("x serve -", g[0], true))
	assert.Equal(t, []string{"x serve -drain contradicts the conventions table: use -drain-timeout"}, checkFlag("x serve -", g[1], true))
	assert.Equal(t, []string{"x serve -max-conns has no help text"}, checkFlag("x serve -", g[2], true))
	assert.Equal(t, []string{
		"x serve -drain-timeout is a int; the conventions table says duration",
		`x serve -drain-timeout defaults to "5"; the conventions table says 10s`,
	}, checkFlag("x serve -", flagInfo{name: "drain-timeout", kind: "int", help: "h", def: "5"}, true))
	assert.Empty(t, checkFlag("x serve -", flagInfo{name: "drain-timeout", kind: "duration", help: "h", def: "10s"}, true))
	assert.Len(t, checkFlag("x serve --", flagInfo{name: "idle_timeout", help: "in seconds"}, false), 2)

	pyHelp := "usage: x.py serve [-h] [--addr ADDR] [--drain-timeout DURATION] [--model {a,b}]\n\n" +
		"options:\n" +
		"  -h, --help            show this help message and exit\n" +
		"  --addr ADDR           address to listen on (default 127.0.0.1:9000)\n" +
		"  --drain-timeout DURATION\n                        on Ctrl-C (default 5s)\n" +
		"  --model {a,b}\n" +
		"  --max-conns MAX_CONNS\n                        at most (default 10)\n"
	p := parsePythonHelp(pyHelp)
	assert.Equal(t, "x.py", p.prog)
	require.Equal(t, []flagInfo{
		{name: "addr", kind: "ADDR", help: "address to listen on", def: "127.0.0.1:9000"},
		{name: "drain-timeout", kind: "DURATION", help: "on Ctrl-C", def: "5s"},
		{name: "model", kind: "{a,b}"},
		{name: "max-conns", kind: "MAX_CONNS", help: "at most", def: "10"},
	}, p.flags)
	assert.Equal(t, []string{
		"x serve -drain has no Python twin --drain (add it, or list it in goOnly with the reason)",
		`x serve -max-conns defaults to "" in Go but --max-conns to "10" in Python`,
		"x serve -v has no Python twin --v (add it, or list it in goOnly with the reason)",
		"x serve --drain-timeout (Python) has no Go twin -drain-timeout (rename it, or list it in pyOnly with the reason)",
		"x serve --model (Python) has no Go twin -model (rename it, or list it in pyOnly with the reason)",
	}, compareTwins("x serve", g, p.flags))
	assert.True(t, sameDefault("duration", "5m0s", "5m"))
	assert.False(t, sameDefault("duration", "5m0s", "300.0"))

	top := parsePythonHelp("usage: x.py [-h] {serve,client} ...\n\npositional arguments:\n  {serve,client}\n" +
		"    serve         the server (default)\n    client        the client\n\noptions:\n  -h, --help  show\n")
	assert.Equal(t, []string{"serve", "client"}, top.commands)
	assert.Equal(t, "the server (default)", top.summaries["serve"])
	assert.Empty(t, top.flags)

	// One wording per concept.
	assert.Equal(t, "connections served at once (0: no limit)", wording("connections served at once (0: no limit); more are told BUSY", true))
	assert.Equal(t, "name to verify (default: the host of -addr)", wording("name to verify (default: the host of --addr)", false))
	drain := names["drain-timeout"].help[0]
	assert.Empty(t, checkWordings([]use{
		{"a serve -drain-timeout", "drain-timeout", drain},
		{"b.py serve --drain-timeout", "drain-timeout", drain},
		{"a client -msg", "msg", "send this line instead of stdin"},
		{"b client -msg", "msg", "send this line instead of stdin"},
		{"a serve -cert", "cert", "server certificate (PEM)"},
		{"a client -cert", "cert", "client certificate for mutual TLS (PEM)"},
		{"a serve -only-here", "only-here", "anything"},
	}))
	assert.Equal(t, []string{
		`b serve -drain-timeout: "let transfers finish this long" is not how the course words it: "` + drain + `" (a remark of the program's own may follow after "; ")`,
		`-msg has 2 wordings, want one (or list its meanings in homonyms): "send this line instead of stdin" (a client -msg); "send this line, else stdin" (b client -msg)`,
	}, checkWordings([]use{
		{"a serve -drain-timeout", "drain-timeout", drain},
		{"b serve -drain-timeout", "drain-timeout", "let transfers finish this long"},
		{"a client -msg", "msg", "send this line instead of stdin"},
		{"b client -msg", "msg", wording("send this line, else stdin; a remark", true)},
	}))
	for name, r := range names {
		assert.NotEmpty(t, r.help, "-%s: the table gives every concept its wording", name)
		for _, w := range append(r.help, homonyms[name]...) {
			assert.NotContains(t, w, "; ", "-%s: a wording holds no \"; \" (what follows it is a remark)", name)
		}
	}
}

// TestOneWordingPerConcept reads the help of every flag of every program
// and Python twin: a concept says the same thing everywhere (the names
// table's wording, or one wording across the programs that share a name).
func TestOneWordingPerConcept(t *testing.T) {
	root := testutil.RepoRoot(t)
	mains, err := filepath.Glob(filepath.Join(root, "ch[0-9][0-9]-*", "main.go"))
	require.NoError(t, err)
	var uses []use
	for _, mainGo := range mains {
		prog := filepath.Base(filepath.Dir(mainGo))
		gp := goHelp(t, testutil.BuildGo(t, filepath.Dir(mainGo)), prog)
		for _, c := range gp.commands {
			for _, f := range gp.flags[c] {
				uses = append(uses, use{where: prog + " " + c + " -" + f.name, name: f.name, help: wording(f.help, true)})
			}
		}
		for _, script := range twins(t, root, prog) {
			out, _ := run(t, testutil.PythonCmd(t, script, "-h"))
			for _, c := range parsePythonHelp(out).commands {
				out, _ := run(t, testutil.PythonCmd(t, script, c, "-h"))
				for _, f := range parsePythonHelp(out).flags {
					uses = append(uses, use{where: script + " " + c + " --" + f.name, name: f.name, help: wording(f.help, false)})
				}
			}
		}
	}
	require.NotEmpty(t, uses, "no flags found: the scan is broken")
	if problems := checkWordings(uses); len(problems) > 0 {
		t.Errorf("%d flags word their concept another way (CONTRIBUTING.md's table, names and homonyms in this file):\n%s",
			len(problems), strings.Join(problems, "\n"))
	}
}

// A use is one flag of one command, with its wording.
type use struct{ where, name, help string }

// wording is what a help text says of its concept: the text before the
// first "; " (a remark of the program's own may follow), with Python's
// "--addr" read as Go's "-addr".
func wording(help string, isGo bool) string {
	if !isGo {
		help = strings.ReplaceAll(help, "--", "-")
	}
	w, _, _ := strings.Cut(help, "; ")
	return w
}

// checkWordings returns the uses that word a concept another way: against
// the wordings names or homonyms give, or, for a name they do not list,
// against the other programs that use it.
func checkWordings(uses []use) []string {
	byName := map[string]map[string][]string{} // name -> wording -> where
	for _, u := range uses {
		if byName[u.name] == nil {
			byName[u.name] = map[string][]string{}
		}
		byName[u.name][u.help] = append(byName[u.name][u.help], u.where)
	}
	var bad []string
	for _, name := range slices.Sorted(maps.Keys(byName)) {
		ws := byName[name]
		allowed := names[name].help
		if h, ok := homonyms[name]; ok {
			allowed = h
		}
		if len(allowed) == 0 {
			if len(ws) > 1 {
				var all []string
				for _, w := range slices.Sorted(maps.Keys(ws)) {
					all = append(all, fmt.Sprintf("%q (%s)", w, strings.Join(ws[w], ", ")))
				}
				bad = append(bad, fmt.Sprintf("-%s has %d wordings, want one (or list its meanings in homonyms): %s",
					name, len(ws), strings.Join(all, "; ")))
			}
			continue
		}
		for _, w := range slices.Sorted(maps.Keys(ws)) {
			if !slices.Contains(allowed, w) {
				bad = append(bad, fmt.Sprintf("%s: %q is not how the course words it: %s (a remark of the program's own may follow after \"; \")",
					strings.Join(ws[w], ", "), w, quoteAll(allowed)))
			}
		}
	}
	return bad
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, " or ")
}

// TestTableMatchesContributing: CONTRIBUTING.md's conventions table and
// the names table above list the same flags with the same wordings (each
// wording in backquotes in the table's second column).
func TestTableMatchesContributing(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testutil.RepoRoot(t), "CONTRIBUTING.md"))
	require.NoError(t, err)
	rowRE := regexp.MustCompile("(?m)^\\| `-([a-z-]+) [A-Z:]+` \\| (.*) \\|$")
	quotedRE := regexp.MustCompile("`([^`]*)`")
	seen := map[string]bool{}
	for _, m := range rowRE.FindAllStringSubmatch(string(data), -1) {
		name := m[1]
		seen[name] = true
		r, ok := names[name]
		if !assert.True(t, ok, "CONTRIBUTING.md lists -%s; names in conventions_test.go does not", name) {
			continue
		}
		var wordings []string
		for _, q := range quotedRE.FindAllStringSubmatch(m[2], -1) {
			wordings = append(wordings, q[1])
		}
		assert.ElementsMatch(t, r.help, wordings, "-%s: the wordings of CONTRIBUTING.md and of names differ", name)
	}
	for name := range names {
		assert.True(t, seen[name], "names lists -%s; CONTRIBUTING.md's table does not", name)
	}
}
