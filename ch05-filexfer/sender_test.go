package main

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

// TestCollect: a file goes under its base name, a directory under its own
// name plus relative paths with '/', and symlinks inside it are skipped.
func TestCollect(t *testing.T) {
	src := t.TempDir()
	randomFile(t, src, "top.txt", 1, 1)
	randomFile(t, src, "album/a.jpg", 1, 2)
	randomFile(t, src, "album/2024/b.jpg", 1, 3)
	if runtime.GOOS != "windows" {
		require.NoError(t, os.Symlink("/etc/passwd", filepath.Join(src, "album", "link")))
	}
	jobs, err := collect([]string{filepath.Join(src, "top.txt"), filepath.Join(src, "album") + string(filepath.Separator)})
	require.NoError(t, err)
	var names []string
	for _, j := range jobs {
		names = append(names, j.name)
	}
	want := []string{"top.txt", "album/2024/b.jpg", "album/a.jpg"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}

	// "." is named after the directory it stands for.
	t.Chdir(filepath.Join(src, "album"))
	jobs, err = collect([]string{"."})
	require.NoError(t, err)
	require.NotEmpty(t, jobs)
	require.Equal(t, "album/2024/b.jpg", jobs[0].name)
}
