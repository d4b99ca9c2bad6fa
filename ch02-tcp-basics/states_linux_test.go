package main

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/tests/testutil"
)

// path returns the states one end went through, without repeats.
func path(obs []Observation, end string) []State {
	var out []State
	for _, o := range obs {
		if o.End == end && (len(out) == 0 || out[len(out)-1] != o.State) {
			out = append(out, o.State)
		}
	}
	return out
}

// TestStatesWalk runs the demo against the live kernel: the client (active
// closer) must walk ESTABLISHED -> FIN-WAIT-2 -> TIME-WAIT and the server
// (passive closer) ESTABLISHED -> CLOSE-WAIT -> LAST-ACK -> CLOSED, each
// change explained by the model. The transcript is the book's.
func TestStatesWalk(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out strings.Builder
	obs, err := walkStates(ctx, &out)
	require.NoError(t, err, out.String())

	assert.Empty(t, cmp.Diff([]State{Listen}, path(obs, "listener")))
	assert.Empty(t, cmp.Diff([]State{Established, FinWait2, TimeWait}, path(obs, "client")), "active close")
	assert.Empty(t, cmp.Diff([]State{Established, CloseWait, LastAck, Closed}, path(obs, "server")), "passive close")
	assert.NotContains(t, out.String(), "the model has no way")

	testutil.Golden(t, "testdata/states.golden", testutil.Normalize(out.String()))
}

// TestKernelActiveAndPassiveClose checks the kernel against the model on the
// plain path (both sides call Close, no tricks): every observed change must
// be explained by the events the calls can cause.
func TestKernelActiveAndPassiveClose(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	c := testutil.Dial(t, ln.Addr().String())
	s, err := ln.Accept()
	require.NoError(t, err)
	defer s.Close()

	ce := &end{name: "client", local: addrPort(c.LocalAddr()), remote: addrPort(c.RemoteAddr()), last: Established}
	se := &end{name: "server", local: ce.remote, remote: ce.local, last: Established}
	expect := func(e *end, want State, events ...Event) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		got, err := settle(ctx, e, want)
		require.NoError(t, err)
		require.Equal(t, want, got, "%s end", e.name)
		p, ok := Explain(e.last, got, events...)
		require.True(t, ok, "the model cannot take %s from %s to %s on %v", e.name, e.last, got, events)
		t.Logf("%s: %s", e.name, FormatPath(p))
		e.last = got
	}
	expect(ce, Established)
	expect(se, Established)

	require.NoError(t, c.Close()) // active close
	expect(ce, FinWait2, CloseCall, RcvACKofFIN)
	expect(se, CloseWait, RcvFIN)

	require.NoError(t, s.Close()) // passive close
	expect(se, Closed, CloseCall, RcvACKofFIN)
	expect(ce, TimeWait, RcvFIN)
}

func TestParseProcAddr(t *testing.T) {
	// The host's byte order decides how the kernel prints the IP; build the
	// expected text the same way so the test holds on any machine.
	got, err := parseProcAddr(procHex(netip.MustParseAddr("127.0.0.1")) + ":22B8")
	require.NoError(t, err)
	assert.Equal(t, netip.MustParseAddrPort("127.0.0.1:8888"), got)

	got, err = parseProcAddr(procHex(netip.MustParseAddr("::1")) + ":0050")
	require.NoError(t, err)
	assert.Equal(t, netip.MustParseAddrPort("[::1]:80"), got)

	for _, bad := range []string{"", "0100007F", "XYZ:0050", "0100007F:FFFFF", "01007F:0050"} {
		_, err := parseProcAddr(bad)
		assert.Error(t, err, bad)
	}
}

func TestKernelStateOfListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s, found, err := kernelState(addrPort(ln.Addr()), netip.MustParseAddrPort("0.0.0.0:0"))
	require.NoError(t, err)
	assert.True(t, found)
	assert.Equal(t, Listen, s)
	ln.Close()
	s, found, err = kernelState(addrPort(ln.Addr()), netip.MustParseAddrPort("0.0.0.0:0"))
	require.NoError(t, err)
	assert.False(t, found, "a closed listener leaves nothing behind")
	assert.Equal(t, Closed, s)
}
