package conventions

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tcp-in-go/course/tests/testutil"
)

// maxTracked is the largest file the repository may track: a source file,
// a page or a golden transcript is far smaller. Anything bigger is almost
// always something built or downloaded, which belongs in .gitignore.
const maxTracked = 1 << 20

// allowedLarge are the tracked files that may be binary or over maxTracked,
// each with the reason. Keep the list short: a new entry is a decision.
var allowedLarge = map[string]string{
	// mermaid's browser bundle (2.6 MB, minified JavaScript): committed so
	// that `mdbook build docs` draws diagrams on a clean clone, with no
	// download at build time (mdbook-mermaid --install would fetch it).
	"docs/theme/mermaid.min.js": "vendored mermaid bundle",
}

// TestTrackedFiles fails on any tracked file that is binary (a NUL byte in
// its first 8 KiB, as git itself decides) or larger than 1 MiB, outside
// allowedLarge: compiled programs, archives and generated output stay out
// of git, and out of every student's starter copy (which copies only
// tracked files).
func TestTrackedFiles(t *testing.T) {
	root := testutil.RepoRoot(t)
	if _, err := os.Stat(filepath.Join(root, ".git")); err != nil {
		t.Skip("skipping: not a git checkout, so there is no list of tracked files")
	}
	testutil.RequireTool(t, "git")
	out, err := exec.Command("git", "-C", root, "ls-files", "-z").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	names := strings.Split(strings.TrimRight(string(out), "\x00"), "\x00")
	if len(names) < 100 {
		t.Fatalf("git ls-files listed %d files; expected the whole course", len(names))
	}
	for _, name := range names {
		if _, ok := allowedLarge[name]; ok {
			continue
		}
		// The wire view's captures (tools/wire, a few KiB each, headers
		// only): test fixtures the book links for download into Wireshark.
		if strings.HasPrefix(name, "docs/src/wire/") && strings.HasSuffix(name, ".pcap") {
			continue
		}
		info, err := os.Lstat(filepath.Join(root, filepath.FromSlash(name)))
		if err != nil || !info.Mode().IsRegular() {
			continue // deleted in the work tree, or a symlink
		}
		if info.Size() > maxTracked {
			t.Errorf("%s: %d bytes tracked (limit %d): build output or a download? add it to .gitignore, or to allowedLarge with the reason", name, info.Size(), maxTracked)
			continue
		}
		if binary(t, filepath.Join(root, filepath.FromSlash(name))) {
			t.Errorf("%s: a binary file is tracked: build output? add it to .gitignore, or to allowedLarge with the reason", name)
		}
	}
}

// binary reports whether the file's first 8 KiB hold a NUL byte.
func binary(t *testing.T, path string) bool {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 8<<10)
	n, _ := f.Read(buf)
	return bytes.IndexByte(buf[:n], 0) >= 0
}

// TestBinaryCheckFires shows the check catches a compiled program: the
// test binary itself is one.
func TestBinaryCheckFires(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if !binary(t, exe) {
		t.Fatalf("%s: a compiled program not taken for a binary file", exe)
	}
	if binary(t, "repo_test.go") {
		t.Fatal("repo_test.go taken for a binary file")
	}
}
