package conventions

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/tests/testutil"
)

// The log vocabulary, as small tables: CONTRIBUTING.md's "Log keys" and
// "A connection's last line".

// closedMsg is a connection's last line, in every server.
const closedMsg = "closed"

// drainTimeoutMsg is the one spelling of the drain running out.
const drainTimeoutMsg = "drain timeout; closed the remaining connections"

// wrongMsgs are other messages for the table's events, with the one to use.
var wrongMsgs = map[string]string{
	"open":                          `"accepted" (a connection's first line)`,
	"opened":                        `"accepted" (a connection's first line)`,
	"connection opened":             `"accepted" (a connection's first line)`,
	"new connection":                `"accepted" (a connection's first line)`,
	"close":                         `"closed" (a connection's last line)`,
	"closing":                       `"closed" (a connection's last line)`,
	"connection closed":             `"closed" (a connection's last line)`,
	"shutting down":                 `"draining" (the first signal, with drain_timeout and open)`,
	"drain":                         `"draining"`,
	"connection closed by shutdown": `"closed" with reason=shutdown`,
}

// closeLikeRE catches the other spellings of a close line ("idle timeout;
// connection closed"): the reason goes in the reason key, not the message.
var closeLikeRE = regexp.MustCompile(`(?i)\bconnection (closed|ended|finished)\b`)

// wrongKeys are other keys for the table's concepts, with the one to use.
// Not here: "client" (ch06's handshake line names the client certificate's
// subject with it) and "retry" (ch03's client counts its attempts in it).
var wrongKeys = map[string]string{
	"in":          "retry_in (the wait before the next try)",
	"delay":       "retry_in (the wait before the next try)",
	"backoff":     "retry_in (the wait before the next try)",
	"drain":       "drain_timeout",
	"grace":       "drain_timeout",
	"remote":      "peer",
	"remote_addr": "peer",
	"conn":        "peer",
	"listen":      "addr",
	"address":     "addr",
	"error":       "err",
	"maxconns":    "max_conns",
	"bytesin":     "bytes_in",
	"bytesout":    "bytes_out",
	"received":    "bytes_in",
	"sent":        "bytes_out",
}

// wrongKeysOn are keys wrong only on one message.
var wrongKeysOn = map[string]map[string]string{
	closedMsg: {
		"bytes":   "bytes_in and bytes_out (a close line counts each way)",
		"total":   "bytes_in and bytes_out (a close line counts each way)",
		"elapsed": "duration (a connection's life)",
	},
	"draining": {
		"timeout": "drain_timeout",
		"conns":   "open (connections open)",
	},
}

// closedKeys must be on every close line: why and how long.
var closedKeys = []string{"reason", "duration"}

// levels are slog's level names; Python twins write the same.
var levels = []string{"DEBUG", "INFO", "WARN", "ERROR"}

// A logCall is one log line in the code.
type logCall struct {
	where    string   // file:line, relative to the repository root
	level    string   // DEBUG, INFO, WARN, ERROR ("" for With)
	msg      string   // "" for With
	keys     []string // the keys found at key positions
	complete bool     // every attribute was read (no unresolved attrs...)
}

// TestLogVocabulary reads every log call of the Go servers (ch0*/,
// internal/) and Python twins (python/*.py) and holds their messages and
// keys to the tables above.
func TestLogVocabulary(t *testing.T) {
	root := testutil.RepoRoot(t)
	calls := goLogCalls(t, root)
	require.NotEmpty(t, calls, "no Go log calls found: the scan is broken")
	py := pythonLogCalls(t, root)
	require.NotEmpty(t, py, "no Python log calls found: the scan is broken")
	var problems []string
	for _, c := range append(calls, py...) {
		problems = append(problems, checkLog(c)...)
	}
	if len(problems) > 0 {
		slices.SortFunc(problems, compareWhere)
		t.Errorf("%d log lines contradict CONTRIBUTING.md's log vocabulary:\n%s",
			len(problems), strings.Join(problems, "\n"))
	}
}

// compareWhere orders "file:line: ..." messages by file, then line.
func compareWhere(a, b string) int {
	fa, la := splitWhere(a)
	fb, lb := splitWhere(b)
	if c := strings.Compare(fa, fb); c != 0 {
		return c
	}
	return la - lb
}

func splitWhere(s string) (string, int) {
	file, rest, _ := strings.Cut(s, ":")
	line, _, _ := strings.Cut(rest, ":")
	n, _ := strconv.Atoi(line)
	return file, n
}

// checkLog returns one message per problem, each naming file:line and the fix.
func checkLog(c logCall) []string {
	var out []string
	bad := func(format string, args ...any) {
		out = append(out, c.where+": "+fmt.Sprintf(format, args...))
	}
	if c.level != "" && !slices.Contains(levels, c.level) {
		bad("level %q: use one of slog's %s", c.level, strings.Join(levels, ", "))
	}
	msg := c.msg
	switch fix, ok := wrongMsgs[msg]; {
	case ok:
		bad("message %q: use %s", msg, fix)
		msg = closedMsg // check its keys as a close line's
	case strings.HasPrefix(strings.ToLower(msg), "drain timeout") && msg != drainTimeoutMsg:
		bad("message %q: use exactly %q", msg, drainTimeoutMsg)
	case closeLikeRE.MatchString(msg):
		bad("message %q: use %q, with why in the reason key", msg, closedMsg)
		msg = closedMsg
	}
	for _, k := range c.keys {
		if fix, ok := wrongKeys[k]; ok {
			bad("key %q: use %s", k, fix)
		} else if fix, ok := wrongKeysOn[msg][k]; ok {
			bad("key %q on a %q line: use %s", k, msg, fix)
		}
	}
	if c.msg == closedMsg && c.complete {
		for _, k := range closedKeys {
			if !slices.Contains(c.keys, k) {
				bad("a %q line without %q: a close line has peer, duration, reason (and err on an error, at WARN)", closedMsg, k)
			}
		}
	}
	return out
}

// logMethods are slog's logging functions and methods, with the index of
// the message argument.
var logMethods = map[string]int{
	"Debug": 0, "Info": 0, "Warn": 0, "Error": 0,
	"DebugContext": 1, "InfoContext": 1, "WarnContext": 1, "ErrorContext": 1,
}

// attrFuncs are slog's Attr constructors: their first argument is a key.
var attrFuncs = []string{"String", "Int", "Int64", "Uint64", "Float64", "Bool", "Time", "Duration", "Any", "Group"}

// goLogCalls parses every non-test Go file under ch0*/ and internal/ and
// returns its log calls: a Debug/Info/Warn/Error call (function or method)
// whose message is a string literal, and With calls.
func goLogCalls(t *testing.T, root string) []logCall {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(root, "ch0*"))
	require.NoError(t, err)
	dirs = append(dirs, filepath.Join(root, "internal"))
	fset := token.NewFileSet()
	var calls []logCall
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") ||
				strings.Contains(path, string(filepath.Separator)+"testdata"+string(filepath.Separator)) {
				return err
			}
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, path)
			ast.Inspect(f, func(n ast.Node) bool {
				if call, ok := n.(*ast.CallExpr); ok {
					if c, ok := goLogCall(call); ok {
						c.where = fmt.Sprintf("%s:%d", filepath.ToSlash(rel), fset.Position(call.Pos()).Line)
						calls = append(calls, c)
					}
				}
				return true
			})
			return nil
		})
		require.NoError(t, err)
	}
	return calls
}

// goLogCall reads one call, if it is a log call.
func goLogCall(call *ast.CallExpr) (logCall, bool) {
	var name string
	switch fn := call.Fun.(type) {
	case *ast.SelectorExpr:
		name = fn.Sel.Name
		if id, ok := fn.X.(*ast.Ident); ok && (id.Name == "t" || id.Name == "b" || id.Name == "tb") {
			return logCall{}, false // testing's Error, in a helper file
		}
	case *ast.Ident:
		name = fn.Name // a function of the file's own package
	default:
		return logCall{}, false
	}
	if name == "With" {
		keys, complete := attrKeys(call.Args, call.Ellipsis.IsValid())
		return logCall{keys: keys, complete: complete}, len(keys) > 0
	}
	i, ok := logMethods[name]
	if !ok || len(call.Args) <= i {
		return logCall{}, false
	}
	msg, ok := stringLit(call.Args[i])
	if !ok {
		return logCall{}, false
	}
	level := strings.ToUpper(strings.TrimSuffix(name, "Context"))
	keys, complete := attrKeys(call.Args[i+1:], call.Ellipsis.IsValid())
	return logCall{level: level, msg: msg, keys: keys, complete: complete}, true
}

// attrKeys returns the keys of slog's alternating key-value arguments (and
// of slog.String("key", v) style Attrs). A final attrs... is followed into
// append(...) and into a local []any{...} literal; complete is false when
// some attributes could not be read.
func attrKeys(args []ast.Expr, spread bool) (keys []string, complete bool) {
	complete = true
	if spread && len(args) > 0 {
		last := args[len(args)-1]
		args = args[:len(args)-1]
		ks, ok := spreadKeys(last)
		keys, complete = append(keys, ks...), ok
	}
	for i := 0; i < len(args); i++ {
		if k, ok := stringLit(args[i]); ok {
			keys = append(keys, k)
			i++ // skip the value
			continue
		}
		if call, ok := args[i].(*ast.CallExpr); ok {
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok && slices.Contains(attrFuncs, sel.Sel.Name) && len(call.Args) > 0 {
				if k, ok := stringLit(call.Args[0]); ok {
					keys = append(keys, k)
					continue
				}
			}
		}
		complete = false // an Attr value or a non-literal key
	}
	return keys, complete
}

// spreadKeys reads the keys of x in f(..., x...).
func spreadKeys(x ast.Expr) ([]string, bool) {
	switch x := x.(type) {
	case *ast.CallExpr: // append(attrs, "err", err)...
		if id, ok := x.Fun.(*ast.Ident); ok && id.Name == "append" && len(x.Args) > 0 {
			first, ok1 := spreadKeys(x.Args[0])
			rest, ok2 := attrKeys(x.Args[1:], x.Ellipsis.IsValid())
			return append(first, rest...), ok1 && ok2
		}
	case *ast.CompositeLit: // []any{"peer", peer}...
		return attrKeys(x.Elts, false)
	case *ast.Ident: // attrs := []any{...}
		if x.Obj != nil {
			if as, ok := x.Obj.Decl.(*ast.AssignStmt); ok && len(as.Lhs) == len(as.Rhs) {
				for i, l := range as.Lhs {
					if id, ok := l.(*ast.Ident); ok && id.Name == x.Name {
						return spreadKeys(as.Rhs[i])
					}
				}
			}
		}
	}
	return nil, false
}

func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

// pyScan prints, for each python/*.py given, one JSON object per call of
// log("LEVEL", "msg", key=...) (log, or common.log): the level (None when
// not a literal), the message ("" when not a literal) and the keys; and of
// log_closed(peer, start, reason, err, **counts), a "closed" line whose
// keywords are the counts.
const pyScan = `
import ast, json, sys
for path in sys.argv[1:]:
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    for n in ast.walk(tree):
        if not isinstance(n, ast.Call):
            continue
        f = n.func
        name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
        keys = [k.arg for k in n.keywords if k.arg is not None]
        if name == "log_closed":  # common.log_closed: a close line, counts as keywords
            print(json.dumps({"file": path, "line": n.lineno, "keys": keys,
                              "level": "INFO", "msg": "closed", "complete": False}))
            continue
        if name != "log":
            continue
        lit = [isinstance(a, ast.Constant) and isinstance(a.value, str) for a in n.args[:2]]
        print(json.dumps({"file": path, "line": n.lineno, "keys": keys,
                          "level": n.args[0].value if lit[:1] == [True] else None,
                          "msg": n.args[1].value if lit[1:] == [True] else "",
                          "complete": len(keys) == len(n.keywords)}))
`

// pythonLogCalls scans python/*.py with Python's own ast module.
func pythonLogCalls(t *testing.T, root string) []logCall {
	t.Helper()
	py := testutil.RequireTool(t, "python3")
	files, err := filepath.Glob(filepath.Join(root, "python", "*.py"))
	require.NoError(t, err)
	cmd := exec.CommandContext(t.Context(), py, append([]string{"-c", pyScan}, files...)...)
	out, err := cmd.Output()
	require.NoError(t, err, "scanning the Python files")
	var calls []logCall
	for line := range strings.Lines(string(out)) {
		var r struct {
			File     string
			Line     int
			Level    *string
			Msg      string
			Keys     []string
			Complete bool
		}
		require.NoError(t, json.Unmarshal([]byte(line), &r))
		rel, _ := filepath.Rel(root, r.File)
		where := fmt.Sprintf("%s:%d", filepath.ToSlash(rel), r.Line)
		if r.Level == nil {
			t.Errorf("%s: log() takes a literal level (DEBUG, INFO, WARN, ERROR)", where)
			continue
		}
		calls = append(calls, logCall{where: where, level: *r.Level, msg: r.Msg, keys: r.Keys, complete: r.Complete})
	}
	return calls
}

// The scanner and the checks on known code, so that a check that cannot
// fail would show here.
func TestLogChecks(t *testing.T) {
	src := `package p
func f() {
	attrs := []any{"peer", p, "duration", d}
	s.Log.Warn("close", append(attrs, "bytes", n, "err", err)...)
	slog.Info("draining", "drain", d, slog.Int("open", 2))
	log.With("remote", r).Info("x")
	t.Error("close")
	s.Log.Info("drain timeout: closed remaining connections", attrs...)
	s.Log.Info("closed", "peer", p, "reason", "eof")
	s.Log.Info("closed", attrs...)
	s.Log.Info("closed", stateAttrs(x)...)
}`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "p.go", src, 0)
	require.NoError(t, err)
	var problems []string
	ast.Inspect(f, func(n ast.Node) bool {
		if call, ok := n.(*ast.CallExpr); ok {
			if c, ok := goLogCall(call); ok {
				c.where = fmt.Sprintf("p.go:%d", fset.Position(call.Pos()).Line)
				problems = append(problems, checkLog(c)...)
			}
		}
		return true
	})
	assert.Equal(t, []string{
		`p.go:4: message "close": use "closed" (a connection's last line)`,
		`p.go:4: key "bytes" on a "closed" line: use bytes_in and bytes_out (a close line counts each way)`,
		`p.go:5: key "drain": use drain_timeout`,
		`p.go:6: key "remote": use peer`,
		`p.go:8: message "drain timeout: closed remaining connections": use exactly "drain timeout; closed the remaining connections"`,
		`p.go:9: a "closed" line without "duration": a close line has peer, duration, reason (and err on an error, at WARN)`,
		`p.go:10: a "closed" line without "reason": a close line has peer, duration, reason (and err on an error, at WARN)`,
	}, problems)

	assert.Equal(t, []string{
		`x.py:1: level "WARNING": use one of slog's DEBUG, INFO, WARN, ERROR`,
		`x.py:1: message "idle timeout; connection closed": use "closed", with why in the reason key`,
		`x.py:1: key "bytes" on a "closed" line: use bytes_in and bytes_out (a close line counts each way)`,
	}, checkLog(logCall{where: "x.py:1", level: "WARNING", msg: "idle timeout; connection closed", keys: []string{"peer", "bytes"}}))
	assert.Equal(t, []string{`x.py:2: key "timeout" on a "draining" line: use drain_timeout`},
		checkLog(logCall{where: "x.py:2", level: "INFO", msg: "draining", keys: []string{"open", "timeout"}}))
	assert.Empty(t, checkLog(logCall{where: "x.py:3", level: "WARN", msg: drainTimeoutMsg, keys: []string{"drain_timeout"}}))
}
