// Command starter writes a student's starting copy of the course: every
// exercise solution (a region between "ANCHOR: exercise-NAME" and
// "ANCHOR_END: exercise-NAME" in a chapter's Go code or a Python
// counterpart) is replaced by its stub (tools/stub), so the same
// tests that pass on the course grade the student's work.
//
//	go run ./tools/starter -out ../tcp-course-starter
//
// The copy is a git repository of its own, with a README for the student.
// The course's own tooling (this command, CI workflows) stays behind.
package main

import (
	"bytes"
	_ "embed"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/tcp-in-go/course/tools/stub"
)

func main() {
	out := flag.String("out", "", "directory to write the starter copy into (must not exist)")
	solutions := flag.Bool("solutions", false, "keep the solutions (the instructor's copy, graded all green)")
	flag.Parse()
	if *out == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: go run ./tools/starter -out DIR [-solutions]")
		os.Exit(2)
	}
	names, err := Write(".", *out, *solutions)
	if err != nil {
		fmt.Fprintln(os.Stderr, "starter:", err)
		os.Exit(1)
	}
	if *solutions {
		fmt.Fprintf(os.Stderr, "starter: wrote %s with the solutions of its %d exercises\n", *out, len(names))
		return
	}
	fmt.Fprintf(os.Stderr, "starter: wrote %s with %d exercises to solve; grade them with: cd %s && go run ./tools/grade\n",
		*out, len(names), *out)
}

// studentREADME becomes the copy's README.md.
//
//go:embed README.student.md
var studentREADME []byte

// left out of the copy: the course's own tooling and CI. The copy keeps
// .github/classroom/ (GitHub Classroom reads its tests there, in the
// student's repository).
func left(name string) bool {
	if strings.HasPrefix(name, ".github/classroom/") {
		return false
	}
	for _, p := range []string{".ci/", ".github/", "tools/starter/"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// Write copies the files git tracks in root to out, replacing exercise
// solutions by stubs unless solutions is set, and makes out a git
// repository with one commit. It returns the exercises it found.
func Write(root, out string, solutions bool) (names []string, err error) {
	if _, err := os.Stat(out); err == nil {
		return nil, fmt.Errorf("%s already exists", out)
	}
	ls, err := exec.Command("git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		return nil, fmt.Errorf("git ls-files: %w", err)
	}
	for _, name := range strings.Split(strings.TrimRight(string(ls), "\x00"), "\x00") {
		if left(name) {
			continue
		}
		src := filepath.Join(root, filepath.FromSlash(name))
		info, err := os.Lstat(src)
		if os.IsNotExist(err) {
			continue // deleted in the work tree, not yet committed
		} else if err != nil {
			return nil, err
		}
		data, err := os.ReadFile(src)
		if err != nil {
			return nil, err
		}
		stubbed, found, err := stub.File(name, data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		names = append(names, found...)
		if !solutions {
			data = stubbed
		}
		if name == "README.md" {
			data = studentREADME
		}
		dst := filepath.Join(out, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(dst, data, info.Mode().Perm()); err != nil {
			return nil, err
		}
	}
	return names, gitInit(out)
}

// gitInit makes dir a repository with everything committed, so that a
// student's changes show up in git diff.
func gitInit(dir string) error {
	for _, args := range [][]string{
		{"init", "-q"},
		{"add", "-A"},
		{"-c", "user.name=tcp-in-go starter", "-c", "user.email=starter@invalid", "commit", "-q", "-m", "Starter copy of the course"},
	} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, stderr.String())
		}
	}
	return nil
}
