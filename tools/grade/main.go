// Command grade runs the tests of a copy of the course (a student's starter
// copy, or the course itself) and prints a scoreboard: one row per exercise,
// with its chapter, pass or fail, and a one-line reason.
//
//	go run ./tools/grade [-all] [-junit FILE] [-json] [DIR]
//
// The exercises are the "ANCHOR: exercise-…" regions of the chapters' Go
// code and Python counterparts. A Go test grades an exercise when it calls
// exercise.Graded (it logs "grades exercise-NAME"); a pytest test when it is
// marked @pytest.mark.exercise("exercise-NAME").
//
// By default only the tests that grade an exercise run (gradingTests finds
// the Go ones by reading the test files; pytest selects -m exercise), in
// short mode, Go packages in parallel, then Python. With -all every test
// runs, as go test ./... and pytest would, and a failure of one that grades
// no exercise is listed under the scoreboard. A test that failed for
// another reason than "not done yet" runs once more; passing then, it
// counts and is listed as flaky. The exit status is 0 only when everything
// that ran passed.
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
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"text/tabwriter"
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
	asJSON := fs.Bool("json", false, "print the scoreboard as JSON instead of a table")
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
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	start := time.Now()
	b, err := Grade(ctx, dir, Options{Python: *python, All: *all})
	if err != nil {
		fmt.Fprintln(os.Stderr, "grade:", err)
		os.Exit(1)
	}
	b.Seconds = time.Since(start).Seconds()
	if *junit != "" {
		if err := os.WriteFile(*junit, b.JUnit(), 0o644); err != nil {
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
	Python string // "auto", "on" or "off"
	All    bool   // run every test, not only those that grade an exercise
}

// Board is the result of grading a copy.
type Board struct {
	Exercises []Row     `json:"exercises"`
	Passed    int       `json:"passed"`
	Total     int       `json:"total"`
	Other     []Failure `json:"other_failures"` // tests that grade no exercise and failed
	Flaky     []string  `json:"flaky"`          // failed, then passed when run again
	Python    string    `json:"python"`         // "graded", or why not
	Seconds   float64   `json:"seconds"`
}

// Row is one exercise on the scoreboard.
type Row struct {
	Chapter  string   `json:"chapter"`
	Exercise string   `json:"exercise"`
	Lang     string   `json:"lang"`
	File     string   `json:"file"`
	Passed   bool     `json:"passed"`
	Reason   string   `json:"reason,omitempty"`
	Tests    []string `json:"tests"`
}

// Failure is a failed test that grades no exercise.
type Failure struct {
	Test   string `json:"test"`
	Reason string `json:"reason"`
}

// AllPassed reports whether every exercise and every other test passed.
func (b *Board) AllPassed() bool { return b.Passed == b.Total && len(b.Other) == 0 }

// Grade runs the Go and Python tests of the copy in dir and scores them.
func Grade(ctx context.Context, dir string, opt Options) (*Board, error) {
	exs, err := stub.Find(dir)
	if err != nil {
		return nil, err
	}
	if len(exs) == 0 {
		return nil, fmt.Errorf("%s holds no exercises (is it a copy of the course?)", dir)
	}
	// Go first (its packages in parallel), then Python: both at once would
	// load a 2-core machine enough to make timing-sensitive tests flaky.
	names := map[string]bool{}
	for _, e := range exs {
		names[e.Name] = true
	}
	goRes, err := runGo(ctx, dir, opt.All, names)
	if err != nil {
		return nil, err
	}
	flaky, err := retryGo(ctx, dir, &goRes)
	if err != nil {
		return nil, err
	}
	var pyRes results
	pyStatus := "off"
	if opt.Python != "off" {
		if why := pythonMissing(dir); why != "" {
			if opt.Python == "on" {
				return nil, fmt.Errorf("python: %s", why)
			}
			pyStatus = "not graded: " + why
		} else if pyRes, err = runPython(ctx, dir, opt.All); err != nil {
			return nil, err
		} else {
			pyStatus = "graded"
			again, err := retryPython(ctx, dir, &pyRes)
			if err != nil {
				return nil, err
			}
			flaky = append(flaky, again...)
		}
	}
	b := &Board{Python: pyStatus, Flaky: flaky}
	graded := map[string]bool{}
	for _, e := range exs {
		if e.Lang == "python" && pyStatus != "graded" {
			continue
		}
		row := Row{Chapter: e.Chapter(), Exercise: e.Name, Lang: e.Lang, File: e.File, Passed: true}
		// A test in either language may grade it (a Go test of a Python
		// counterpart grades a Python exercise, and the other way round).
		for _, t := range append(goRes.tests, pyRes.tests...) {
			if !t.grades[e.Name] {
				continue
			}
			graded[t.id()] = true
			row.Tests = append(row.Tests, t.Name)
			// The first failure explains it, unless a later one says the
			// exercise is not done yet: that says it best.
			if !t.passed && (row.Passed || !strings.Contains(row.Reason, "not done yet") && strings.Contains(t.reason, "not done yet")) {
				row.Passed, row.Reason = false, t.reason
			}
		}
		if len(row.Tests) == 0 {
			row.Passed, row.Reason = false, "no test grades it"
			if p := goRes.pkgFailure[path.Dir(e.File)]; p != "" {
				row.Reason = p
			}
		}
		if row.Passed {
			b.Passed++
		}
		b.Total++
		b.Exercises = append(b.Exercises, row)
	}
	sort.SliceStable(b.Exercises, func(i, j int) bool { return b.Exercises[i].Chapter < b.Exercises[j].Chapter })
	for _, res := range []results{goRes, pyRes} {
		for _, t := range res.tests {
			if !t.passed && !graded[t.id()] && !res.hasFailedChildGraded(t, graded) && t.failedOwn {
				b.Other = append(b.Other, Failure{Test: t.id(), Reason: t.reason})
			}
		}
		for _, pkg := range sortedKeys(res.pkgFailure) {
			b.Other = append(b.Other, Failure{Test: pkg, Reason: res.pkgFailure[pkg]})
		}
	}
	return b, nil
}

// Print writes the scoreboard as a table.
func (b *Board) Print(w io.Writer) {
	var table bytes.Buffer
	tw := tabwriter.NewWriter(&table, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CHAPTER\tEXERCISE\tLANG\tRESULT\tREASON")
	for _, r := range b.Exercises {
		result := "pass"
		if !r.Passed {
			result = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Chapter, r.Exercise, r.Lang, result, oneLine(r.Reason, 90))
	}
	_ = tw.Flush()
	for _, line := range strings.SplitAfter(table.String(), "\n") {
		fmt.Fprint(w, strings.TrimRight(line, " \n")+strings.Repeat("\n", strings.Count(line, "\n")))
	}
	fmt.Fprintf(w, "\n%d/%d exercises done", b.Passed, b.Total)
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
			fmt.Fprintf(w, "  %s: %s\n", f.Test, oneLine(f.Reason, 100))
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
