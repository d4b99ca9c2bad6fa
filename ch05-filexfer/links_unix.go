//go:build unix

package main

import (
	"io/fs"
	"syscall"
)

// linkCount returns how many names (hard links) the file of fi has, and
// whether the system told us.
func linkCount(fi fs.FileInfo) (uint64, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return uint64(st.Nlink), true // Nlink is uint16 on macOS, uint32 or uint64 elsewhere
}
