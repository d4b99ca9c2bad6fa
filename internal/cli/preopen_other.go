//go:build !wasip1

package cli

import "net"

// preopened reports ok=false: outside WASI a server opens its own listener.
func preopened(string) (net.Listener, bool, error) { return nil, false, nil }

// hasSignals: Main turns SIGINT/SIGTERM into a graceful shutdown.
const hasSignals = true
