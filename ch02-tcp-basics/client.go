package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
)

// ANCHOR: client
// exchange sends each line to the server and reads its one-line reply before
// sending the next (request/response). It returns the replies without their
// "\n". Any server speaking the chapter's protocol will do: the Go servers,
// python/ch02_tcp_server.py, or a student's.
func exchange(conn net.Conn, lines []string) ([]string, error) {
	r := bufio.NewReader(conn)
	replies := make([]string, 0, len(lines))
	for _, line := range lines {
		if strings.ContainsRune(line, '\n') {
			return replies, fmt.Errorf("line %q contains a newline", line)
		}
		if _, err := io.WriteString(conn, line+"\n"); err != nil {
			return replies, err
		}
		reply, err := r.ReadString('\n')
		if err != nil {
			return replies, fmt.Errorf("reading reply to %q: %w", line, err)
		}
		replies = append(replies, strings.TrimSuffix(reply, "\n"))
	}
	return replies, nil
}

// ANCHOR_END: client
