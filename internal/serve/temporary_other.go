//go:build !windows

package serve

import "syscall"

// ANCHOR: errnos
// temporaryErrnos are the accept errors worth retrying: out of file
// descriptors (per process, system-wide), out of kernel memory, a client
// that gave up while queued, an interrupted system call.
var temporaryErrnos = []syscall.Errno{
	syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM,
	syscall.ECONNABORTED, syscall.EINTR,
}

// ANCHOR_END: errnos
