package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"strconv"
	"testing"
)

// tmpfsDir returns a directory in RAM when the system has one (/dev/shm on
// Linux), so the benchmark measures the protocol and the network, not the
// disk.
func tmpfsDir(b *testing.B) string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		d, err := os.MkdirTemp("/dev/shm", "ch05-bench-")
		if err == nil {
			b.Cleanup(func() { os.RemoveAll(d) })
			return d
		}
	}
	return b.TempDir()
}

// ANCHOR: bench
// BenchmarkTransfer sends one file over loopback into a tmpfs directory,
// replacing it each time: the MB/s column is the end-to-end throughput,
// with every chunk CRC-checked, the whole file hashed on both sides, and
// the file fsynced and renamed. CH05_BENCH_MB sets the size (default 64).
// scripts/ch05-bench.sh runs it with 1 GiB next to iperf3.
func BenchmarkTransfer(b *testing.B) {
	mb := 64
	if v, err := strconv.Atoi(os.Getenv("CH05_BENCH_MB")); err == nil && v > 0 {
		mb = v
	}
	src := tmpfsDir(b)
	path, _ := randomFile(b, src, "bench.bin", mb<<20, 1)
	addr, _, _ := startServer(b, func(s *Server) { s.Dir = tmpfsDir(b) })
	s := sender(addr, &bytes.Buffer{})
	s.Overwrite = true
	b.SetBytes(int64(mb) << 20)
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Send(context.Background(), []string{path}); err != nil {
			b.Fatal(err)
		}
	}
}

// ANCHOR_END: bench

// BenchmarkHashes measures the two checksums alone on one chunk: SHA-256
// runs on every byte on both sides, so its speed on one core is a ceiling
// for BenchmarkTransfer; CRC-32C (in hardware) should be far faster.
func BenchmarkHashes(b *testing.B) {
	data := make([]byte, DefaultChunk)
	b.Run("SHA-256", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			sha256.Sum256(data)
		}
	})
	b.Run("CRC-32C", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			CRC32C(data)
		}
	})
}
