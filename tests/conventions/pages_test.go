package conventions

import (
	"fmt"
	"os"
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

// Every command a page shows must run as shown: the program exists, the
// command is one it has, and each flag is one of that command's, with a
// value when it takes one. The programs' own -h is the reference.

// A pageCommand is one chapter program's command line on a page.
type pageCommand struct {
	where string   // "docs/src/ch04-echo.md:27", the page and line
	line  string   // the command as shown, from "go run" or "python3" on
	prog  string   // "ch04-echo" (Go) or "ch04_echo.py" (Python)
	isGo  bool     // go run ./prog, or python3 python/prog
	args  []string // after the program, as the shell passes them
}

var (
	// fenceRE opens or closes a fenced block; shellFences hold commands.
	fenceRE     = regexp.MustCompile("^\\s*```+\\s*([\\w-]*)")
	shellFences = []string{"console", "sh", "bash", "shell"}
	// pageCmdRE finds a chapter program's command in a line of a shell block.
	pageCmdRE = regexp.MustCompile(`(?:^|[\s|;&(])((?:go run \./(ch\d\d-[a-z0-9-]+))|(?:python3 python/(ch\d\d_[a-z0-9_]+\.py)))(\s.*)?$`)
	// proseCmdRE finds one in the prose, inside backticks.
	proseCmdRE = regexp.MustCompile("`((?:go run \\./ch\\d\\d-|python3 python/ch\\d\\d_)[^`]*)`")
	includeRE  = regexp.MustCompile(`^\{\{#include\s+([^\s:}]+)(?::([\w-]+))?\s*\}\}\s*$`)
)

func TestPageCommands(t *testing.T) {
	root := testutil.RepoRoot(t)
	pages := []string{"README.md"}
	for _, pattern := range []string{"docs/src/*.md", "docs/src/solutions/*.md"} {
		found, err := filepath.Glob(filepath.Join(root, pattern))
		require.NoError(t, err)
		for _, f := range found {
			rel, err := filepath.Rel(root, f)
			require.NoError(t, err)
			pages = append(pages, filepath.ToSlash(rel))
		}
	}
	byProg := map[string][]pageCommand{}
	for _, page := range pages {
		for _, c := range pageCommands(t, root, page) {
			byProg[c.prog] = append(byProg[c.prog], c)
		}
	}
	require.NotEmpty(t, byProg, "no commands found on the pages: is the extraction broken?")

	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range byProg {
			if !yield(k) {
				return
			}
		}
	}) {
		cmds := byProg[name]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p, missing := pageProgram(t, root, cmds[0])
			for _, c := range cmds {
				problem := missing
				if problem == "" {
					problem = checkPageCommand(p, c)
				}
				if problem != "" {
					t.Errorf("%s: %s: %s", c.where, c.line, problem)
				}
			}
		})
	}
}

// pageProgram reads the commands and flags of c's program from its -h, or
// says why it cannot.
func pageProgram(t *testing.T, root string, c pageCommand) (program, string) {
	if c.isGo {
		if _, err := os.Stat(filepath.Join(root, c.prog, "main.go")); err != nil {
			return program{}, fmt.Sprintf("there is no program ./%s", c.prog)
		}
		return goHelp(t, testutil.BuildGo(t, filepath.Join(root, c.prog)), c.prog), ""
	}
	if _, err := os.Stat(filepath.Join(root, "python", c.prog)); err != nil {
		return program{}, fmt.Sprintf("there is no program python/%s", c.prog)
	}
	return pythonProgram(t, c.prog), ""
}

// pythonProgram reads a Python program's commands and options, default command
// first (as goHelp does). A program without commands (the locustfile run as
// a script) has its options under the command "".
func pythonProgram(t *testing.T, script string) program {
	out, code := run(t, testutil.PythonCmd(t, script, "-h"))
	require.Equal(t, 0, code, "%s -h:\n%s", script, out)
	top := parsePythonHelp(out)
	p := program{flags: map[string][]flagInfo{}}
	if len(top.commands) == 0 {
		p.flags[""] = top.flags
		return p
	}
	for _, c := range top.commands {
		if strings.Contains(top.summaries[c], "(default)") {
			p.commands = append(p.commands, c)
		}
	}
	for _, c := range top.commands {
		if !slices.Contains(p.commands, c) {
			p.commands = append(p.commands, c)
		}
		out, code := run(t, testutil.PythonCmd(t, script, c, "-h"))
		require.Equal(t, 0, code, "%s %s -h:\n%s", script, c, out)
		p.flags[c] = parsePythonHelp(out).flags
	}
	return p
}

// checkPageCommand returns what would fail in c, or "": its command, then
// each flag and value, read as Go's flag package or argparse reads them.
// It stops at the first problem, which may hide the next ones.
func checkPageCommand(p program, c pageCommand) string {
	args, cmd := c.args, ""
	if len(p.commands) > 0 {
		cmd = p.commands[0]
		if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
			if !slices.Contains(p.commands, args[0]) {
				return fmt.Sprintf("%s has no command %q (it has %s)", c.prog, args[0], strings.Join(p.commands, ", "))
			}
			cmd, args = args[0], args[1:]
		}
	}
	who := strings.TrimSpace(c.prog + " " + cmd)
	flags := map[string]flagInfo{}
	for _, f := range p.flags[cmd] {
		flags[f.name] = f
	}
	dash, kind := "--", "option"
	if c.isGo {
		dash, kind = "-", "flag"
	}
	positional := ""
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return ""
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			if positional == "" {
				positional = a
			}
			continue
		}
		if c.isGo && positional != "" {
			return fmt.Sprintf("Go's flag package stops at the first argument that is not a flag (%q): %s would be an argument too; put the flags first", positional, a)
		}
		if !c.isGo && !strings.HasPrefix(a, "--") {
			return fmt.Sprintf("%s: Python options take two dashes (-%s)", a, a)
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if name == "h" || name == "help" {
			continue
		}
		f, ok := flags[name]
		if !ok {
			return fmt.Sprintf("%s has no %s %s%s", who, kind, dash, name)
		}
		if f.kind == "" { // a bool (Go) or store_true (Python)
			if hasValue && !c.isGo {
				return fmt.Sprintf("%s %s%s takes no value", who, dash, name)
			}
			if _, err := strconv.ParseBool(value); hasValue && err != nil {
				return fmt.Sprintf("%s %s%s is a bool: %q is not true or false", who, dash, name, value)
			}
			continue
		}
		if !hasValue {
			if i+1 == len(args) || (!c.isGo && strings.HasPrefix(args[i+1], "--")) {
				return fmt.Sprintf("%s %s%s needs a value (%s)", who, dash, name, kindName(f.kind))
			}
			i++
			value = args[i]
		}
		if problem := checkValue(f.kind, value); problem != "" {
			return fmt.Sprintf("%s %s%s %s", who, dash, name, problem)
		}
	}
	return ""
}

// checkValue returns why value does not parse as kind (a Go flag type or a
// Python metavar), or "" when it does or the kind says nothing.
func checkValue(kind, value string) string {
	var err error
	switch kind {
	case "duration", "DURATION":
		_, err = time.ParseDuration(value)
	case "int":
		_, err = strconv.ParseInt(value, 0, 64)
	case "uint":
		_, err = strconv.ParseUint(value, 0, 64)
	case "float":
		_, err = strconv.ParseFloat(value, 64)
	default:
		if choices, ok := strings.CutPrefix(kind, "{"); ok && strings.HasSuffix(choices, "}") {
			if list := strings.Split(strings.TrimSuffix(choices, "}"), ","); !slices.Contains(list, value) {
				return fmt.Sprintf("is one of %s, not %q", strings.Join(list, ", "), value)
			}
		}
	}
	if err != nil {
		return fmt.Sprintf("is a %s: %q does not parse", strings.ToLower(kind), value)
	}
	return ""
}

// pageCommands returns the chapter programs' command lines on page (a path
// from root): in shell blocks (console, sh), including the transcripts they
// {{#include}}, and in backticks in the prose.
func pageCommands(t *testing.T, root, page string) []pageCommand {
	text, err := os.ReadFile(filepath.Join(root, page))
	require.NoError(t, err)
	var cmds []pageCommand
	fence, inFence := "", false
	for i, line := range strings.Split(string(text), "\n") {
		where := fmt.Sprintf("%s:%d", page, i+1)
		if m := fenceRE.FindStringSubmatch(line); m != nil {
			if inFence && m[1] == "" {
				inFence = false
			} else if !inFence {
				fence, inFence = m[1], true
			}
			continue
		}
		switch {
		case !inFence:
			for _, m := range proseCmdRE.FindAllStringSubmatch(line, -1) {
				cmds = append(cmds, lineCommands(where, m[1])...)
			}
		case !slices.Contains(shellFences, fence):
			// code or output: no commands to run
		case includeRE.MatchString(strings.TrimSpace(line)):
			m := includeRE.FindStringSubmatch(strings.TrimSpace(line))
			inc := filepath.Join(root, filepath.Dir(page), m[1])
			rel, err := filepath.Rel(root, inc)
			require.NoError(t, err)
			for _, l := range includedLines(t, inc, m[2]) {
				cmds = append(cmds, lineCommands(fmt.Sprintf("%s (%s:%d)", where, filepath.ToSlash(rel), l.n), l.text)...)
			}
		default:
			cmds = append(cmds, lineCommands(where, line)...)
		}
	}
	return cmds
}

// An includedLine is a line of an {{#include}}d file, with its number.
type includedLine struct {
	n    int
	text string
}

// includedLines returns the lines an {{#include file:anchor}} shows: the
// whole file, or the lines between "ANCHOR: name" and "ANCHOR_END: name".
func includedLines(t *testing.T, file, anchor string) []includedLine {
	text, err := os.ReadFile(file)
	require.NoError(t, err, "an {{#include}} in a shell block")
	var out []includedLine
	in := anchor == ""
	for i, l := range strings.Split(string(text), "\n") {
		switch {
		case anchor != "" && strings.Contains(l, "ANCHOR: "+anchor):
			in = true
		case anchor != "" && strings.Contains(l, "ANCHOR_END: "+anchor):
			in = false
		case in:
			out = append(out, includedLine{i + 1, l})
		}
	}
	return out
}

// lineCommands returns the chapter program's command in one line, if any.
func lineCommands(where, line string) []pageCommand {
	m := pageCmdRE.FindStringSubmatch(line)
	if m == nil {
		return nil
	}
	words := shellWords(m[1] + m[4])
	c := pageCommand{where: where, line: strings.Join(words, " "), prog: m[2], isGo: m[2] != ""}
	if !c.isGo {
		c.prog = m[3]
	}
	c.args = words[len(strings.Fields(m[1])):]
	return []pageCommand{c}
}

// shellWords splits a command line as a shell would, for the simple lines a
// page shows: quotes group, and the command ends at a comment, a pipe, a
// redirection or a separator (#, |, &, ;, <, >).
func shellWords(s string) []string {
	var words []string
	var w strings.Builder
	inWord, quote := false, rune(0)
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			w.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words, inWord = append(words, w.String()), false
				w.Reset()
			}
		case strings.ContainsRune("|&;<>", r) || (r == '#' && !inWord):
			// "2>&1": the 2 belongs to the redirection.
			if _, err := strconv.Atoi(w.String()); inWord && err != nil {
				words = append(words, w.String())
			}
			return words
		default:
			w.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words
}

// The extraction and the checks on known lines, so that a check that cannot
// fail would show here.
func TestPageChecks(t *testing.T) {
	assert.Equal(t, []string{"go", "run", "./ch04-echo", "client", "-msg", "hello, echo"},
		shellWords(`go run ./ch04-echo client -msg 'hello, echo'  # a comment`))
	assert.Equal(t, []string{"a", "-b"}, shellWords("a -b 2>&1 | tee x"))

	cmds := lineCommands("p.md:3", "$ echo hi | go run ./ch06-tls client -resume   # comment")
	require.Len(t, cmds, 1)
	assert.Equal(t, pageCommand{where: "p.md:3", line: "go run ./ch06-tls client -resume",
		prog: "ch06-tls", isGo: true, args: []string{"client", "-resume"}}, cmds[0])
	assert.Empty(t, lineCommands("p.md:4", "$ go test ./ch04-echo -run Conformance"))

	p := program{commands: []string{"serve", "client"}, flags: map[string][]flagInfo{
		"serve":  {{name: "drain-timeout", kind: "duration"}, {name: "v"}},
		"client": {{name: "model", kind: "{a,b}"}},
	}}
	check := func(isGo bool, args ...string) string {
		return checkPageCommand(p, pageCommand{prog: "x", isGo: isGo, args: args})
	}
	assert.Empty(t, check(true, "-drain-timeout", "5s", "-v=true", "file"))
	assert.Empty(t, check(true, "serve", "-drain-timeout=5s", "-h"))
	assert.Equal(t, "x serve has no flag -drain", check(true, "-drain", "5s"))
	assert.Equal(t, `x has no command "sever" (it has serve, client)`, check(true, "sever"))
	assert.Equal(t, "x serve -drain-timeout needs a value (duration)", check(true, "-drain-timeout"))
	assert.Equal(t, `x serve -drain-timeout is a duration: "5" does not parse`, check(true, "-drain-timeout", "5"))
	assert.Equal(t, `x serve -v is a bool: "yes" is not true or false`, check(true, "-v=yes"))
	assert.Contains(t, check(true, "serve", "file", "-v"), "put the flags first")
	assert.Empty(t, check(false, "client", "--model", "a"))
	assert.Equal(t, `x client --model is one of a, b, not "c"`, check(false, "client", "--model=c"))
	assert.Equal(t, "x client --model needs a value ({a,b})", check(false, "client", "--model", "--x"))
	assert.Equal(t, "-v: Python options take two dashes (--v)", check(false, "-v"))
}
