//go:build !windows

package main

import "syscall"

// The errno values behind each class on Unix systems.
// ANCHOR: errnos
var (
	refusedErrnos = []syscall.Errno{syscall.ECONNREFUSED}
	resetErrnos   = []syscall.Errno{syscall.ECONNRESET, syscall.ECONNABORTED}
	// temporaryErrnos are the accept errors worth retrying: out of file
	// descriptors (per process, system-wide), out of kernel memory, a
	// client that gave up while queued, an interrupted system call.
	temporaryErrnos = []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS,
		syscall.ENOMEM, syscall.ECONNABORTED, syscall.EINTR}
)

// ANCHOR_END: errnos
