package serve

import "syscall"

// Winsock reports its own error numbers (WSAE...), which Go's syscall.E...
// constants on Windows do not match, so both are listed.
const (
	wsaeMFILE       syscall.Errno = 10024
	wsaeNOBUFS      syscall.Errno = 10055
	wsaeCONNABORTED syscall.Errno = 10053
)

var temporaryErrnos = []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS,
	syscall.ENOMEM, syscall.ECONNABORTED, syscall.EINTR, wsaeMFILE, wsaeNOBUFS, wsaeCONNABORTED}
