package tracing

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
)

// TraceID names one trace: every span of it, in every process, carries it.
type TraceID [16]byte

// SpanID names one span within a trace.
type SpanID [8]byte

// IsValid reports whether t has a non-zero byte: W3C Trace Context forbids
// the all-zero id.
func (t TraceID) IsValid() bool { return t != TraceID{} }

// IsValid reports whether s has a non-zero byte.
func (s SpanID) IsValid() bool { return s != SpanID{} }

// String is the id in lowercase hex, as traceparent and OTLP write it.
func (t TraceID) String() string { return hex.EncodeToString(t[:]) }

// String is the id in lowercase hex.
func (s SpanID) String() string { return hex.EncodeToString(s[:]) }

// newTraceID and newSpanID draw ids from crypto/rand: W3C Trace Context
// asks for random ids ("considerations for trace-id field generation"), and
// unguessable ones keep a peer from forging a place in someone else's
// trace. The loops only guard against the all-zero id.
func newTraceID() (t TraceID) {
	for !t.IsValid() {
		_, _ = rand.Read(t[:]) // never fails (crypto/rand, Go 1.24+)
	}
	return t
}

func newSpanID() (s SpanID) {
	for !s.IsValid() {
		_, _ = rand.Read(s[:])
	}
	return s
}

// Flags are the traceparent's trace-flags. Version 00 defines one bit.
type Flags byte

// FlagSampled says the caller may have recorded the trace: a span whose
// parent has it is recorded too, one whose parent lacks it is not.
const FlagSampled Flags = 0x01

// SpanContext is the part of a span that crosses the network: its trace,
// its own id and the flags. Remote marks one that came from another
// process (from a traceparent) rather than from a span started here.
type SpanContext struct {
	TraceID TraceID
	SpanID  SpanID
	Flags   Flags
	Remote  bool
}

// IsValid reports whether both ids are valid: only then is sc a parent.
func (sc SpanContext) IsValid() bool { return sc.TraceID.IsValid() && sc.SpanID.IsValid() }

// IsSampled reports whether the sampled flag is set.
func (sc SpanContext) IsSampled() bool { return sc.Flags&FlagSampled != 0 }

// ErrTraceParent is the error ParseTraceParent returns (wrapped, with the
// reason) for a value the spec says to ignore.
var ErrTraceParent = errors.New("invalid traceparent")

func tpErr(reason string) error { return &parseError{reason} }

type parseError struct{ reason string }

func (e *parseError) Error() string { return ErrTraceParent.Error() + ": " + e.reason }
func (e *parseError) Unwrap() error { return ErrTraceParent }

// traceParentLen is the length of a version 00 traceparent:
// "00-" + 32 hex + "-" + 16 hex + "-" + 2 hex.
const traceParentLen = 55

// ANCHOR: parse
// ParseTraceParent reads a W3C traceparent header value
// (https://www.w3.org/TR/trace-context/#traceparent-header):
//
//	version "-" trace-id "-" parent-id "-" trace-flags
//	00      -   4bf92f3577b34da6a3ce929d0e0e4736 - 00f067aa0ba902b7 - 01
//
// Hex digits are lowercase only; all-zero ids and version ff are invalid.
// Version 00 is exactly 55 characters. A later version is read as 00 would
// be, as long as what follows the flags is nothing or a dash: the spec's
// rule for versions not written yet, whose extra fields are ignored. The
// result is Remote, and keeps only the sampled flag (the other bits are
// undefined in version 00, which says to set them to zero).
func ParseTraceParent(s string) (SpanContext, error) {
	if len(s) < traceParentLen {
		return SpanContext{}, tpErr("shorter than 55 characters")
	}
	version, ok := hexByte(s[0:2])
	switch {
	case !ok || s[2] != '-':
		return SpanContext{}, tpErr("version is not two lowercase hex digits and a dash")
	case version == 0xff:
		return SpanContext{}, tpErr("version ff is forbidden")
	case version == 0 && len(s) != traceParentLen:
		return SpanContext{}, tpErr("version 00 is exactly 55 characters")
	case len(s) > traceParentLen && s[traceParentLen] != '-':
		return SpanContext{}, tpErr("a later version's flags must end the value or be followed by a dash")
	}
	var sc SpanContext
	if !decodeHex(sc.TraceID[:], s[3:35]) || s[35] != '-' {
		return SpanContext{}, tpErr("trace-id is not 32 lowercase hex digits and a dash")
	}
	if !decodeHex(sc.SpanID[:], s[36:52]) || s[52] != '-' {
		return SpanContext{}, tpErr("parent-id is not 16 lowercase hex digits and a dash")
	}
	flags, ok := hexByte(s[53:55])
	switch {
	case !ok:
		return SpanContext{}, tpErr("trace-flags is not two lowercase hex digits")
	case !sc.TraceID.IsValid():
		return SpanContext{}, tpErr("trace-id is all zeros")
	case !sc.SpanID.IsValid():
		return SpanContext{}, tpErr("parent-id is all zeros")
	}
	sc.Flags = Flags(flags) & FlagSampled
	sc.Remote = true
	return sc, nil
}

// ANCHOR_END: parse

// TraceParent formats sc as a version 00 traceparent, the highest version
// this package knows (which is what the spec asks a participant to send,
// whatever version it received), or "" if sc is not valid.
func (sc SpanContext) TraceParent() string {
	if !sc.IsValid() {
		return ""
	}
	var b [traceParentLen]byte
	copy(b[:], "00-")
	hex.Encode(b[3:35], sc.TraceID[:])
	b[35] = '-'
	hex.Encode(b[36:52], sc.SpanID[:])
	b[52] = '-'
	hex.Encode(b[53:55], []byte{byte(sc.Flags & FlagSampled)})
	return string(b[:])
}

// decodeHex fills dst from lowercase hex src (len(src) == 2*len(dst)).
// encoding/hex also takes uppercase, which the spec's HEXDIGLC does not.
func decodeHex(dst []byte, src string) bool {
	for i := range dst {
		b, ok := hexByte(src[2*i : 2*i+2])
		if !ok {
			return false
		}
		dst[i] = b
	}
	return true
}

// hexByte reads two lowercase hex digits.
func hexByte(s string) (byte, bool) {
	hi, ok1 := hexDigit(s[0])
	lo, ok2 := hexDigit(s[1])
	return hi<<4 | lo, ok1 && ok2
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}
