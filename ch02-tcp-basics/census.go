package main

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ANCHOR: census
// Census counts, state by state, the TCP sockets of one local port, read
// from the text of /proc/net/tcp (or tcp6): what you would tally by hand
// from `ss -tan 'sport = :8888'`. A server's own sockets have port as their
// local port: its listener and every connection it accepted. Its clients'
// sockets, on the same machine, have it as their remote port and are not
// counted. Many CLOSE-WAIT sockets mean a server that forgets to close.
func Census(r io.Reader, port uint16) (map[State]int, error) {
	// ANCHOR: exercise-census
	counts := map[State]int{}
	sc := bufio.NewScanner(r)
	sc.Scan() // the header line: sl local_address rem_address st ...
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 {
			continue // a blank line
		}
		local, err := parseProcAddr(fields[1])
		if err != nil {
			return nil, err
		}
		if local.Port() != port {
			continue
		}
		st, err := strconv.ParseUint(fields[3], 16, 8) // hex: 0A is LISTEN
		s, known := linuxStates[st]
		if err != nil || !known {
			return nil, fmt.Errorf("unknown state %q", fields[3])
		}
		counts[s]++
	}
	return counts, sc.Err()
	// ANCHOR_END: exercise-census
}

// ANCHOR_END: census
