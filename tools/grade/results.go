package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// testResult is one test (or subtest) of a run.
type testResult struct {
	Dir       string // the directory of the code under test: "ch04-echo", "python"
	Name      string // "TestConformance/SingleByte", "tests/test_ch04_echo.py::test_x"
	passed    bool
	skipped   bool
	failedOwn bool // it failed with messages of its own, not only through a subtest
	reason    string
	grades    map[string]bool
	seconds   float64  // how long it ran (go test's Elapsed, pytest's duration)
	lines     []string // its own output, without go test's framing lines
	out       []string // its own output as go test printed it, for reports
}

// maxOutput bounds the output a report carries for one failed test.
const maxOutput = 200

// output is what a failed test printed, with its subtests' output, at most
// maxOutput lines: what JUnit's system-out and Gradescope's output show.
func (r results) output(t *testResult) string {
	var lines []string
	for _, c := range r.tests {
		if c == t || c.Dir == t.Dir && strings.HasPrefix(c.Name, t.Name+"/") {
			lines = append(lines, c.out...)
		}
	}
	if n := len(lines) - maxOutput; n > 0 {
		lines = append(lines[:maxOutput], fmt.Sprintf("… (%d more lines)", n))
	}
	return strings.Join(lines, "\n")
}

func (t *testResult) id() string { return t.Dir + ": " + t.Name }

// results are the tests of one run, and packages that failed as a whole
// (a build error) by directory.
type results struct {
	tests      []*testResult
	pkgFailure map[string]string
}

// hasFailedChildGraded reports whether t failed only through subtests.
func (r results) hasFailedChildGraded(t *testResult, graded map[string]bool) bool {
	for _, c := range r.tests {
		if c.Dir == t.Dir && strings.HasPrefix(c.Name, t.Name+"/") && !c.passed && !c.skipped {
			return true
		}
	}
	return false
}

var (
	gradesRE = regexp.MustCompile(`\bgrades (exercise-[\w-]+)`)
	headerRE = regexp.MustCompile(`^\s*(=== (RUN|PAUSE|CONT|NAME)|--- (PASS|FAIL|SKIP))`)
	// A line a test wrote with t.Error, t.Fatal or t.Log: "x_test.go:42: text".
	fileRE = regexp.MustCompile(`^\s*[\w.-]+\.go:\d+: ?(.*)$`)
	// testify's report: a label column, then the value ("\tError:  \tNot
	// equal: "), and the value's further lines under an empty label.
	labelRE = regexp.MustCompile(`^\s*\t([A-Z][\w ]*):\s*\t(.*)$`)
	contRE  = regexp.MustCompile(`^\s*\t\s+\t(.*)$`)
	// A record of log/slog's text handler, which servers in tests write.
	slogRE = regexp.MustCompile(`^\s*(time=\S+ )?level=(DEBUG|INFO|WARN|ERROR) `)
)

// informational are the beginnings of what tests of the course log with
// t.Log without failing: never the reason a test failed.
var informational = []string{
	"grades exercise-",      // exercise.Graded
	"grading the server at", // testutil.ExternalAddr
	"stderr of ",            // testutil.StartProcess, after a failure
}

// testEvent is one line of go test -json.
type testEvent struct {
	Action     string
	Package    string
	ImportPath string // build-output events
	Test       string
	Output     string
	Elapsed    float64 // pass, fail and skip events: seconds
}

// runGo runs the Go tests of the copy in dir in short mode: with all, every
// package's (as go test ./... would); otherwise only the tests that grade an
// exercise, found by gradingTests, a package per go test, packages in
// parallel.
func runGo(ctx context.Context, dir string, all bool, exercises map[string]bool) (results, error) {
	module, err := modulePath(dir)
	if err != nil {
		return results{}, err
	}
	// go test's own timeout comes first, so that its report names the test
	// that hung.
	limit := "10m"
	if d, ok := ctx.Deadline(); ok {
		limit = (time.Until(d) * 9 / 10).Round(time.Second).String()
	}
	args := []string{"test", "-json", "-short", "-timeout", limit}
	if all {
		out, err := runCmd(ctx, dir, nil, "go", append(args, "-p", parallelism(), "./...")...)
		if err != nil && len(out) == 0 {
			return results{}, err
		}
		return parseGo(out, module), nil
	}
	selected, err := gradingTests(dir, exercises)
	if err != nil {
		return results{}, fmt.Errorf("finding the grading tests: %w", err)
	}
	var (
		mu   sync.Mutex
		outs [][]byte
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, runtime.GOMAXPROCS(0))
	)
	for _, pkg := range sortedKeys(selected) {
		quoted := make([]string, len(selected[pkg]))
		for i, name := range selected[pkg] {
			quoted[i] = regexp.QuoteMeta(name)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			out, err := runCmd(ctx, dir, nil, "go", slices.Concat(args, []string{"-run", "^(" + strings.Join(quoted, "|") + ")$", "./" + pkg})...)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && len(out) == 0 {
				errs = append(errs, err)
			}
			outs = append(outs, out)
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		return results{}, errs[0]
	}
	return parseGo(bytes.Join(outs, nil), module), nil
}

// modulePath reads the module path from dir's go.mod.
func modulePath(dir string) (string, error) {
	data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return "", fmt.Errorf("%s is not a copy of the course: %w", absDir(dir), err)
	}
	m := regexp.MustCompile(`(?m)^module\s+(\S+)`).FindSubmatch(data)
	if m == nil {
		return "", fmt.Errorf("%s/go.mod has no module line", dir)
	}
	return string(m[1]), nil
}

// parseGo reads go test -json output.
func parseGo(out []byte, module string) results {
	rel := func(pkg string) string {
		if pkg == module {
			return "."
		}
		return strings.TrimPrefix(pkg, module+"/")
	}
	byKey := map[string]*testResult{}
	var order []*testResult
	pkgOut := map[string][]string{}
	pkgFailed := map[string]bool{}
	pkgDone := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		var ev testEvent
		if json.Unmarshal(sc.Bytes(), &ev) != nil {
			continue
		}
		if ev.Action == "build-output" {
			p := rel(ev.ImportPath)
			p = strings.Fields(p + " x")[0] // "pkg [pkg.test]"
			pkgOut[p] = append(pkgOut[p], strings.TrimRight(ev.Output, "\n"))
			continue
		}
		dir := rel(ev.Package)
		if ev.Test == "" {
			switch ev.Action {
			case "start":
				pkgDone[dir] = false
			case "output":
				pkgOut[dir] = append(pkgOut[dir], strings.TrimRight(ev.Output, "\n"))
			case "fail":
				pkgFailed[dir], pkgDone[dir] = true, true
			case "pass", "skip":
				pkgDone[dir] = true
			}
			continue
		}
		key := dir + "\x00" + ev.Test
		t := byKey[key]
		if t == nil {
			t = &testResult{Dir: dir, Name: ev.Test, grades: map[string]bool{}}
			byKey[key] = t
			order = append(order, t)
		}
		switch ev.Action {
		case "output":
			line := strings.TrimRight(ev.Output, "\n")
			if m := gradesRE.FindStringSubmatch(line); m != nil {
				t.grades[m[1]] = true
				continue
			}
			t.out = append(t.out, line)
			if !headerRE.MatchString(line) && strings.TrimSpace(line) != "" {
				t.lines = append(t.lines, line)
			}
		case "pass":
			t.passed, t.seconds = true, ev.Elapsed
		case "skip":
			t.passed, t.skipped, t.seconds = true, true, ev.Elapsed
		case "fail":
			t.passed, t.seconds = false, ev.Elapsed
		}
	}
	r := results{pkgFailure: map[string]string{}}
	failedIn := map[string]bool{}
	for _, t := range order {
		// A subtest is graded by what its parents grade too.
		for i := strings.Index(t.Name, "/"); i >= 0; i = next(t.Name, i) {
			if p := byKey[t.Dir+"\x00"+t.Name[:i]]; p != nil {
				for g := range p.grades {
					t.grades[g] = true
				}
			}
		}
		if !t.passed {
			failedIn[t.Dir] = true
			msg := reasonOf(t.lines)
			t.failedOwn = msg != ""
			switch {
			case msg == "":
				t.reason = t.Name + ": a subtest failed"
			case strings.Contains(msg, "not done yet"):
				t.reason = msg // it says all there is to say
			default:
				t.reason = t.Name + ": " + msg
			}
		}
		r.tests = append(r.tests, t)
	}
	for dir := range pkgFailed {
		if !failedIn[dir] {
			r.pkgFailure[dir] = "package failed: " + reasonOf(pkgOut[dir])
		}
	}
	for dir, done := range pkgDone {
		if !done {
			r.pkgFailure[dir] = "did not finish: grading timed out"
		}
	}
	return r
}

// next returns the index of the next "/" in s after i, or -1.
func next(s string, i int) int {
	j := strings.Index(s[i+1:], "/")
	if j < 0 {
		return -1
	}
	return i + 1 + j
}

// reasonOf picks, from a failed test's output, the message that says why
// it failed: the exercise's "not done yet"; else the first assertion, which
// is testify's report (its Messages, then its Error with the lines under
// it, such as expected and actual) or a line of t.Error or t.Fatal
// ("x_test.go:42: want 1 line, have 0"); else a panic; else the first line
// that is not a server's log record. The lines of t.Log that the course's
// helpers write (informational) are skipped; a t.Log of the test's own
// before its failure cannot be told from a t.Error, and is taken for it.
func reasonOf(lines []string) string {
	for _, l := range lines {
		if strings.Contains(l, "not done yet") {
			if m := fileRE.FindStringSubmatch(l); m != nil {
				l = m[1]
			}
			return strings.TrimSpace(l)
		}
	}
	for i, l := range lines {
		m := fileRE.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		text := strings.TrimSpace(m[1])
		if text == "" { // testify's report follows
			if msg := testifyMessage(lines[i+1:]); msg != "" {
				return msg
			}
			continue
		}
		if !isInformational(text) {
			return text
		}
	}
	for _, l := range lines {
		if t := strings.TrimSpace(l); strings.HasPrefix(t, "panic: ") {
			return t
		}
	}
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t != "" && !slogRE.MatchString(l) && t != "FAIL" && !strings.HasPrefix(t, "FAIL\t") && !strings.HasPrefix(t, "ok ") {
			return t
		}
	}
	return ""
}

func isInformational(text string) bool {
	for _, p := range informational {
		if strings.HasPrefix(text, p) {
			return true
		}
	}
	return false
}

// testifyMessage reads testify's report at the start of lines (a label
// column, then a value; the value's further lines under an empty label):
//
//	Error Trace:  x_test.go:33
//	Error:        Not equal:
//	              expected: 1
//	              actual  : 2
//	Messages:     the reply
//
// and returns "the reply: Not equal: expected: 1, actual: 2". A diff,
// after the expected and actual lines, is left for the output.
func testifyMessage(lines []string) string {
	var errText []string
	messages, label := "", ""
	for _, l := range lines {
		if m := labelRE.FindStringSubmatch(l); m != nil {
			label = m[1]
			switch label {
			case "Error":
				errText = append(errText, strings.TrimSpace(m[2]))
			case "Messages":
				messages = strings.TrimSpace(m[2])
			}
			continue
		}
		m := contRE.FindStringSubmatch(l)
		if m == nil {
			break // the report ended
		}
		if v := strings.TrimSpace(m[1]); label == "Error" && v != "" && !strings.HasPrefix(v, "Diff:") {
			errText = append(errText, v)
		} else if label == "Error" {
			label = "" // the diff, or the blank line before it: not for one line
		}
	}
	msg := strings.Join(strings.Fields(strings.Join(errText, ", ")), " ") // "actual  : x" reads "actual : x"
	msg = strings.ReplaceAll(strings.ReplaceAll(msg, ":, ", ": "), " : ", ": ")
	switch {
	case messages != "" && msg != "":
		return messages + ": " + msg
	case messages != "":
		return messages
	}
	return msg
}

// pythonMissing says why the Python tests cannot run, or "".
func pythonMissing(dir string) string {
	if _, err := os.Stat(filepath.Join(dir, "python", "tests")); err != nil {
		return "no python/tests"
	}
	if _, err := exec.LookPath("python3"); err != nil {
		return "python3 not found"
	}
	if err := exec.Command("python3", "-c", "import pytest").Run(); err != nil {
		return "pytest not installed (python3 -m pip install -r python/requirements-dev.txt)"
	}
	return ""
}

// pyRecord is one test in the report python/tests/conftest.py writes when
// GRADE_REPORT names a file.
type pyRecord struct {
	Test      string   `json:"test"`
	Outcome   string   `json:"outcome"` // passed, failed, skipped
	Message   string   `json:"message"`
	Seconds   float64  `json:"seconds"`
	Exercises []string `json:"exercises"`
}

// runPython runs the pytest suite of the copy in dir: every test with all,
// else only those marked exercise, in the given files or node ids (relative
// to python/; all of tests/ when there are none).
func runPython(ctx context.Context, dir string, all bool, only ...string) (results, error) {
	f, err := os.CreateTemp("", "grade-pytest-*.json")
	if err != nil {
		return results{}, err
	}
	f.Close()
	defer os.Remove(f.Name())
	pyDir := filepath.Join(dir, "python")
	targets := []string{"tests"}
	if len(only) > 0 {
		targets = only
	}
	if !all {
		targets = append(targets, "-m", "exercise") // the tests that grade an exercise
	}
	out, err := runCmd(ctx, pyDir, []string{"GRADE_REPORT=" + f.Name()},
		"python3", append([]string{"-m", "pytest", "-q", "-p", "no:cacheprovider"}, targets...)...)
	if err != nil {
		return results{}, err
	}
	data, err := os.ReadFile(f.Name())
	if err != nil {
		return results{}, err
	}
	var recs []pyRecord
	if len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, &recs); err != nil {
			return results{}, fmt.Errorf("pytest report: %w", err)
		}
	} else {
		return results{}, fmt.Errorf("pytest wrote no report (python/tests/conftest.py missing its GRADE_REPORT hook?)")
	}
	_ = out // pytest -q's summary: the report has it all
	return parsePython(recs), nil
}

// parsePython reads the records of conftest.py's report.
func parsePython(recs []pyRecord) results {
	r := results{pkgFailure: map[string]string{}}
	for _, rec := range recs {
		t := &testResult{Dir: "python", Name: rec.Test, grades: map[string]bool{},
			passed: rec.Outcome != "failed", skipped: rec.Outcome == "skipped", seconds: rec.Seconds}
		for _, e := range rec.Exercises {
			t.grades[e] = true
		}
		if !t.passed {
			t.failedOwn = true
			t.out = strings.Split(strings.TrimRight(rec.Message, "\n"), "\n")
			t.reason = pyReason(rec.Message)
			if !strings.Contains(t.reason, "not done yet") {
				t.reason = pyTestName(rec.Test) + ": " + t.reason
			}
		}
		r.tests = append(r.tests, t)
	}
	sort.SliceStable(r.tests, func(i, j int) bool { return r.tests[i].Name < r.tests[j].Name })
	return r
}

// pyTestName is a pytest node id without its file:
// "tests/test_ch05.py::test_name[../x]" is "test_name[../x]", the
// function and its parametrised case.
func pyTestName(id string) string {
	if i := strings.Index(id, "::"); i >= 0 {
		return id[i+2:]
	}
	return id
}

// pyReason picks what a pytest failure says went wrong: its first "E" line,
// the assertion ("assert ['READY'] == ['BAD_NAME']"), or the assertion's
// message followed by the assertion when it has one.
func pyReason(msg string) string {
	lines := strings.Split(msg, "\n")
	for _, l := range lines {
		if strings.Contains(l, "not done yet") {
			l = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "E "))
			l = strings.TrimPrefix(l, "Failed: ")
			return strings.TrimPrefix(l, "NotImplementedError: ")
		}
	}
	var e []string
	for _, l := range lines {
		if t := strings.TrimSpace(l); strings.HasPrefix(t, "E ") {
			e = append(e, strings.TrimSpace(t[2:]))
		}
	}
	if len(e) > 0 {
		first, isAssert := strings.CutPrefix(e[0], "AssertionError: ")
		if isAssert && !strings.HasPrefix(first, "assert ") && len(e) > 1 && strings.HasPrefix(e[1], "assert ") {
			return first + ": " + e[1] // assert x == y, "message"
		}
		return first
	}
	for i := len(lines) - 1; i >= 0; i-- {
		if t := strings.TrimSpace(lines[i]); t != "" {
			return t
		}
	}
	return "failed"
}

// Retrying. Tests that time real networking on a shared 2-core machine fail
// now and then for want of CPU. A test that failed for any reason but "not
// done yet" runs once more on its own; if it passes then, it counts as
// passed and the scoreboard lists it as flaky.

// retryable returns the failed top-level tests worth a second run, by
// directory.
func (r results) retryable() map[string][]string {
	out := map[string][]string{}
	seen := map[string]bool{}
	for _, t := range r.tests {
		if t.passed || strings.Contains(t.reason, "not done yet") {
			continue
		}
		top, _, _ := strings.Cut(t.Name, "/")
		if t.Dir == "python" {
			top = t.Name // a pytest node id
		}
		if key := t.Dir + "\x00" + top; !seen[key] {
			seen[key] = true
			out[t.Dir] = append(out[t.Dir], top)
		}
	}
	return out
}

// merge replaces r's results for the tests in again, and returns the tests
// that failed before and passed now.
func (r *results) merge(again results) []string {
	byID := map[string]*testResult{}
	for _, t := range again.tests {
		byID[t.id()] = t
	}
	var flaky []string
	for i, t := range r.tests {
		if n, ok := byID[t.id()]; ok {
			if !t.passed && n.passed && !strings.Contains(t.Name, "/") {
				flaky = append(flaky, t.id())
			}
			r.tests[i] = n
		}
	}
	return flaky
}

// retryGo runs the failed tests of each package once more.
func retryGo(ctx context.Context, dir string, r *results) ([]string, error) {
	module, err := modulePath(dir)
	if err != nil {
		return nil, err
	}
	var flaky []string
	for pkg, tests := range r.retryable() {
		if pkg == "python" {
			continue
		}
		quoted := make([]string, len(tests))
		for i, name := range tests {
			quoted[i] = regexp.QuoteMeta(name)
		}
		out, err := runCmd(ctx, dir, nil, "go", "test", "-json", "-short", "-count=1",
			"-run", "^("+strings.Join(quoted, "|")+")$", "./"+pkg)
		if err != nil && len(out) == 0 {
			return nil, err
		}
		flaky = append(flaky, r.merge(parseGo(out, module))...)
	}
	return flaky, nil
}

// retryPython runs the failed pytest tests once more.
func retryPython(ctx context.Context, dir string, r *results) ([]string, error) {
	tests := r.retryable()["python"]
	if len(tests) == 0 {
		return nil, nil
	}
	again, err := runPython(ctx, dir, true, tests...)
	if err != nil {
		return nil, err
	}
	return r.merge(again), nil
}
