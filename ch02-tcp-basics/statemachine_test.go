package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/tests/testutil"
)

func TestModelHasElevenStatesAllReachable(t *testing.T) {
	require.Len(t, AllStates(), 11)
	for _, s := range AllStates() {
		if s == Closed {
			continue
		}
		_, ok := Explain(Closed, s)
		assert.True(t, ok, "%s is not reachable from CLOSED", s)
		_, ok = Explain(s, Closed)
		assert.True(t, ok, "no way from %s back to CLOSED", s)
	}
}

func TestModelTransitions(t *testing.T) {
	tests := []struct {
		from  State
		on    Event
		to    State
		sends string
	}{
		{Closed, PassiveOpen, Listen, ""},
		{Closed, ActiveOpen, SynSent, "SYN"},
		{Listen, RcvSYN, SynReceived, "SYN,ACK"},
		{SynSent, RcvSYNACK, Established, "ACK"},
		{SynSent, RcvSYN, SynReceived, "SYN,ACK"},
		{SynReceived, RcvACKofSYN, Established, ""},
		{Established, CloseCall, FinWait1, "FIN"},
		{Established, RcvFIN, CloseWait, "ACK"},
		{FinWait1, RcvACKofFIN, FinWait2, ""},
		{FinWait1, RcvFIN, Closing, "ACK"},
		{FinWait1, RcvFINACK, TimeWait, "ACK"},
		{FinWait2, RcvFIN, TimeWait, "ACK"},
		{Closing, RcvACKofFIN, TimeWait, ""},
		{TimeWait, Timeout2MSL, Closed, ""},
		{CloseWait, CloseCall, LastAck, "FIN"},
		{LastAck, RcvACKofFIN, Closed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.from.String()+"/"+string(tt.on), func(t *testing.T) {
			got, ok := Next(tt.from, tt.on)
			require.True(t, ok)
			assert.Equal(t, Transition{tt.from, tt.to, tt.on, tt.sends}, got)
		})
	}
}

func TestModelRejectsImpossibleEvents(t *testing.T) {
	for _, tt := range []struct {
		s State
		e Event
	}{
		{Closed, RcvFIN},           // nothing to close
		{Listen, RcvFIN},           // no connection yet
		{Established, RcvSYNACK},   // the handshake is over
		{TimeWait, CloseCall},      // already closed by the application
		{CloseWait, RcvFIN},        // the peer's FIN came already
		{LastAck, CloseCall},       // closed twice
		{FinWait2, RcvACKofFIN},    // our FIN is already acknowledged
		{SynReceived, RcvSYNACK},   // we are the passive side
		{Closing, Timeout2MSL},     // the timer runs in TIME-WAIT only
		{Established, PassiveOpen}, // open twice
	} {
		_, ok := Next(tt.s, tt.e)
		assert.False(t, ok, "%s should not accept %s", tt.s, tt.e)
	}
}

func TestExplainFillsInUnseenStates(t *testing.T) {
	path, ok := Explain(Established, FinWait2, CloseCall, RcvACKofFIN)
	require.True(t, ok)
	assert.Equal(t, "ESTABLISHED --CLOSE/send FIN--> FIN-WAIT-1 --rcv ACK of FIN--> FIN-WAIT-2", FormatPath(path))

	path, ok = Explain(CloseWait, Closed, CloseCall, RcvACKofFIN)
	require.True(t, ok)
	assert.Equal(t, "CLOSE-WAIT --CLOSE/send FIN--> LAST-ACK --rcv ACK of FIN--> CLOSED", FormatPath(path))

	_, ok = Explain(Established, TimeWait, RcvFIN) // receiving a FIN alone never leads to TIME-WAIT
	assert.False(t, ok)
	// Closing events never lead from the active closer's path to the passive one's.
	_, ok = Explain(FinWait2, CloseWait, CloseCall, RcvFIN, RcvACKofFIN, RcvFINACK)
	assert.False(t, ok)
}

// endpoint and deliver simulate two ends that follow the model and exchange
// segments, to check whole conversations rather than single arrows.
type endpoint struct {
	state State
	trace []State
}

func (e *endpoint) apply(t *testing.T, ev Event) string {
	t.Helper()
	tr, ok := Next(e.state, ev)
	require.True(t, ok, "%s cannot take %q", e.state, ev)
	e.state = tr.To
	e.trace = append(e.trace, tr.To)
	return tr.Sends
}

// deliver turns a segment into the event the receiver sees in its state.
func deliver(t *testing.T, to *endpoint, seg string) string {
	t.Helper()
	switch {
	case seg == "SYN":
		return to.apply(t, RcvSYN)
	case seg == "SYN,ACK" && to.state == SynSent:
		return to.apply(t, RcvSYNACK)
	case seg == "SYN,ACK" && to.state == SynReceived: // simultaneous open: the ACK part
		return to.apply(t, RcvACKofSYN)
	case seg == "ACK" && to.state == SynReceived:
		return to.apply(t, RcvACKofSYN)
	case seg == "ACK":
		return to.apply(t, RcvACKofFIN)
	case seg == "FIN":
		return to.apply(t, RcvFIN)
	}
	t.Fatalf("cannot deliver %q to %s", seg, to.state)
	return ""
}

func TestConversationOpenAndClose(t *testing.T) {
	c, s := &endpoint{state: Closed}, &endpoint{state: Closed}
	s.apply(t, PassiveOpen)
	syn := c.apply(t, ActiveOpen)
	synack := deliver(t, s, syn)
	ack := deliver(t, c, synack)
	deliver(t, s, ack)
	require.Equal(t, Established, c.state)
	require.Equal(t, Established, s.state)

	fin := c.apply(t, CloseCall) // the client closes first
	deliver(t, c, deliver(t, s, fin))
	fin2 := s.apply(t, CloseCall)
	deliver(t, s, deliver(t, c, fin2))
	c.apply(t, Timeout2MSL)

	assert.Empty(t, cmp.Diff([]State{SynSent, Established, FinWait1, FinWait2, TimeWait, Closed}, c.trace))
	assert.Empty(t, cmp.Diff([]State{Listen, SynReceived, Established, CloseWait, LastAck, Closed}, s.trace))
}

func TestConversationSimultaneousClose(t *testing.T) {
	// Both ends call close() before either FIN arrives: the FINs cross.
	a, b := &endpoint{state: Established}, &endpoint{state: Established}
	finA := a.apply(t, CloseCall)
	finB := b.apply(t, CloseCall)
	ackB := deliver(t, b, finA) // b, in FIN-WAIT-1, gets a FIN: CLOSING
	ackA := deliver(t, a, finB)
	deliver(t, a, ackB)
	deliver(t, b, ackA)
	want := []State{FinWait1, Closing, TimeWait}
	assert.Empty(t, cmp.Diff(want, a.trace), "both ends go through CLOSING")
	assert.Empty(t, cmp.Diff(want, b.trace))
	// Both are active closers, so both wait in TIME-WAIT.
	assert.Equal(t, TimeWait, a.state)
	assert.Equal(t, TimeWait, b.state)
}

func TestConversationSimultaneousOpen(t *testing.T) {
	a, b := &endpoint{state: Closed}, &endpoint{state: Closed}
	synA := a.apply(t, ActiveOpen)
	synB := b.apply(t, ActiveOpen)
	sa := deliver(t, b, synA) // SYN-SENT gets a SYN: SYN-RECEIVED
	sb := deliver(t, a, synB)
	deliver(t, a, sa)
	deliver(t, b, sb)
	assert.Equal(t, Established, a.state)
	assert.Equal(t, Established, b.state)
}

// TestStateDiagram keeps the book's state diagram equal to the model.
func TestStateDiagram(t *testing.T) {
	d := Mermaid()
	for _, tr := range Transitions {
		assert.Contains(t, d, string(tr.On))
	}
	testutil.Golden(t, "testdata/state-diagram.mmd", d)
}

func TestPrintModel(t *testing.T) {
	var b strings.Builder
	printModel(&b)
	out := b.String()
	for _, s := range AllStates() {
		assert.Contains(t, out, s.String()+"\n")
	}
	assert.Equal(t, len(Transitions), strings.Count(out, "    on "))
	assert.Len(t, Transitions, 20, "printModel's header says 20")
	sends := 0
	for _, tr := range Transitions {
		if tr.Sends != "" {
			sends++
		}
	}
	assert.Equal(t, sends, strings.Count(out, " / send "), "a transition shows the segment it sends, if any")
	assert.NotContains(t, out, " / send \n", "no empty send")
}
