package main

import (
	"fmt"
	"slices"
	"strings"
)

// This file is a model of the TCP connection state machine of RFC 9293
// (section 3.3.2, Figure 5): the eleven states of one endpoint, the events
// that move it, and what it sends on each move. The states demo uses it to
// explain what it observes in the kernel; the tests check the kernel against it.

// ANCHOR: states
// State is the state of one TCP endpoint.
type State int

// The eleven states of RFC 9293, in the order the RFC lists them.
const (
	Listen      State = iota // waiting for a SYN from any remote endpoint
	SynSent                  // sent a SYN, waiting for the SYN-ACK
	SynReceived              // got a SYN and answered SYN-ACK, waiting for the ACK
	Established              // open: data flows both ways
	FinWait1                 // we closed and sent FIN; not yet acknowledged
	FinWait2                 // our FIN is acknowledged; waiting for the peer's FIN
	CloseWait                // the peer sent FIN; waiting for our program to close
	Closing                  // both sent FIN at once; waiting for the ACK of ours
	LastAck                  // the peer closed, then we sent FIN; waiting for its ACK
	TimeWait                 // both FINs acknowledged; waiting 2*MSL, then forgotten
	Closed                   // no connection (the "fictional" state: nothing at all)
)

// ANCHOR_END: states

var stateNames = [...]string{"LISTEN", "SYN-SENT", "SYN-RECEIVED", "ESTABLISHED",
	"FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING", "LAST-ACK", "TIME-WAIT", "CLOSED"}

// AllStates lists the eleven states.
func AllStates() []State {
	s := make([]State, len(stateNames))
	for i := range s {
		s[i] = State(i)
	}
	return s
}

func (s State) String() string {
	if s < 0 || int(s) >= len(stateNames) {
		return fmt.Sprintf("State(%d)", int(s))
	}
	return stateNames[s]
}

// Event is something that happens to an endpoint: a call from the
// application, a segment arriving, or a timer.
type Event string

// The events of RFC 9293's Figure 5 (plus the FIN that arrives together with
// the ACK of our FIN, which the RFC's text handles and the figure omits).
const (
	PassiveOpen Event = "passive OPEN"       // listen()
	ActiveOpen  Event = "active OPEN"        // connect()
	Send        Event = "SEND"               // send on a listening endpoint (rare)
	CloseCall   Event = "CLOSE"              // close() or shutdown(SHUT_WR)
	RcvSYN      Event = "rcv SYN"            // a SYN arrives
	RcvSYNACK   Event = "rcv SYN,ACK"        // the answer to our SYN
	RcvACKofSYN Event = "rcv ACK of SYN"     // the third packet of the handshake
	RcvFIN      Event = "rcv FIN"            // the peer closed its direction
	RcvACKofFIN Event = "rcv ACK of FIN"     // the peer acknowledged our FIN
	RcvFINACK   Event = "rcv FIN,ACK of FIN" // both at once
	Timeout2MSL Event = "timeout 2MSL"       // TIME-WAIT is over
	sendNothing       = ""
)

// Transition is one arrow of the state diagram.
type Transition struct {
	From, To State
	On       Event
	Sends    string // the segment sent on this move ("SYN", "SYN,ACK", "ACK", "FIN"), or ""
}

// ANCHOR: transitions
// Transitions is RFC 9293's Figure 5 as data.
var Transitions = []Transition{
	{Closed, Listen, PassiveOpen, sendNothing},
	{Closed, SynSent, ActiveOpen, "SYN"},
	{Listen, SynReceived, RcvSYN, "SYN,ACK"},
	{Listen, SynSent, Send, "SYN"},
	{Listen, Closed, CloseCall, sendNothing},
	{SynSent, SynReceived, RcvSYN, "SYN,ACK"}, // simultaneous open
	{SynSent, Established, RcvSYNACK, "ACK"},
	{SynSent, Closed, CloseCall, sendNothing},
	{SynReceived, Established, RcvACKofSYN, sendNothing},
	{SynReceived, FinWait1, CloseCall, "FIN"},
	{Established, FinWait1, CloseCall, "FIN"}, // active close
	{Established, CloseWait, RcvFIN, "ACK"},   // passive close
	{FinWait1, FinWait2, RcvACKofFIN, sendNothing},
	{FinWait1, Closing, RcvFIN, "ACK"}, // simultaneous close
	{FinWait1, TimeWait, RcvFINACK, "ACK"},
	{FinWait2, TimeWait, RcvFIN, "ACK"},
	{Closing, TimeWait, RcvACKofFIN, sendNothing},
	{TimeWait, Closed, Timeout2MSL, sendNothing},
	{CloseWait, LastAck, CloseCall, "FIN"},
	{LastAck, Closed, RcvACKofFIN, sendNothing},
}

// ANCHOR_END: transitions

// Next returns the transition that event causes in state s. ok is false when
// the model has no such arrow (the event is an error or is ignored there).
func Next(s State, e Event) (t Transition, ok bool) {
	for _, t := range Transitions {
		if t.From == s && t.On == e {
			return t, true
		}
	}
	return Transition{}, false
}

// ANCHOR: explain
// Explain finds the shortest chain of transitions from one state to another
// using only the given events (all events when none are given). The kernel is
// faster than any observer: after close() we may see ESTABLISHED and then
// FIN-WAIT-2, the FIN-WAIT-1 in between lasting microseconds. Explain fills
// in the steps we could not see; ok is false when the model cannot connect
// the two states at all, which would mean the kernel disagrees with the model.
func Explain(from, to State, events ...Event) (path []Transition, ok bool) {
	if from == to {
		return nil, true
	}
	prev := map[State]Transition{}
	queue := []State{from}
	seen := map[State]bool{from: true}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for _, t := range Transitions {
			allowed := len(events) == 0 || slices.Contains(events, t.On)
			if t.From != s || seen[t.To] || !allowed {
				continue
			}
			seen[t.To] = true
			prev[t.To] = t
			if t.To == to {
				for at := to; at != from; at = prev[at].From {
					path = append(path, prev[at])
				}
				slices.Reverse(path)
				return path, true
			}
			queue = append(queue, t.To)
		}
	}
	return nil, false
}

// ANCHOR_END: explain

// FormatPath writes a chain of transitions as
// "ESTABLISHED --CLOSE/send FIN--> FIN-WAIT-1 --rcv ACK of FIN--> FIN-WAIT-2".
func FormatPath(path []Transition) string {
	if len(path) == 0 {
		return "(no change)"
	}
	var b strings.Builder
	b.WriteString(path[0].From.String())
	for _, t := range path {
		label := string(t.On)
		if t.Sends != "" {
			label += "/send " + t.Sends
		}
		fmt.Fprintf(&b, " --%s--> %s", label, t.To)
	}
	return b.String()
}

// Mermaid writes the model as a mermaid state diagram, so the diagram in the
// book is drawn from the same table the code and tests use.
func Mermaid() string {
	id := func(s State) string { return strings.ReplaceAll(s.String(), "-", "_") }
	var b strings.Builder
	b.WriteString("stateDiagram-v2\n")
	for _, s := range AllStates() {
		fmt.Fprintf(&b, "    state \"%s\" as %s\n", s, id(s))
	}
	b.WriteString("    [*] --> CLOSED\n")
	for _, t := range Transitions {
		label := string(t.On)
		if t.Sends != "" {
			label += " / send " + t.Sends
		}
		fmt.Fprintf(&b, "    %s --> %s: %s\n", id(t.From), id(t.To), label)
	}
	return b.String()
}
