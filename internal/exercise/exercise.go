// Package exercise links an exercise's stub in the student's starter copy to
// the tests that grade it.
//
// In the course, each exercise's solution sits in the chapter's code between
// "// ANCHOR: exercise-NAME" and "// ANCHOR_END: exercise-NAME". The starter
// generator (tools/starter, with the stub package) replaces it with
//
//	exercise.TODO("exercise-NAME")
//
// followed, where the function must return values, by a return of zero
// values. A stub never panics: an unsolved exercise must not take down the
// other tests of its package. Instead, each grading test starts with
//
//	exercise.Graded(t, "exercise-NAME")
//
// which fails that test at once, with a message naming the exercise and its
// page, while the package's code still holds the stub. Other tests run as
// usual. In the course itself (solutions in place) Graded only records which
// exercise the test grades, for the grader's scoreboard.
package exercise

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
)

// stubRE finds a Go stub: a TODO call at the start of a line (one
// commented out is not a stub any more); pyStubRE a Python stub's comment.
var (
	stubRE   = regexp.MustCompile(`(?m)^\s*exercise\.TODO\("(exercise-[\w-]+)"\)`)
	pyStubRE = regexp.MustCompile(`(?m)^\s*(?:pass\s+)?# TODO\((exercise-[\w-]+)\): not done yet`)
)

var (
	mu      sync.Mutex
	reached = map[string]bool{} // stubs that ran
)

// TODO stands for the solution of the exercise name in the starter copy. It
// records that the stub ran, and does nothing else.
func TODO(name string) {
	mu.Lock()
	reached[name] = true
	mu.Unlock()
}

// T is the part of testing.TB that Graded uses (this package does not
// import testing, so that the chapters' programs can call TODO).
type T interface {
	Helper()
	Logf(format string, args ...any)
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// Graded marks the running test (or subtest) as a grading test of the named
// exercises. It logs "grades exercise-NAME" (the grader reads it), and fails
// the test at once if the package's code in the working directory still
// holds an exercise's stub; if a stub runs during the test anyway, the test
// fails at its end with the same message.
func Graded(t T, names ...string) {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("exercise: %v", err)
	}
	stubs, err := StubsIn(dir)
	if err != nil {
		t.Fatalf("exercise: %v", err)
	}
	for _, name := range names {
		t.Logf("grades %s", name)
		if stubs[name] {
			t.Fatalf("%s", NotDone(name, dir))
		}
	}
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, name := range names {
			if reached[name] {
				t.Errorf("%s", NotDone(name, dir))
			}
		}
	})
}

// NotDone is the message of a grading test whose exercise is still a stub,
// with the page and anchor where the exercise is taught (see Pointer):
//
//	exercise-idle-deadline: not done yet — see docs/src/ch04-echo.md#exercise-idle-deadline
//
// While no page has the exercise's anchor yet, it names the chapter's page
// if that exists, and no page otherwise: never a page that does not exist.
func NotDone(name, pkgDir string) string {
	root := Root(pkgDir)
	if p := Pointer(root, name); p != "" {
		return fmt.Sprintf("%s: not done yet — see %s", name, p)
	}
	if page := Page(filepath.Base(pkgDir)); root != "" && fileExists(filepath.Join(root, filepath.FromSlash(page))) {
		return fmt.Sprintf("%s: not done yet — see %s", name, page)
	}
	return name + ": not done yet"
}

// Root returns the repository root above dir (the first directory, dir
// included, that holds docs/src), or "" if there is none.
func Root(dir string) string {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	for {
		if info, err := os.Stat(filepath.Join(dir, "docs", "src")); err == nil && info.IsDir() {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// Pointer is where an exercise is taught: the book page that holds its
// anchor, <a id="exercise-NAME"></a>, and the anchor, as
// "docs/src/ch04-echo.md#exercise-idle-deadline" (relative to root, the
// repository). It is "" when no page has the anchor.
func Pointer(root, name string) string {
	anchors, err := Anchors(root)
	if err != nil || anchors[name] == "" {
		return ""
	}
	return anchors[name] + "#" + name
}

// anchorRE finds an exercise's anchor on a page.
var anchorRE = regexp.MustCompile(`<a id="(exercise-[\w-]+)"></a>`)

var (
	anchorsMu    sync.Mutex
	anchorsCache = map[string]map[string]string{}
)

// Anchors maps each exercise anchor of the book in root to the page that
// holds it ("docs/src/ch04-echo.md"), reading every page under docs/src
// once per root and process. The Solutions pages (docs/src/solutions/)
// solve exercises rather than teach them, so their anchors do not count;
// where two pages hold one anchor, the first in path order wins (the
// grader's catalog test refuses that).
func Anchors(root string) (map[string]string, error) {
	if root == "" {
		return nil, nil
	}
	anchorsMu.Lock()
	defer anchorsMu.Unlock()
	if m, ok := anchorsCache[root]; ok {
		return m, nil
	}
	m := map[string]string{}
	src := filepath.Join(root, "docs", "src")
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == "solutions" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".md") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		for _, a := range anchorRE.FindAllSubmatch(data, -1) {
			if _, dup := m[string(a[1])]; !dup {
				m[string(a[1])] = filepath.ToSlash(rel)
			}
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	anchorsCache[root] = m
	return m, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Page is the book page of a chapter, given its directory ("ch04-echo") or a
// Python counterpart's file name ("ch04_echo.py"): docs/src/ch04-echo.md.
// Python files are matched to their chapter by number, and the shared
// packages that hold an exercise (Shared) to the chapter that teaches them.
func Page(chapter string) string {
	if strings.HasSuffix(chapter, ".py") && len(chapter) >= 4 {
		if page, ok := chapterPages[chapter[:4]]; ok {
			return page
		}
	}
	if ch, ok := Shared[chapter]; ok {
		chapter = ch
	}
	return "docs/src/" + chapter + ".md"
}

// Shared maps the shared packages that hold an exercise (by directory name,
// under internal/) to the chapter that teaches them: the accept loop every
// server uses is chapter 3's lesson.
var Shared = map[string]string{
	"serve": "ch03-listen-accept",
}

// chapterPages maps a chapter number ("ch04") to its page, for Python files
// whose names differ from the chapter directory (ch02_tcp_server.py).
var chapterPages = map[string]string{
	"ch01": "docs/src/ch01-overview.md",
	"ch02": "docs/src/ch02-tcp-basics.md",
	"ch03": "docs/src/ch03-listen-accept.md",
	"ch04": "docs/src/ch04-echo.md",
	"ch05": "docs/src/ch05-filexfer.md",
	"ch06": "docs/src/ch06-tls.md",
	"ch07": "docs/src/ch07-bench.md",
}

// StubsIn returns the exercises whose stub is in the Go code of dir (tests
// excluded) or in the Python counterparts beside it (../python/*.py): a Go
// test that runs a Python counterpart may grade a Python exercise.
func StubsIn(dir string) (map[string]bool, error) {
	goFiles, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	pyFiles, err := filepath.Glob(filepath.Join(dir, "..", "python", "*.py"))
	if err != nil {
		return nil, err
	}
	stubs := map[string]bool{}
	for _, f := range append(goFiles, pyFiles...) {
		re := stubRE
		if strings.HasSuffix(f, ".py") {
			re = pyStubRE
		} else if strings.HasSuffix(f, "_test.go") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		for _, m := range re.FindAllSubmatch(data, -1) {
			stubs[string(m[1])] = true
		}
	}
	return stubs, nil
}
