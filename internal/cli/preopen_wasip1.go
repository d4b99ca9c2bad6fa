//go:build wasip1

package cli

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"syscall"
)

// PreopenedFD is the descriptor of the first socket a WASI host pre-opens
// (0-2 are stdin, stdout and stderr). WASI preview 1 has no socket, bind or
// listen call: a module can only accept on a socket it was handed.
const PreopenedFD = 3

// ListenAddrEnv names the variable in which the host may say where the
// pre-opened socket listens: preview 1 has no getsockname either, so the
// listener's own Addr is an empty 0.0.0.0:0.
const ListenAddrEnv = "WASI_LISTEN_ADDR"

// preopened returns the listener on the pre-opened socket; addr (the -addr
// flag) cannot be honoured, and the first log line says so.
func preopened(addr string) (net.Listener, bool, error) {
	// Non-blocking first: a WebAssembly module runs on one thread, so a
	// blocking accept would stop every goroutine until a client arrives (Go's
	// runtime then waits in poll_oneoff instead).
	if err := syscall.SetNonblock(PreopenedFD, true); err != nil {
		return nil, true, fmt.Errorf("wasip1: fd %d: %w (run under a host that pre-opens a socket, e.g. tools/wasi)", PreopenedFD, err)
	}
	f := os.NewFile(PreopenedFD, "preopened-socket")
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, true, fmt.Errorf("wasip1: no pre-opened socket on fd %d (run under a host that pre-opens one, e.g. tools/wasi): %w", PreopenedFD, err)
	}
	real := os.Getenv(ListenAddrEnv)
	slog.Default().Info("wasip1: listener taken from the pre-opened socket, -addr ignored",
		"fd", PreopenedFD, "addr_asked", addr, "host_addr", real)
	if real == "" {
		return ln, true, nil
	}
	tcp, err := net.ResolveTCPAddr("tcp", real)
	if err != nil {
		return ln, true, nil // the host's word is only for the log line
	}
	return hostAddr{ln, tcp}, true, nil
}

// hostAddr is a listener whose Addr is the one the host reported.
type hostAddr struct {
	net.Listener
	addr net.Addr
}

func (l hostAddr) Addr() net.Addr { return l.addr }

// hasSignals is false: WASI has no signals, and under wazero a program that
// calls signal.Notify stops accepting (the module's one thread waits for
// signals that never come). The host stops the module instead (Ctrl-C ends
// it at once: no drain).
const hasSignals = false
