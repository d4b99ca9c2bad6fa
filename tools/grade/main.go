// Command grade runs the tests of a copy of the course (a student's starter
// copy, or the course itself) and prints a scoreboard: one row per exercise,
// with its chapter, title, points, pass or fail, and why it failed.
//
//	go run ./tools/grade [-all] [-exercise NAME,...] [-junit FILE] [-gradescope FILE] [-json] [DIR]
//	go run ./tools/grade -classroom [DIR]
//
// The exercises are the "ANCHOR: exercise-…" regions of the chapters' Go
// code and Python counterparts; the title and points of each come from its
// directory, chNN-name/testdata/exercises/exercise-NAME/exercise.json, and
// the page that teaches it is the one holding <a id="exercise-NAME"></a>
// (see tools/stub's Catalog). A Go test grades an exercise when it calls
// exercise.Graded (it logs "grades exercise-NAME"); a pytest test when it
// is marked @pytest.mark.exercise("exercise-NAME").
//
// By default only the tests that grade an exercise run (gradingTests finds
// the Go ones by reading the test files; pytest selects -m exercise), in
// short mode, Go packages in parallel, then Python. -exercise grades only
// the named exercises, running only their tests. With -all every test
// runs, as go test ./... and pytest would, and a failure of one that grades
// no exercise is listed under the scoreboard. A test that failed for
// another reason than "not done yet" runs once more; passing then, it
// counts and is listed as flaky. The exit status is 0 only when everything
// that ran passed.
//
// A failed exercise's reason is its failing test's name and first
// assertion: testify's report, a t.Error or t.Fatal line, pytest's
// assertion with the case's id. The JUnit file (-junit), Gradescope's
// results.json (-gradescope) and -json carry it, with the test's output.
// -classroom writes .github/classroom/autograding.json, GitHub Classroom's
// tests: one per exercise, each running this command with -exercise.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/tcp-in-go/course/tools/stub"
)

func main() {
	fs := flag.NewFlagSet("grade", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: go run ./tools/grade [flags] [DIR]\n\nGrades the copy of the course in DIR (default .).\n\nFlags:")
		fs.PrintDefaults()
	}
	junit := fs.String("junit", "", "also write the scoreboard as JUnit XML to `FILE`")
	gradescope := fs.String("gradescope", "", "also write the scoreboard as Gradescope's results.json to `FILE`")
	classroom := fs.Bool("classroom", false, "write DIR/"+classroomFile+" (GitHub Classroom's tests, one per exercise) and exit")
	asJSON := fs.Bool("json", false, "print the scoreboard as JSON instead of a table")
	only := fs.String("exercise", "", "grade only these exercises (`NAME,...`), running only their tests")
	python := fs.String("python", "auto", "grade the Python exercises: auto (when python3 and pytest are installed), on, off")
	all := fs.Bool("all", false, "run every test (as go test ./... and pytest would), not only those that grade an exercise; the others must pass too")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	dir := "."
	switch fs.NArg() {
	case 0:
	case 1:
		dir = fs.Arg(0)
	default:
		fs.Usage()
		os.Exit(2)
	}
	if *classroom {
		if err := WriteClassroom(dir); err != nil {
			fmt.Fprintln(os.Stderr, "grade:", err)
			os.Exit(1)
		}
		fmt.Fprintf(os.Stderr, "grade: wrote %s\n", filepath.Join(dir, classroomFile))
		return
	}
	var names []string
	if *only != "" {
		names = strings.Split(*only, ",")
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	start := time.Now()
	b, err := Grade(ctx, dir, Options{Python: *python, All: *all, Only: names})
	if err != nil {
		fmt.Fprintln(os.Stderr, "grade:", err)
		os.Exit(1)
	}
	b.Seconds = time.Since(start).Seconds()
	for file, data := range map[string]func() []byte{*junit: b.JUnit, *gradescope: b.Gradescope} {
		if file == "" {
			continue
		}
		if err := os.WriteFile(file, data(), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "grade:", err)
			os.Exit(1)
		}
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(b)
	} else {
		b.Print(os.Stdout)
	}
	if !b.AllPassed() {
		os.Exit(1)
	}
}

// Options tune a grading run.
type Options struct {
	Python string   // "auto", "on" or "off"
	All    bool     // run every test, not only those that grade an exercise
	Only   []string // grade only these exercises (all when empty)
	Once   bool     // run each test once: a failure is not retried
}

// Board is the result of grading a copy.
type Board struct {
	Exercises []Row     `json:"exercises"`
	Passed    int       `json:"passed"`
	Total     int       `json:"total"`
	Score     int       `json:"score"`          // points of the exercises that passed
	MaxScore  int       `json:"max_score"`      // points of every exercise graded
	Other     []Failure `json:"other_failures"` // tests that grade no exercise and failed
	Flaky     []string  `json:"flaky"`          // failed, then passed when run again
	Python    string    `json:"python"`         // "graded", or why not
	Seconds   float64   `json:"seconds"`
}

// Row is one exercise on the scoreboard.
type Row struct {
	Chapter  string   `json:"chapter"`
	Exercise string   `json:"exercise"`
	Title    string   `json:"title"`
	Lang     string   `json:"lang"`
	File     string   `json:"file"`
	Pointer  string   `json:"pointer,omitempty"` // where it is taught: docs/src/PAGE.md#exercise-NAME
	Points   int      `json:"points"`
	Passed   bool     `json:"passed"`
	Reason   string   `json:"reason,omitempty"` // the failing test and its first assertion
	Test     string   `json:"test,omitempty"`   // the failing test: "ch04-echo: TestX/y"
	Output   string   `json:"output,omitempty"` // what the failing test printed
	Tests    []string `json:"tests"`
	Seconds  float64  `json:"seconds"` // the time its tests took
}

// Score is the points the row earned: all or nothing.
func (r Row) Score() int {
	if r.Passed {
		return r.Points
	}
	return 0
}

// Failure is a failed test that grades no exercise.
type Failure struct {
	Test   string `json:"test"`
	Reason string `json:"reason"`
	Output string `json:"output,omitempty"`
}

// AllPassed reports whether every exercise and every other test passed.
func (b *Board) AllPassed() bool { return b.Passed == b.Total && len(b.Other) == 0 }

// Grade runs the Go and Python tests of the copy in dir and scores them.
func Grade(ctx context.Context, dir string, opt Options) (*Board, error) {
	exs, _, err := stub.Catalog(dir)
	if err != nil {
		return nil, err
	}
	if len(exs) == 0 {
		return nil, fmt.Errorf("%s holds no exercises (is it a copy of the course?)", dir)
	}
	if len(opt.Only) > 0 {
		var picked []stub.Info
		for _, name := range opt.Only {
			i := slices.IndexFunc(exs, func(e stub.Info) bool { return e.Name == name })
			if i < 0 {
				return nil, fmt.Errorf("%s is not an exercise of %s", name, absDir(dir))
			}
			picked = append(picked, exs[i])
		}
		exs = picked
	}
	names := map[string]bool{}
	for _, e := range exs {
		names[e.Name] = true
	}
	// Go first (its packages in parallel), then Python: both at once would
	// load a 2-core machine enough to make timing-sensitive tests flaky.
	goRes, err := runGo(ctx, dir, opt.All, names)
	if err != nil {
		return nil, err
	}
	var flaky []string
	if !opt.Once {
		if flaky, err = retryGo(ctx, dir, &goRes); err != nil {
			return nil, err
		}
	}
	var pyRes results
	pyStatus := "off"
	pyFiles, err := pythonFiles(dir, opt.All, len(opt.Only) > 0, names)
	if err != nil {
		return nil, err
	}
	switch {
	case opt.Python == "off":
	case pyFiles != nil && len(pyFiles) == 0:
		pyStatus = "graded" // no Python test grades these exercises: nothing to run
	default:
		if why := pythonMissing(dir); why != "" {
			if opt.Python == "on" {
				return nil, fmt.Errorf("python: %s", why)
			}
			pyStatus = "not graded: " + why
		} else if pyRes, err = runPython(ctx, dir, opt.All, pyFiles...); err != nil {
			return nil, err
		} else {
			pyStatus = "graded"
			if !opt.Once {
				again, err := retryPython(ctx, dir, &pyRes)
				if err != nil {
					return nil, err
				}
				flaky = append(flaky, again...)
			}
		}
	}
	b := score(exs, goRes, pyRes, pyStatus)
	b.Flaky = flaky
	return b, nil
}

// score builds the board from the runs' results: a row per exercise, its
// reason the best of its failed tests' (see better), and the failed tests
// that grade no exercise.
func score(exs []stub.Info, goRes, pyRes results, pyStatus string) *Board {
	b := &Board{Python: pyStatus}
	graded := map[string]bool{}
	for _, e := range exs {
		if e.Lang == "python" && pyStatus != "graded" {
			continue
		}
		row := Row{Chapter: e.Chapter(), Exercise: e.Name, Title: e.Title, Lang: e.Lang, File: e.File,
			Pointer: e.Pointer, Points: e.Points, Passed: true}
		// A test in either language may grade it (a Go test of a Python
		// counterpart grades a Python exercise, and the other way round).
		var failed *testResult
		var failedIn results
		for _, res := range []results{goRes, pyRes} {
			for _, t := range res.tests {
				if !t.grades[e.Name] {
					continue
				}
				graded[t.id()] = true
				row.Tests = append(row.Tests, t.Name)
				if !slices.ContainsFunc(res.tests, func(p *testResult) bool { // its parent's time counts it
					return p.Dir == t.Dir && p.grades[e.Name] && strings.HasPrefix(t.Name, p.Name+"/")
				}) {
					row.Seconds += t.seconds
				}
				if !t.passed && better(t, failed) {
					failed, failedIn = t, res
				}
			}
		}
		if failed != nil {
			row.Passed, row.Reason, row.Test, row.Output = false, failed.reason, failed.id(), failedIn.output(failed)
		}
		if len(row.Tests) == 0 {
			row.Passed, row.Reason = false, "no test grades it"
			if p := goRes.pkgFailure[filepath.ToSlash(filepath.Dir(e.File))]; p != "" {
				row.Reason = p
			}
		}
		if row.Passed {
			b.Passed++
		}
		b.Total++
		b.Score += row.Score()
		b.MaxScore += row.Points
		b.Exercises = append(b.Exercises, row)
	}
	sort.SliceStable(b.Exercises, func(i, j int) bool { return b.Exercises[i].Chapter < b.Exercises[j].Chapter })
	for _, res := range []results{goRes, pyRes} {
		for _, t := range res.tests {
			if !t.passed && !graded[t.id()] && !res.hasFailedChildGraded(t, graded) && t.failedOwn {
				b.Other = append(b.Other, Failure{Test: t.id(), Reason: t.reason, Output: res.output(t)})
			}
		}
		for _, pkg := range sortedKeys(res.pkgFailure) {
			b.Other = append(b.Other, Failure{Test: pkg, Reason: res.pkgFailure[pkg]})
		}
	}
	return b
}

// better reports whether the failed test t explains an exercise's failure
// better than the one found so far: "not done yet" says it best; then a
// test that failed with a message of its own (the first such, in the order
// the tests ran) over one that failed only through a subtest.
func better(t, sofar *testResult) bool {
	switch {
	case sofar == nil:
		return true
	case strings.Contains(sofar.reason, "not done yet"):
		return false
	case strings.Contains(t.reason, "not done yet"):
		return true
	}
	return t.failedOwn && !sofar.failedOwn
}

// pythonFiles returns the pytest targets (relative to python/) that grade
// the exercises: nil for all of tests/ (the default run, and -all); with
// -exercise (only), the test files that name one of them, in which pytest
// -m exercise runs the grading tests (an empty list: none).
func pythonFiles(dir string, all, only bool, names map[string]bool) ([]string, error) {
	if all || !only {
		return nil, nil
	}
	files, err := filepath.Glob(filepath.Join(dir, "python", "tests", "test_*.py"))
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		for name := range names {
			if bytes.Contains(data, []byte(`"`+name+`"`)) {
				out = append(out, "tests/"+filepath.Base(f))
				break
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// Print writes the scoreboard as a table: a row per exercise, and under a
// failed one the reason.
func (b *Board) Print(w io.Writer) {
	head := []string{"CHAPTER", "EXERCISE", "LANG", "POINTS", "RESULT", "TITLE"}
	rows := [][]string{head}
	for _, r := range b.Exercises {
		result := "pass"
		if !r.Passed {
			result = "FAIL"
		}
		title := r.Title
		if title == r.Exercise {
			title = "" // no exercise.json yet
		}
		rows = append(rows, []string{r.Chapter, r.Exercise, r.Lang, fmt.Sprintf("%d/%d", r.Score(), r.Points), result, title})
	}
	width := make([]int, len(head))
	for _, row := range rows {
		for i, cell := range row {
			width[i] = max(width[i], len([]rune(cell)))
		}
	}
	indent := strings.Repeat(" ", width[0]+2)
	for i, row := range rows {
		var line strings.Builder
		for j, cell := range row {
			line.WriteString(cell)
			if j < len(row)-1 {
				line.WriteString(strings.Repeat(" ", width[j]-len([]rune(cell))+2))
			}
		}
		fmt.Fprintln(w, strings.TrimRight(line.String(), " "))
		if i > 0 && !b.Exercises[i-1].Passed {
			r := b.Exercises[i-1]
			fmt.Fprintln(w, indent+oneLine(strings.TrimPrefix(r.Reason, r.Exercise+": "), 160))
		}
	}
	fmt.Fprintf(w, "\n%d/%d exercises done, %d/%d points", b.Passed, b.Total, b.Score, b.MaxScore)
	if b.Python != "graded" {
		fmt.Fprintf(w, " (Python %s)", b.Python)
	}
	fmt.Fprintf(w, "; graded in %.0fs.\n", b.Seconds)
	if len(b.Flaky) > 0 {
		fmt.Fprintf(w, "\nFailed, then passed when run again (flaky, counted as passed): %s\n", strings.Join(b.Flaky, ", "))
	}
	if len(b.Other) > 0 {
		fmt.Fprintf(w, "\n%d other tests failed (they grade no exercise, and must pass too):\n", len(b.Other))
		for _, f := range b.Other {
			_, name, _ := strings.Cut(f.Test, ": ") // "docs: TestX", whose reason starts "TestX: "
			fmt.Fprintf(w, "  %s: %s\n", f.Test, oneLine(strings.TrimPrefix(f.Reason, name+": "), 140))
		}
	}
}

// oneLine shortens s to one line of at most n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// runCmd runs a command in dir, returning its stdout; a non-zero exit (tests
// failed) is not an error here, a command that could not run is.
func runCmd(ctx context.Context, dir string, env []string, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil { // what it wrote so far still counts
		return stdout.Bytes(), fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), ctx.Err())
	}
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if stdout.Len() == 0 && err != nil {
		return nil, fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, oneLine(stderr.String(), 300))
	}
	return stdout.Bytes(), nil
}

// parallelism is how many Go packages are tested at once: all cores.
func parallelism() string { return fmt.Sprint(runtime.GOMAXPROCS(0)) }

// absDir is dir made absolute, for messages.
func absDir(dir string) string {
	if a, err := filepath.Abs(dir); err == nil {
		return a
	}
	return dir
}
