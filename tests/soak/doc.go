// Package soak is the course's reliability suite: it repeats, against the Go
// echo server, each Python echo model and the file receivers, what a hostile
// sweep of loopback found once (issue 16), so that it stays fixed. Each
// server runs as a subprocess on 127.0.0.1:0 and meets floods of idle
// clients, silent and dribbling clients, clients that never read, and a
// process out of file descriptors; the suite prints a table of figures.
// TestSoakHTTP does the same to the HTTP listeners beside the echo server
// (Go's -metrics-addr and -debug-addr, the Python twin's --metrics-addr):
// half-sent and dribbled requests, idle keep-alive connections, and a
// flood of silent connections while the echo server must keep serving.
//
// It runs only when SOAK is set, never in a plain `go test ./...`:
//
//	make soak              # SOAK=full: 10,000 idle clients, the receivers too
//	SOAK=short make soak   # under a minute; what CI runs
//
// Linux only: it reads CPU time and descriptors from /proc.
package soak
