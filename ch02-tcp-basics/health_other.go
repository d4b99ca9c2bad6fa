//go:build !unix

package main

import "net"

// checkConn cannot peek at a socket portably on this system (Windows), so it
// trusts the connection; a dead one fails on first use and is discarded
// then. health_unix.go shows the real check.
func checkConn(net.Conn) error { return nil }
