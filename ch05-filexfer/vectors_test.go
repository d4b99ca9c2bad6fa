package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// vector is one entry of testdata/vectors.json, the test vectors shared
// with the Python implementation (python/tests/test_ch05_vectors.py).
type vector struct {
	Kind   string `json:"kind"`
	Desc   string `json:"desc"`
	Hex    string `json:"hex"`
	Error  string `json:"error"`
	Header *struct {
		Version     uint8  `json:"version"`
		Flags       uint8  `json:"flags"`
		Name        string `json:"name"`
		Size        uint64 `json:"size"`
		ChunkSize   uint32 `json:"chunk_size"`
		TraceParent string `json:"traceparent"`
	} `json:"header"`
	Limit   uint32 `json:"limit"`
	DataHex string `json:"data_hex"`
	End     bool   `json:"end"`
	SHA256  string `json:"sha256"`
	Reply   *struct {
		Status string `json:"status"`
		Value  uint64 `json:"value"`
		Msg    string `json:"msg"`
	} `json:"reply"`
	Name    *string `json:"name"`
	NameHex string  `json:"name_hex"`
}

func loadVectors(t testing.TB) []vector {
	t.Helper()
	data, err := os.ReadFile("testdata/vectors.json")
	require.NoError(t, err)
	var doc struct{ Vectors []vector }
	require.NoError(t, json.Unmarshal(data, &doc))
	require.NotEmpty(t, doc.Vectors)
	return doc.Vectors
}

func (v vector) bytes(t testing.TB) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(v.Hex, " ", ""))
	require.NoError(t, err, v.Desc)
	return b
}

// errName is how the vectors name an error.
func errName(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, io.EOF):
		return "EOF"
	case errors.Is(err, ErrCutOff):
		return "CUT_OFF"
	}
	var pe *ProtoError
	if errors.As(err, &pe) {
		return pe.Status.String()
	}
	return "other: " + err.Error()
}

// TestVectors decodes every shared vector, checks the outcome, and encodes
// every valid one back to the same bytes.
func TestVectors(t *testing.T) {
	kinds := map[string]int{}
	for _, v := range loadVectors(t) {
		kinds[v.Kind]++
		t.Run(v.Kind+"/"+v.Desc, func(t *testing.T) {
			switch v.Kind {
			case "header":
				in := v.bytes(t)
				h, err := ReadHeader(bytes.NewReader(in))
				require.Equal(t, v.Error, errName(err))
				if v.Error != "" {
					return
				}
				want := Header{Version: v.Header.Version, Flags: v.Header.Flags, Name: v.Header.Name, Size: v.Header.Size, ChunkSize: v.Header.ChunkSize, TraceParent: v.Header.TraceParent}
				assert.Empty(t, cmp.Diff(want, h))
				out, err := h.MarshalBinary()
				require.NoError(t, err)
				assert.Equal(t, hex.EncodeToString(in), hex.EncodeToString(out))
			case "chunk":
				in := v.bytes(t)
				buf := make([]byte, MaxChunkSize)
				data, end, sum, err := ReadChunk(bytes.NewReader(in), buf, v.Limit)
				require.Equal(t, v.Error, errName(err))
				if v.Error != "" {
					return
				}
				require.Equal(t, v.End, end)
				var out []byte
				if end {
					assert.Equal(t, v.SHA256, hex.EncodeToString(sum[:]))
					out = AppendEnd(nil, sum)
				} else {
					assert.Equal(t, v.DataHex, hex.EncodeToString(data))
					out = append(AppendChunkHead(nil, data), data...)
				}
				assert.Equal(t, hex.EncodeToString(in), hex.EncodeToString(out))
			case "reply":
				in := v.bytes(t)
				r, err := ReadReply(bytes.NewReader(in))
				require.Equal(t, v.Error, errName(err))
				if v.Error != "" {
					return
				}
				st, ok := ParseStatus(v.Reply.Status)
				require.True(t, ok, v.Reply.Status)
				assert.Equal(t, Reply{Status: st, Value: v.Reply.Value, Msg: v.Reply.Msg}, r)
				out, err := r.MarshalBinary()
				require.NoError(t, err)
				assert.Equal(t, hex.EncodeToString(in), hex.EncodeToString(out))
			case "name":
				name := ""
				if v.Name != nil {
					name = *v.Name
				} else {
					b, err := hex.DecodeString(v.NameHex)
					require.NoError(t, err)
					name = string(b)
				}
				assert.Equal(t, v.Error, errName(CheckName(name)))
			default:
				t.Fatalf("unknown vector kind %q", v.Kind)
			}
		})
	}
	// A vectors file that lost a whole kind would make the test pass vacuously.
	for _, k := range []string{"header", "chunk", "reply", "name"} {
		assert.GreaterOrEqual(t, kinds[k], 5, "too few %s vectors", k)
	}
}

// ANCHOR: fuzz
// FuzzDecode feeds arbitrary bytes to the decoders. They must never panic,
// never allocate past their limits (a panic or OOM would show), and whatever
// header they accept must encode back to the bytes it came from. The seed
// corpus is every shared vector. Run: go test -fuzz FuzzDecode ./ch05-filexfer
func FuzzDecode(f *testing.F) {
	for _, v := range loadVectors(f) {
		if v.Hex != "" {
			f.Add(v.bytes(f))
		}
	}
	buf := make([]byte, MaxChunkSize)
	f.Fuzz(func(t *testing.T, in []byte) {
		if h, err := ReadHeader(bytes.NewReader(in)); err == nil {
			out, err := h.MarshalBinary()
			if err != nil {
				t.Fatalf("decoded header %+v does not encode: %v", h, err)
			}
			if !bytes.HasPrefix(in, out) {
				t.Fatalf("header round trip: %x -> %+v -> %x", in, h, out)
			}
		}
		if data, end, _, err := ReadChunk(bytes.NewReader(in), buf, DefaultChunk); err == nil && !end {
			if len(data) > DefaultChunk || CRC32C(data) != binaryCRC(in) {
				t.Fatalf("accepted a chunk over the limit or with a wrong CRC: %x", in)
			}
		}
		if r, err := ReadReply(bytes.NewReader(in)); err == nil && len(r.Msg) > MaxMessageLen {
			t.Fatalf("reply message of %d bytes", len(r.Msg))
		}
		_ = CheckName(string(in))
	})
}

// ANCHOR_END: fuzz

func binaryCRC(frame []byte) uint32 {
	return uint32(frame[4])<<24 | uint32(frame[5])<<16 | uint32(frame[6])<<8 | uint32(frame[7])
}
