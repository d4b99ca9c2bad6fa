package main

import "syscall"

// Winsock reports its own error numbers (WSAE...), which Go's syscall.E...
// constants on Windows do not match, so both are listed.
const (
	wsaeCONNABORTED syscall.Errno = 10053
	wsaeCONNRESET   syscall.Errno = 10054
	wsaeCONNREFUSED syscall.Errno = 10061
)

var (
	refusedErrnos = []syscall.Errno{syscall.ECONNREFUSED, wsaeCONNREFUSED}
	resetErrnos   = []syscall.Errno{syscall.ECONNRESET, syscall.ECONNABORTED, wsaeCONNRESET, wsaeCONNABORTED}
)
