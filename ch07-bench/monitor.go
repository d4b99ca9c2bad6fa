package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// ServerStats is what we saw of the server while it was under load: from
// /proc/PID (Linux) when -pid is given, from its expvar endpoint when
// -expvar is given, or both. Zero fields were not available.
type ServerStats struct {
	Source         string  `json:"source"`
	Samples        int     `json:"samples"`
	CPUPercent     float64 `json:"cpu_percent,omitempty"` // mean over the run; 100 = one core busy
	RSSStart       int64   `json:"rss_start_bytes,omitempty"`
	RSSPeak        int64   `json:"rss_peak_bytes,omitempty"`
	ThreadsPeak    int64   `json:"threads_peak,omitempty"`
	FDsPeak        int64   `json:"fds_peak,omitempty"`
	HeapPeak       int64   `json:"heap_inuse_peak_bytes,omitempty"` // expvar memstats
	GoroutinesPeak int64   `json:"goroutines_peak,omitempty"`       // expvar
	ConnsPeak      int64   `json:"conns_open_peak,omitempty"`       // expvar
	BytesPerConn   float64 `json:"rss_bytes_per_conn,omitempty"`    // idle mode
	FDsPerConn     float64 `json:"fds_per_conn,omitempty"`          // idle mode
	Error          string  `json:"error,omitempty"`                 // why sampling stopped
}

func (s *ServerStats) String() string {
	var parts []string
	add := func(format string, a ...any) { parts = append(parts, fmt.Sprintf(format, a...)) }
	if s.CPUPercent > 0 {
		add("cpu %.0f%%", s.CPUPercent)
	}
	if s.RSSPeak > 0 {
		add("rss %.1f MB", float64(s.RSSPeak)/1e6)
	}
	if s.HeapPeak > 0 {
		add("heap %.1f MB", float64(s.HeapPeak)/1e6)
	}
	if s.ThreadsPeak > 0 {
		add("threads %d", s.ThreadsPeak)
	}
	if s.FDsPeak > 0 {
		add("fds %d", s.FDsPeak)
	}
	if s.GoroutinesPeak > 0 {
		add("goroutines %d", s.GoroutinesPeak)
	}
	if s.ConnsPeak > 0 {
		add("conns %d", s.ConnsPeak)
	}
	if s.BytesPerConn != 0 {
		add("%.0f bytes/conn", s.BytesPerConn)
	}
	if s.FDsPerConn != 0 {
		add("%.1f fds/conn", s.FDsPerConn)
	}
	if s.Error != "" {
		add("(%s)", s.Error)
	}
	return fmt.Sprintf("%s (peak over %d samples, %s)", strings.Join(parts, ", "), s.Samples, s.Source)
}

// sample is one reading; zero means "not available from this source".
type sample struct {
	at         time.Time
	cpuTicks   int64 // user+system CPU time in clock ticks (/proc)
	rss        int64
	threads    int64
	fds        int64
	heap       int64
	goroutines int64
	conns      int64
}

// ANCHOR: sampler
// startSampler reads the server's resources every cfg.SampleRate until ctx
// ends or the returned function is called, which returns the summary (nil
// when no source was configured).
func startSampler(ctx context.Context, cfg *Config) func() *ServerStats {
	if cfg.ServerPID == 0 && cfg.ExpvarURL == "" {
		return func() *ServerStats { return nil }
	}
	ctx, cancel := context.WithCancel(ctx)
	sm := &sampler{cfg: cfg, stats: ServerStats{Source: sourceName(cfg)}}
	sm.take(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(cfg.SampleRate)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				sm.take(ctx)
			}
		}
	})
	return func() *ServerStats {
		cancel()
		wg.Wait()
		final, cancelFinal := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancelFinal()
		sm.take(final) // a last reading for the CPU time used up to the end
		return sm.summary()
	}
}

// ANCHOR_END: sampler

// ANCHOR: sampler-take
// sampler keeps the first and last readings (CPU time is a difference) and
// the peak of everything else.
type sampler struct {
	cfg         *Config
	mu          sync.Mutex
	first, last sample
	stats       ServerStats
}

// take adds one reading. A failed reading is kept as the reason sampling
// stopped, unless it failed because the run ended.
func (sm *sampler) take(ctx context.Context) {
	s, err := readSample(ctx, sm.cfg)
	sm.mu.Lock()
	defer sm.mu.Unlock()
	st := &sm.stats
	if err != nil {
		if ctx.Err() == nil {
			st.Error = err.Error()
		}
		return
	}
	if st.Samples == 0 {
		sm.first, st.RSSStart = s, s.rss
	}
	sm.last = s
	st.Samples++
	st.RSSPeak, st.ThreadsPeak = max(st.RSSPeak, s.rss), max(st.ThreadsPeak, s.threads)
	st.FDsPeak, st.HeapPeak = max(st.FDsPeak, s.fds), max(st.HeapPeak, s.heap)
	st.GoroutinesPeak, st.ConnsPeak = max(st.GoroutinesPeak, s.goroutines), max(st.ConnsPeak, s.conns)
}

// ANCHOR_END: sampler-take

// summary is the stats with the mean CPU use between the first and last
// readings: clock ticks used per second of wall time, as a percentage.
func (sm *sampler) summary() *ServerStats {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	out := sm.stats
	if d := sm.last.at.Sub(sm.first.at).Seconds(); d > 0 && sm.last.cpuTicks > 0 {
		out.CPUPercent = float64(sm.last.cpuTicks-sm.first.cpuTicks) / clockTicks / d * 100
	}
	return &out
}

// sampleOnce takes a single reading (nil without a source or on error).
func sampleOnce(cfg *Config) *ServerStats {
	if cfg.ServerPID == 0 && cfg.ExpvarURL == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := readSample(ctx, cfg)
	if err != nil {
		return nil
	}
	return &ServerStats{Source: sourceName(cfg), Samples: 1, RSSStart: s.rss, RSSPeak: s.rss}
}

func sourceName(cfg *Config) string {
	var src []string
	if cfg.ServerPID != 0 {
		src = append(src, fmt.Sprintf("/proc/%d", cfg.ServerPID))
	}
	if cfg.ExpvarURL != "" {
		src = append(src, "expvar")
	}
	return strings.Join(src, " + ")
}

func readSample(ctx context.Context, cfg *Config) (sample, error) {
	s := sample{at: time.Now()}
	if cfg.ServerPID != 0 {
		if err := readProc(cfg.ServerPID, &s); err != nil {
			return s, err
		}
	}
	if cfg.ExpvarURL != "" {
		if err := readExpvar(ctx, cfg.ExpvarURL, &s); err != nil {
			return s, err
		}
	}
	return s, nil
}

// ANCHOR: expvar
// readExpvar reads a Go server's /debug/vars. memstats is always there; the
// goroutine and open-connection counts are whatever the server publishes
// under a name containing "goroutines", or "conn" with "open"/"active"
// (top level or one level down, e.g. {"echo": {"conns_open": 3}}).
func readExpvar(ctx context.Context, url string, s *sample) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Close = true // no keep-alive connection left behind between samples
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("expvar %s: %s", url, resp.Status)
	}
	var vars map[string]json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&vars); err != nil {
		return fmt.Errorf("expvar %s: %w", url, err)
	}
	var mem struct{ HeapInuse, Sys int64 }
	if json.Unmarshal(vars["memstats"], &mem) == nil {
		s.heap = mem.HeapInuse
	}
	// ANCHOR: expvar-visit
	var visit func(name string, raw json.RawMessage, depth int)
	visit = func(name string, raw json.RawMessage, depth int) {
		var n int64
		if json.Unmarshal(raw, &n) == nil {
			lower := strings.ToLower(name)
			switch {
			case strings.Contains(lower, "goroutines"):
				s.goroutines = n
			case strings.Contains(lower, "conn") && (strings.Contains(lower, "open") || strings.Contains(lower, "active")):
				s.conns = n
			}
			return
		}
		// ANCHOR: exercise-expvar-nested
		var obj map[string]json.RawMessage
		if depth == 0 && name != "memstats" && json.Unmarshal(raw, &obj) == nil {
			for k, v := range obj {
				visit(name+"."+k, v, 1)
			}
		}
		// ANCHOR_END: exercise-expvar-nested
	}
	// ANCHOR_END: expvar-visit
	for k, v := range vars {
		visit(k, v, 0)
	}
	return nil
}

// ANCHOR_END: expvar
