//go:build !windows

package serve

import "syscall"

var temporaryErrnos = []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS,
	syscall.ENOMEM, syscall.ECONNABORTED, syscall.EINTR}
