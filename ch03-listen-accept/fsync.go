package main

// The file side of buffering: page cache, write-back and fsync.
//
// write(2) on a file returns as soon as the bytes are in the kernel's page
// cache, in memory. The kernel writes dirty pages to the disk later
// (write-back: on Linux, once a page has been dirty for about 30 s), and
// reads ahead of you when you read a file sequentially. Fast, and fine until the power fails: data
// that was "written" is lost. A program that promises durability (a
// database, a file transfer that says "saved") must call fsync (f.Sync) and
// check its error.
//
// Sync makes the file's *contents* durable, not its *name*: a new or renamed
// directory entry lives in the directory, which needs its own fsync. The
// durable way to replace a file is therefore: write a temporary file in the
// same directory, Sync it, close it, rename it over the target (atomic: a
// reader sees the old file or the new one, never half of one), then Sync the
// directory.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/tcp-in-go/course/internal/cli"
)

// syncFile is an open file or directory as writeFileDurable uses it: an
// *os.File, or in the tests a recorder that proves each fsync is really made
// (a crash test is the only other way to see a missing fsync).
type syncFile interface {
	io.Writer
	Sync() error
	Close() error
	Name() string
}

// How writeFileDurable and syncDir open files. Tests replace these to record
// the calls; nothing else does.
var (
	createTemp = func(dir, pattern string) (syncFile, error) { return os.CreateTemp(dir, pattern) }
	openDir    = func(dir string) (syncFile, error) { return os.Open(dir) }
)

// ANCHOR: durable
// writeFileDurable replaces path with data so that, once it returns nil,
// the new contents survive a crash. step (may be nil) is told each step.
func writeFileDurable(path string, data []byte, step func(string)) (err error) {
	if step == nil {
		step = func(string) {}
	}
	f, err := createTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	step("create temporary file in the same directory")
	defer func() {
		if err != nil { // leave nothing behind on failure
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	step("write (the data is in the page cache)")
	if err := f.Sync(); err != nil {
		return err
	}
	step("fsync the file (the data is on the disk)")
	if err := f.Close(); err != nil {
		return err
	}
	step("close")
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	step("rename over the target (atomic)")
	if err := syncDir(filepath.Dir(path)); err != nil {
		return err
	}
	step("fsync the directory (the new name is on the disk)")
	return nil
}

// ANCHOR_END: durable

// ANCHOR: sync-dir
// syncDir makes a directory's entries durable. Windows cannot open a
// directory for syncing, and NTFS journals renames itself.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := openDir(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// ANCHOR_END: sync-dir

// timeWrites writes n blocks of 4 KiB to a new file in dir, with an fsync
// after each block or not, and returns the elapsed time.
func timeWrites(dir string, n int, fsync bool) (time.Duration, error) {
	f, err := createTemp(dir, "ch03-fsync-*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	block := make([]byte, 4096)
	start := time.Now()
	for range n {
		if _, err := f.Write(block); err != nil {
			return 0, err
		}
		if fsync {
			if err := f.Sync(); err != nil {
				return 0, err
			}
		}
	}
	return time.Since(start), f.Close()
}

func fsyncLesson(w io.Writer, dir string, n int, timing bool) error {
	if timing {
		for _, sync := range []bool{false, true} {
			d, err := timeWrites(dir, n, sync)
			if err != nil {
				return err
			}
			label := "write only (page cache)"
			if sync {
				label = "write + fsync each block"
			}
			fmt.Fprintf(w, "%-26s blocks=%d elapsed=%s\n", label, n, d.Round(time.Microsecond))
		}
	}
	target := filepath.Join(dir, "ch03-durable.txt")
	defer os.Remove(target)
	fmt.Fprintf(w, "durable replace of %s:\n", filepath.Base(target))
	i := 0
	err := writeFileDurable(target, []byte("saved\n"), func(s string) {
		i++
		fmt.Fprintf(w, "  %d. %s\n", i, s)
	})
	if err != nil {
		return err
	}
	got, err := os.ReadFile(target)
	if err != nil {
		return err
	}
	if string(got) != "saved\n" {
		return errors.New("read back different contents")
	}
	fmt.Fprintf(w, "read back: %q\n", got)
	return nil
}

func runFsync(_ context.Context, args []string) error {
	fs := cli.NewFlagSet(name+" fsync", os.Stderr)
	dir := fs.String("dir", ".", "directory to write files into; a tmpfs such as /tmp makes fsync free (it has no disk)")
	n := fs.Int("n", 100, "4 KiB blocks to write for the timing")
	if err := cli.Parse(fs, args, false); err != nil {
		return err
	}
	if *n < 1 {
		return cli.Usagef("-n must be positive")
	}
	return fsyncLesson(os.Stdout, *dir, *n, true)
}
