//go:build !linux

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// printCensus reads Linux's /proc/net/tcp: elsewhere it says so.
func printCensus(io.Writer, uint16) error {
	return errors.New("-census reads Linux's /proc/net/tcp; on this system, count the states in `netstat -an`")
}

// Observation is one end's state seen at one step of the walk.
type Observation struct {
	Step  int
	End   string
	State State
}

// walkStates needs the kernel's view of a socket, which this program reads
// from Linux's /proc/net/tcp. Elsewhere it prints the model instead.
func walkStates(_ context.Context, w io.Writer) ([]Observation, error) {
	fmt.Fprintln(w, "Live TCP states are read from Linux's /proc/net/tcp: this part of the demo is Linux-only.")
	fmt.Fprintln(w, "On this system, watch them with `netstat -an -p tcp` (macOS) or `netstat -an` (Windows) while")
	fmt.Fprintln(w, "`go run ./ch02-tcp-basics` and `go run ./ch02-tcp-basics client` talk. Here is the model:")
	fmt.Fprintln(w)
	printModel(w)
	return nil, nil
}
