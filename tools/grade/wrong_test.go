package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/tools/stub"
)

// TestWrongSolutionsFail applies every wrong solution of every exercise
// (chNN-name/testdata/exercises/exercise-NAME/wrong-SLUG.go|.py) to a copy
// of the course, solutions in: the wrong solution's text replaces the
// exercise's region, the exercise's grading tests run (those the grader
// selects for it with -exercise, each once), they must fail, and the region
// is restored. A wrong solution that passes is an exercise whose tests miss
// a plausible mistake.
//
// Chapters are independent (a chapter's tests build only its own code and
// its Python twin), so a chapter's wrong solutions run one after the other
// while other chapters' run beside them, one chapter per core; a shared
// package (internal/serve) is used by every chapter, so its wrong solutions
// run alone, after the others. The go build cache keeps each build.
//
// It copies and grades the whole course many times (minutes on a 2-core
// machine), so it runs only when asked: WRONG_E2E=1 (.ci/run sets it).
func TestWrongSolutionsFail(t *testing.T) {
	if os.Getenv("WRONG_E2E") == "" {
		t.Skip("set WRONG_E2E=1 to apply each wrong solution to a copy of the course and require its grading tests to fail")
	}
	start := time.Now()
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	dir := filepath.Join(t.TempDir(), "course")
	require.NoError(t, copyCourse(root, dir))
	infos, _, err := stub.Catalog(dir)
	require.NoError(t, err)

	var withWrong []stub.Info
	var names, none []string
	for _, in := range infos {
		if len(in.Wrong) == 0 {
			none = append(none, in.Name)
			continue
		}
		withWrong = append(withWrong, in)
		names = append(names, in.Name)
	}
	if len(none) > 0 {
		t.Logf("no wrong solutions yet (TestCatalogIsComplete lists what is missing): %s", strings.Join(none, ", "))
	}
	if len(withWrong) == 0 {
		t.Skip("no exercise has wrong solutions yet")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 40*time.Minute)
	defer cancel()

	// First, with the solutions in, the grading tests pass: otherwise a
	// wrong solution's failure would prove nothing.
	b, err := Grade(ctx, dir, Options{Python: "on", Only: names})
	require.NoError(t, err)
	for _, r := range b.Exercises {
		require.True(t, r.Passed, "%s fails with its own solution: %s", r.Exercise, r.Reason)
	}
	t.Logf("the %d exercises with wrong solutions pass with their own (%s)", len(withWrong), time.Since(start).Round(time.Second))

	// Units of work: a chapter's exercises, or a shared package's.
	units := map[string][]stub.Info{}
	for _, in := range withWrong {
		key := in.Chapter()
		if strings.HasPrefix(in.File, "internal/") {
			key = "shared " + filepath.ToSlash(filepath.Dir(in.File))
		}
		units[key] = append(units[key], in)
	}
	keys := sortedKeys(units)
	var chapters, shared []string
	for _, k := range keys {
		if strings.HasPrefix(k, "shared ") {
			shared = append(shared, k)
		} else {
			chapters = append(chapters, k)
		}
	}
	var (
		mu      sync.Mutex
		reports []string
		applied int
	)
	runUnit := func(key string) {
		for _, in := range units[key] {
			for _, w := range in.Wrong {
				took := time.Now()
				line, failed := applyWrong(ctx, dir, in, w)
				mu.Lock()
				applied++
				reports = append(reports, fmt.Sprintf("%s (%s)", line, time.Since(took).Round(100*time.Millisecond)))
				if failed {
					t.Error(line)
				}
				mu.Unlock()
			}
		}
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for _, key := range chapters {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			runUnit(key)
		})
	}
	wg.Wait()
	for _, key := range shared {
		runUnit(key)
	}
	slices.Sort(reports)
	for _, r := range reports {
		t.Log(r)
	}
	t.Logf("%d wrong solutions of %d exercises applied in %s", applied, len(withWrong), time.Since(start).Round(time.Second))
}

// applyWrong puts the wrong solution w in place of its exercise's region
// in the copy at dir, grades that exercise alone, and restores the file. It
// returns a line for the report, and whether the wrong solution got
// through: it passed, or it could not be graded at all.
func applyWrong(ctx context.Context, dir string, in stub.Info, w stub.Wrong) (string, bool) {
	label := fmt.Sprintf("%s: wrong solution %s (%s)", in.Name, w.Slug, w.Description)
	file := filepath.Join(dir, filepath.FromSlash(in.File))
	orig, err := os.ReadFile(file)
	if err != nil {
		return label + ": " + err.Error(), true
	}
	defer func() { _ = os.WriteFile(file, orig, 0o644) }()
	src, err := stub.Replace(in.File, orig, in.Name, w.Text)
	if err != nil {
		return label + ": cannot be applied: " + err.Error(), true
	}
	if err := os.WriteFile(file, src, 0o644); err != nil {
		return label + ": " + err.Error(), true
	}
	b, err := Grade(ctx, dir, Options{Python: "on", Only: []string{in.Name}, Once: true})
	if err != nil {
		return label + ": not graded: " + err.Error(), true
	}
	if len(b.Exercises) != 1 {
		return fmt.Sprintf("%s: graded %d rows", label, len(b.Exercises)), true
	}
	r := b.Exercises[0]
	switch {
	case r.Passed:
		return label + " passes its grading tests", true
	case len(r.Tests) == 0:
		return label + ": no grading test ran: " + oneLine(r.Reason, 300), true
	}
	return label + " is refused: " + oneLine(r.Reason, 200), false
}

// copyCourse copies the files git knows in root (tracked, or new and not
// ignored) to dir, as they are in the work tree.
func copyCourse(root, dir string) error {
	ls, err := exec.Command("git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		return fmt.Errorf("git ls-files: %w", err)
	}
	for _, name := range strings.Split(strings.TrimRight(string(ls), "\x00"), "\x00") {
		src := filepath.Join(root, filepath.FromSlash(name))
		info, err := os.Lstat(src)
		if os.IsNotExist(err) {
			continue // deleted in the work tree, not yet committed
		} else if err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			continue
		}
		data, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, data, info.Mode().Perm()); err != nil {
			return err
		}
	}
	return nil
}
