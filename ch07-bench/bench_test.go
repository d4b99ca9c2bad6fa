package main

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// BenchmarkGeneratorPingPong: one op is one verified 64-byte echo over 50
// connections to the in-process reference echo server (client and server
// share the process and the cores; scripts/report separates them for the book).
func BenchmarkGeneratorPingPong(b *testing.B) {
	addr, _ := startEcho(b)
	b.SetBytes(64)
	res, err := Run(context.Background(), Config{Addr: addr, Mode: ModePingPong, Conns: 50, Size: 64,
		Requests: int64(b.N), Timeout: 5 * time.Second})
	require.NoError(b, err)
	require.Zero(b, res.ErrorTotal)
}

// ANCHOR: bench-ratio
// BenchmarkGeneratorVsMinimal reports the generator's echo rate divided by
// the minimal hand-written client's, over the same time against the same
// server, alternating which goes first. A ratio near or above 1 means the
// generator's bookkeeping (histogram, byte check) is not what limits it.
func BenchmarkGeneratorVsMinimal(b *testing.B) {
	addr, _ := startEcho(b)
	const d = 500 * time.Millisecond
	gen := func() float64 {
		res, err := Run(context.Background(), Config{Addr: addr, Mode: ModePingPong, Conns: 50, Size: 64,
			Duration: d, Timeout: 5 * time.Second})
		require.NoError(b, err)
		require.Zero(b, res.ErrorTotal)
		return res.ReqPerSec
	}
	minimal := func() float64 {
		perSec, err := minimalPingPong(context.Background(), addr, 50, 64, d)
		require.NoError(b, err)
		return perSec
	}
	var sum float64
	for i := range b.N {
		if i%2 == 0 {
			m := minimal()
			sum += gen() / m
		} else {
			g := gen()
			sum += g / minimal()
		}
	}
	b.ReportMetric(sum/float64(b.N), "generator/minimal")
}

// ANCHOR_END: bench-ratio
