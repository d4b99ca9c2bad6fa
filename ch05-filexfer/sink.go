package main

import (
	"hash"
	"os"
	"sync/atomic"
)

// ANCHOR: sink
// sink writes verified chunks to the partial file and hashes them on a
// goroutine of its own, so that the connection's goroutine can already
// read and check the next chunk: network, disk and SHA-256 work at the same
// time instead of in turn. Two buffers circulate between the two
// goroutines, so a connection holds at most two chunks in memory.
type sink struct {
	f       *os.File
	hash    hash.Hash
	written uint64 // bytes in the file; read only after wait
	err     error  // first write error; read only after wait
	failed  atomic.Bool
	full    chan []byte
	free    chan []byte
	done    chan struct{}
}

// newSink starts a writer for f, whose first off bytes are already in place
// (and in h). Its buffers hold size bytes: the chunk size, or less for a
// small file.
func newSink(f *os.File, h hash.Hash, off uint64, size int) *sink {
	s := &sink{f: f, hash: h, written: off,
		full: make(chan []byte, 1), free: make(chan []byte, 2), done: make(chan struct{})}
	s.free <- make([]byte, size)
	s.free <- make([]byte, size)
	go s.run()
	return s
}

// ANCHOR_END: sink

// ANCHOR: sink-run
// run is the writer goroutine. After a failed write it only recycles the
// buffers, so the reader never blocks; the reader sees failed and stops.
func (s *sink) run() {
	defer close(s.done)
	for b := range s.full {
		if s.err == nil {
			if _, err := s.f.Write(b); err != nil {
				s.err = err
				s.failed.Store(true)
				_ = s.f.Truncate(int64(s.written)) // drop the half-written chunk
			} else {
				s.hash.Write(b)
				s.written += uint64(len(b))
			}
		}
		s.free <- b[:cap(b)]
	}
}

// buffer returns an empty buffer to read the next chunk into.
func (s *sink) buffer() []byte { return <-s.free }

// put hands a verified chunk (a buffer from buffer) to the writer.
func (s *sink) put(b []byte) { s.full <- b }

// wait lets the writer finish and returns how many bytes the file holds and
// the first write error. Call it exactly once.
func (s *sink) wait() (uint64, error) {
	close(s.full)
	<-s.done
	return s.written, s.err
}

// ANCHOR_END: sink-run
