//go:build !linux

package main

import "errors"

// sockbufRows needs Linux: it reads /proc/sys and getsockopt with Linux
// constants. On macOS, `sysctl net.inet.tcp.sendspace net.inet.tcp.recvspace`
// shows the defaults.
func sockbufRows() ([][2]string, error) {
	return nil, errors.New("the sockbuf lesson reads Linux's /proc/sys/net and runs on Linux only (on macOS try: sysctl net.inet.tcp.sendspace net.inet.tcp.recvspace)")
}
