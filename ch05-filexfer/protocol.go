package main

// The wire protocol of this chapter. The source text's receiver wrote
// whatever bytes arrived into one file: it could not tell the file's name or
// size, nor a complete file from a cut-off one. Every frame below exists to
// answer one of those questions. All integers are big-endian.
//
// One connection carries any number of files, one after the other:
//
//	sender                                receiver
//	Header  (magic, version, flags, name, size, chunk size, CRC-32C) ──▶
//	                                      ◀── Reply READY, offset
//	Chunk   (length, CRC-32C, data) ... ──▶
//	End     (length 0, CRC 0, SHA-256 of the whole file) ──▶
//	                                      ◀── Reply OK, bytes   (or an error)
//	next Header ... or close.
//
// Every decoder checks what the peer declared (name length, chunk length)
// against a limit before it allocates anything, so a hostile 4-byte length
// cannot make the receiver allocate 4 GiB.

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// ANCHOR: constants
const (
	Magic   = "FXF1" // first four bytes of every header
	Version = 1      // the header every receiver speaks
	// VersionTrace adds a trace context to the header (see Header). A
	// receiver that predates it answers BAD_VERSION, and the sender sends
	// version 1 again: old peers keep working, untraced.
	VersionTrace = 2
	MaxTraceLen  = 255 // a traceparent's length is one byte

	HeaderFixedLen = 20 // magic 4, version 1, flags 1, name length 2, size 8, chunk size 4
	ChunkHeadLen   = 8  // length 4, CRC-32C 4
	ReplyFixedLen  = 11 // status 1, value 8, message length 2

	MaxNameLen      = 1024    // bytes of the whole relative name
	MaxComponentLen = 255     // bytes of one path component (most file systems' limit)
	MaxChunkSize    = 4 << 20 // largest chunk a sender may announce
	MaxMessageLen   = 1024    // longest reply message
	DefaultChunk    = 256 << 10

	FlagOverwrite = 1 << 0 // replace an existing file
	FlagResume    = 1 << 1 // continue from the receiver's partial file
	knownFlags    = FlagOverwrite | FlagResume
)

// ANCHOR_END: constants

// ANCHOR: status
// Status is the first byte of a reply. READY answers a header; OK and the
// errors answer a whole file (or refuse its header).
type Status uint8

const (
	StatusOK           Status = 0x00 // file committed; value = its size
	StatusReady        Status = 0x01 // header accepted; value = offset to send from
	StatusBadMagic     Status = 0x10 // not this protocol
	StatusBadVersion   Status = 0x11 // a version this receiver does not speak
	StatusBadHeader    Status = 0x12 // truncated header, unknown flags, bad chunk size
	StatusBadName      Status = 0x13 // unsafe or malformed file name
	StatusTooLarge     Status = 0x14 // size above the receiver's limit
	StatusExists       Status = 0x15 // file exists and overwrite was not asked
	StatusBusy         Status = 0x16 // same name being received, or too many connections
	StatusBadChunk     Status = 0x17 // chunk longer than announced or past the declared size
	StatusCRCMismatch  Status = 0x18 // a chunk's CRC-32C is wrong
	StatusHashMismatch Status = 0x19 // the whole file's SHA-256 is wrong
	StatusSizeMismatch Status = 0x1a // End came before the declared size
	StatusIOError      Status = 0x20 // the receiver could not write (disk full...)
	StatusTimeout      Status = 0x21 // the sender went quiet for too long
)

// ANCHOR_END: status

var statusNames = map[Status]string{
	StatusOK: "OK", StatusReady: "READY", StatusBadMagic: "BAD_MAGIC",
	StatusBadVersion: "BAD_VERSION", StatusBadHeader: "BAD_HEADER", StatusBadName: "BAD_NAME",
	StatusTooLarge: "TOO_LARGE", StatusExists: "EXISTS", StatusBusy: "BUSY",
	StatusBadChunk: "BAD_CHUNK", StatusCRCMismatch: "CRC_MISMATCH",
	StatusHashMismatch: "HASH_MISMATCH", StatusSizeMismatch: "SIZE_MISMATCH",
	StatusIOError: "IO_ERROR", StatusTimeout: "TIMEOUT",
}

func (s Status) String() string {
	if n, ok := statusNames[s]; ok {
		return n
	}
	return fmt.Sprintf("STATUS_0x%02x", uint8(s))
}

// ParseStatus is the inverse of String (used by the shared test vectors).
func ParseStatus(name string) (Status, bool) {
	for s, n := range statusNames {
		if n == name {
			return s, true
		}
	}
	return 0, false
}

// ProtoError is a protocol violation found by a decoder or by the receiver.
// Its Status is what the receiver sends back.
type ProtoError struct {
	Status Status
	Msg    string
}

func (e *ProtoError) Error() string { return e.Status.String() + ": " + e.Msg }

func protoErr(s Status, format string, a ...any) *ProtoError {
	return &ProtoError{Status: s, Msg: fmt.Sprintf(format, a...)}
}

// StatusOf returns the status an error maps to (IO_ERROR for anything that
// is not a ProtoError).
func StatusOf(err error) Status {
	var pe *ProtoError
	if errors.As(err, &pe) {
		return pe.Status
	}
	return StatusIOError
}

// castagnoli is the CRC-32C table. CRC-32C (not the IEEE CRC-32 of zip and
// zlib) has hardware support on amd64 and arm64, so checking every chunk
// costs almost nothing.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// CRC32C returns the CRC-32C of b.
func CRC32C(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// ANCHOR: header
// Header announces one file.
//
//	0      4   5   6      8              16        20            20+n     24+n
//	+------+---+---+------+--------------+---------+-------------+--------+
//	| FXF1 |ver|flg|name n|     size     |chunk sz | name (UTF-8)| CRC-32C|
//	+------+---+---+------+--------------+---------+-------------+--------+
//
// The CRC-32C covers every byte before it: a flipped bit in the name must
// not store a good file under a wrong name.
type Header struct {
	Version     uint8
	Flags       uint8
	Name        string // relative, '/'-separated
	Size        uint64 // bytes of the whole file
	ChunkSize   uint32 // largest chunk the sender will send
	TraceParent string // version 2 only (see appendTrace)
}

// MarshalBinary encodes h, refusing what a decoder would refuse.
func (h Header) MarshalBinary() ([]byte, error) {
	if len(h.Name) == 0 || len(h.Name) > MaxNameLen {
		return nil, protoErr(StatusBadName, "name length %d not in 1..%d", len(h.Name), MaxNameLen)
	}
	if h.ChunkSize == 0 || h.ChunkSize > MaxChunkSize {
		return nil, protoErr(StatusBadHeader, "chunk size %d not in 1..%d", h.ChunkSize, MaxChunkSize)
	}
	if err := checkTrace(h); err != nil {
		return nil, err
	}
	b := make([]byte, HeaderFixedLen, HeaderFixedLen+len(h.Name)+1+len(h.TraceParent)+4)
	copy(b, Magic)
	b[4], b[5] = h.Version, h.Flags
	binary.BigEndian.PutUint16(b[6:], uint16(len(h.Name)))
	binary.BigEndian.PutUint64(b[8:], h.Size)
	binary.BigEndian.PutUint32(b[16:], h.ChunkSize)
	b = appendTrace(append(b, h.Name...), h)
	return binary.BigEndian.AppendUint32(b, CRC32C(b)), nil
}

// ANCHOR_END: header

// ANCHOR: trace-field
// appendTrace: version 2 (VersionTrace) puts a trace context between the
// name and the CRC: one byte t, then t bytes of a W3C traceparent
// ("00-<trace id>-<span id>-<flags>", visible ASCII), so the receiver's
// span joins the sender's trace (tracing.go). t may be 0.
//
//	... | name (UTF-8) | t | traceparent (t bytes) | CRC-32C |
//
// A version 1 receiver answers BAD_VERSION, and the sender falls back.
func appendTrace(b []byte, h Header) []byte {
	if h.Version != VersionTrace {
		return b
	}
	b = append(b, byte(len(h.TraceParent)))
	return append(b, h.TraceParent...)
}

// checkTrace refuses a trace context that version 1 cannot carry, that is
// too long, or that holds anything but visible ASCII (it may end up in
// logs and traces).
func checkTrace(h Header) error {
	if h.Version != VersionTrace && h.TraceParent != "" {
		return protoErr(StatusBadHeader, "a trace context needs version %d", VersionTrace)
	}
	if len(h.TraceParent) > MaxTraceLen {
		return protoErr(StatusBadHeader, "trace context of %d bytes, over %d", len(h.TraceParent), MaxTraceLen)
	}
	for i := 0; i < len(h.TraceParent); i++ {
		if c := h.TraceParent[i]; c < 0x21 || c > 0x7e {
			return protoErr(StatusBadHeader, "trace context byte 0x%02x is not visible ASCII", c)
		}
	}
	return nil
}

// ANCHOR_END: trace-field

// ANCHOR: readheader
// ReadHeader decodes a header from r. The fixed part is read and checked
// first; the name is allocated only once its length is known to be within
// MaxNameLen; the header's CRC must match before it is returned. io.EOF
// before the first byte means the sender is done.
func ReadHeader(r io.Reader) (Header, error) {
	var fixed [HeaderFixedLen]byte
	if n, err := io.ReadFull(r, fixed[:]); err != nil {
		if n == 0 && errors.Is(err, io.EOF) {
			return Header{}, io.EOF
		}
		return Header{}, truncated(err, "header")
	}
	h, nameLen, err := parseFixed(fixed)
	if err != nil {
		return Header{}, err
	}
	body, trace, err := readBody(r, h.Version, nameLen)
	if err != nil {
		return Header{}, err
	}
	var tail [4]byte
	if _, err := io.ReadFull(r, tail[:]); err != nil {
		return Header{}, truncated(err, "header CRC")
	}
	crc := crc32.Update(CRC32C(fixed[:]), castagnoli, body)
	if want := binary.BigEndian.Uint32(tail[:]); crc != want {
		return Header{}, protoErr(StatusCRCMismatch, "header CRC-32C 0x%08x, frame says 0x%08x", crc, want)
	}
	h.Name, h.TraceParent = string(body[:nameLen]), string(trace)
	return h, checkTrace(h)
}

// ANCHOR_END: readheader

// readBody reads what follows the fixed part up to the CRC: the name, and
// in version 2 the trace context's length and bytes. Both lengths are
// bounded (MaxNameLen, one byte) before anything is allocated.
func readBody(r io.Reader, version uint8, nameLen int) (body, trace []byte, err error) {
	n := nameLen
	if version == VersionTrace {
		n++ // the trace context's length byte
	}
	body = make([]byte, n, n+MaxTraceLen)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, nil, truncated(err, "name")
	}
	if version != VersionTrace {
		return body, nil, nil
	}
	trace = body[n : n+int(body[nameLen])]
	if _, err := io.ReadFull(r, trace); err != nil {
		return nil, nil, truncated(err, "trace context")
	}
	return body[:n+len(trace)], trace, nil
}

// ANCHOR: fixed
// parseFixed decodes and checks the fixed part of a header: every field
// is checked before the name's length is trusted with an allocation.
func parseFixed(fixed [HeaderFixedLen]byte) (h Header, nameLen int, err error) {
	if string(fixed[:4]) != Magic {
		return h, 0, protoErr(StatusBadMagic, "magic %q, want %q", fixed[:4], Magic)
	}
	h = Header{
		Version:   fixed[4],
		Flags:     fixed[5],
		Size:      binary.BigEndian.Uint64(fixed[8:]),
		ChunkSize: binary.BigEndian.Uint32(fixed[16:]),
	}
	nameLen = int(binary.BigEndian.Uint16(fixed[6:]))
	switch {
	case h.Version != Version && h.Version != VersionTrace:
		err = protoErr(StatusBadVersion, "version %d, this receiver speaks %d and %d", h.Version, Version, VersionTrace)
	case h.Flags&^knownFlags != 0:
		err = protoErr(StatusBadHeader, "unknown flags 0x%02x", h.Flags)
	case h.ChunkSize == 0 || h.ChunkSize > MaxChunkSize:
		err = protoErr(StatusBadHeader, "chunk size %d not in 1..%d", h.ChunkSize, MaxChunkSize)
	case h.Size > 1<<63-1:
		err = protoErr(StatusTooLarge, "size %d does not fit in int64", h.Size)
	case nameLen == 0 || nameLen > MaxNameLen:
		err = protoErr(StatusBadName, "name length %d not in 1..%d", nameLen, MaxNameLen)
	}
	return h, nameLen, err
}

// ANCHOR_END: fixed

// truncated turns a short read into a BAD_HEADER protocol error, but keeps
// network errors (timeouts, resets) as they are.
func truncated(err error, what string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return protoErr(StatusBadHeader, "truncated %s", what)
	}
	return err
}

// ANCHOR: chunk
// A chunk carries up to ChunkSize bytes of the file, in order:
//
//	0        4        8          8+n
//	+--------+--------+----------+
//	| length | CRC-32C|   data   |
//	+--------+--------+----------+
//
// A chunk of length 0 is the End frame: its CRC field is 0 and it is
// followed by the 32-byte SHA-256 of the whole file.
//
//	0        4        8                  40
//	+--------+--------+------------------+
//	|   0    |   0    |  SHA-256 (32)    |
//	+--------+--------+------------------+

// AppendChunkHead appends the 8-byte head of a chunk carrying data.
func AppendChunkHead(b, data []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	return binary.BigEndian.AppendUint32(b, CRC32C(data))
}

// AppendEnd appends an End frame.
func AppendEnd(b []byte, sum [sha256.Size]byte) []byte {
	b = append(b, 0, 0, 0, 0, 0, 0, 0, 0)
	return append(b, sum[:]...)
}

// ANCHOR_END: chunk

// ANCHOR: readchunk
// ReadChunk reads the next frame into buf and returns the chunk's data
// (a slice of buf), or end=true and the SHA-256 of an End frame. The
// announced length is checked against max (the header's chunk size, and
// never more than the bytes still expected) before any data is read, so
// buf never grows: a lying length is refused, not obeyed.
func ReadChunk(r io.Reader, buf []byte, max uint32) (data []byte, end bool, sum [sha256.Size]byte, err error) {
	var head [ChunkHeadLen]byte
	if _, err = io.ReadFull(r, head[:]); err != nil {
		return nil, false, sum, truncatedData(err)
	}
	n := binary.BigEndian.Uint32(head[:4])
	crc := binary.BigEndian.Uint32(head[4:])
	if n == 0 {
		if crc != 0 {
			return nil, false, sum, protoErr(StatusBadChunk, "End frame with CRC field 0x%08x, want 0", crc)
		}
		if _, err = io.ReadFull(r, sum[:]); err != nil {
			return nil, false, sum, truncatedData(err)
		}
		return nil, true, sum, nil
	}
	if n > max || int(n) > len(buf) {
		return nil, false, sum, protoErr(StatusBadChunk, "chunk length %d over the limit %d", n, max)
	}
	data = buf[:n]
	if _, err = io.ReadFull(r, data); err != nil {
		return nil, false, sum, truncatedData(err)
	}
	if got := CRC32C(data); got != crc {
		return nil, false, sum, protoErr(StatusCRCMismatch, "chunk CRC-32C 0x%08x, frame says 0x%08x", got, crc)
	}
	return data, false, sum, nil
}

// ANCHOR_END: readchunk

// ErrCutOff means the sender's stream ended in the middle of a file: the
// connection was closed or reset. There is no one left to reply to.
var ErrCutOff = errors.New("connection ended in the middle of a file")

func truncatedData(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return ErrCutOff
	}
	return err
}

// ANCHOR: reply
// Reply is the receiver's answer.
//
//	0      1                9       11          11+m
//	+------+----------------+-------+-----------+
//	|status|     value      | msg m |  message  |
//	+------+----------------+-------+-----------+
type Reply struct {
	Status Status
	Value  uint64 // READY: offset to send from; OK: bytes committed
	Msg    string // human-readable, may be empty
}

// MarshalBinary encodes r, cutting an over-long message at MaxMessageLen.
func (r Reply) MarshalBinary() ([]byte, error) {
	msg := r.Msg
	if len(msg) > MaxMessageLen {
		msg = msg[:MaxMessageLen]
	}
	b := make([]byte, ReplyFixedLen, ReplyFixedLen+len(msg))
	b[0] = byte(r.Status)
	binary.BigEndian.PutUint64(b[1:], r.Value)
	binary.BigEndian.PutUint16(b[9:], uint16(len(msg)))
	return append(b, msg...), nil
}

// ReadReply decodes a reply, refusing a message longer than MaxMessageLen.
func ReadReply(r io.Reader) (Reply, error) {
	var fixed [ReplyFixedLen]byte
	if _, err := io.ReadFull(r, fixed[:]); err != nil {
		return Reply{}, err
	}
	rep := Reply{Status: Status(fixed[0]), Value: binary.BigEndian.Uint64(fixed[1:])}
	m := int(binary.BigEndian.Uint16(fixed[9:]))
	if m > MaxMessageLen {
		return Reply{}, protoErr(StatusBadHeader, "reply message length %d over %d", m, MaxMessageLen)
	}
	msg := make([]byte, m)
	if _, err := io.ReadFull(r, msg); err != nil {
		return Reply{}, err
	}
	rep.Msg = string(msg)
	return rep, nil
}

// ANCHOR_END: reply
