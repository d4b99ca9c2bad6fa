package main

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/internal/exercise"
)

// TestCensus reads a saved /proc/net/tcp: a server on port 8888 (0x22B8)
// with its listener, two open connections, three its clients closed and
// it did not (CLOSE-WAIT), two handshakes half way (SYN_RECV, and the
// request sockets of NEW_SYN_RECV), one it closed first (TIME-WAIT); its
// clients' own sockets (remote port 8888), and other ports, do not count.
func TestCensus(t *testing.T) {
	exercise.Graded(t, "exercise-census")
	for _, tc := range []struct {
		port uint16
		want map[State]int
	}{
		{8888, map[State]int{Listen: 1, Established: 2, CloseWait: 3, SynReceived: 2, TimeWait: 1}},
		{8080, map[State]int{Listen: 1, FinWait1: 1}},
		{9999, map[State]int{}},
	} {
		f, err := os.Open("testdata/proc-net-tcp.txt")
		require.NoError(t, err)
		got, err := Census(f, tc.port)
		f.Close()
		require.NoError(t, err, "port %d", tc.port)
		assert.Empty(t, cmp.Diff(tc.want, nonZero(got)), "port %d", tc.port)
	}
}

// nonZero drops the states counted zero times (an empty map and nil agree).
func nonZero(m map[State]int) map[State]int {
	out := map[State]int{}
	for s, n := range m {
		if n != 0 {
			out[s] = n
		}
	}
	return out
}

// TestCensusRefusesWhatItCannotRead: a line it cannot read is an error, not
// a socket quietly left out of the count.
func TestCensusRefusesWhatItCannotRead(t *testing.T) {
	exercise.Graded(t, "exercise-census")
	const header = "  sl  local_address rem_address   st tx_queue rx_queue\n"
	for _, line := range []string{
		"   0: 0100007F:22B8 00000000:0000 FF 00000000:00000000\n", // no such state
		"   0: 0100007F:22B8 00000000:0000 ZZ 00000000:00000000\n", // not hex
		"   0: 01007F:22B8 00000000:0000 0A 00000000:00000000\n",   // a 3-byte IP
	} {
		_, err := Census(strings.NewReader(header+line), 8888)
		assert.Error(t, err, "%q", line)
	}
	got, err := Census(strings.NewReader(header), 8888)
	require.NoError(t, err)
	assert.Empty(t, nonZero(got), "no sockets")
}
