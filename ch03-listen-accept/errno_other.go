//go:build !windows

package main

import "syscall"

// The errno values behind each class on Unix systems.
// ANCHOR: errnos
var (
	refusedErrnos = []syscall.Errno{syscall.ECONNREFUSED}
	resetErrnos   = []syscall.Errno{syscall.ECONNRESET, syscall.ECONNABORTED}
)

// ANCHOR_END: errnos
