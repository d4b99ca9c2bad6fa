package main

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tcp-in-go/course/internal/debugserver"
	"github.com/tcp-in-go/course/internal/exercise"
)

func TestSamplerReadsExpvar(t *testing.T) {
	exercise.Graded(t, "exercise-expvar-nested")
	addr, srv := startEcho(t)
	debug, stop, err := debugserver.Start(ctxT(t), "127.0.0.1:0", "echo", srv.vars, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer stop()
	cfg := testCfg(addr, ModePingPong)
	cfg.Conns = 3
	cfg.ExpvarURL = "http://" + debug + "/debug/vars"
	cfg.SampleRate = 20 * time.Millisecond
	res, err := Run(ctxT(t), cfg)
	require.NoError(t, err)
	require.NotNil(t, res.Server)
	s := res.Server
	assert.Empty(t, s.Error)
	assert.GreaterOrEqual(t, s.Samples, 2)
	assert.Positive(t, s.HeapPeak)
	assert.Positive(t, s.GoroutinesPeak)
	// The reference server publishes echo.conns_open; our three connections show.
	assert.GreaterOrEqual(t, s.ConnsPeak, int64(3))
	assert.Contains(t, s.String(), "goroutines")
}

func TestSamplerReadsProc(t *testing.T) {
	if runtime.GOOS != "linux" {
		var s sample
		require.ErrorContains(t, readProc(os.Getpid(), &s), "Linux only")
		return
	}
	addr, _ := startEcho(t)
	cfg := testCfg(addr, ModePingPong)
	cfg.ServerPID = os.Getpid() // the server runs in this very process
	cfg.SampleRate = 20 * time.Millisecond
	res, err := Run(ctxT(t), cfg)
	require.NoError(t, err)
	s := res.Server
	require.NotNil(t, s)
	assert.Empty(t, s.Error)
	assert.Positive(t, s.RSSPeak)
	assert.Positive(t, s.ThreadsPeak)
	assert.Greater(t, s.FDsPeak, int64(2*cfg.Conns), "both ends of each connection are our fds")
	assert.Positive(t, s.CPUPercent, "busy echoing must use CPU")
}

func TestSamplerReportsMissingProcess(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc is Linux-only")
	}
	addr, _ := startEcho(t)
	cfg := testCfg(addr, ModePingPong)
	cfg.ServerPID = 1 << 30 // no such process
	res, err := Run(ctxT(t), cfg)
	require.NoError(t, err)
	require.NotNil(t, res.Server)
	assert.Contains(t, res.Server.Error, "server process")
}

func TestExpvarBadEndpoint(t *testing.T) {
	web := httptest.NewServer(http.NotFoundHandler())
	defer web.Close()
	var s sample
	require.ErrorContains(t, readExpvar(ctxT(t), web.URL, &s), "404")
}

func TestExpvarFindsNestedCounters(t *testing.T) {
	exercise.Graded(t, "exercise-expvar-nested")
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"memstats": {"HeapInuse": 4096, "Sys": 1}, "cmdline": ["x"],
			"echo": {"addr": "127.0.0.1:7", "conns_open": 7, "goroutines": 9, "bytes_in": 100}}`))
	}))
	defer web.Close()
	var s sample
	require.NoError(t, readExpvar(ctxT(t), web.URL, &s))
	assert.Equal(t, int64(4096), s.heap)
	assert.Equal(t, int64(7), s.conns)
	assert.Equal(t, int64(9), s.goroutines)
}
