package main

import (
	"fmt"
	"io"
	"net"
)

// ANCHOR: naive
// naiveHandle is the source text's handler, kept to show what goes wrong:
// it assumes one Read returns one message. TCP is a byte stream; a Read
// returns whatever has arrived, which may be half a message or two of them.
// It also reads only once, so anything sent after the first Read is lost,
// and a 1024-byte buffer cuts longer messages.
func naiveHandle(conn net.Conn, out io.Writer) {
	defer conn.Close()
	buf := make([]byte, 1024)
	n, err := conn.Read(buf)
	if err != nil {
		return
	}
	fmt.Fprintf(out, "Received: %s\n", buf[:n])
}

// ANCHOR_END: naive
