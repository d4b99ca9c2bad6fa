//go:build !linux

package main

import "errors"

const clockTicks = 100

// readProc is Linux-only: other systems have no /proc with these files. Use
// -expvar (any OS) to sample a Go server instead.
func readProc(pid int, s *sample) error {
	return errors.New("-pid sampling reads /proc and works on Linux only; use -expvar on this system")
}
