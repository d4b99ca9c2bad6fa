package telemetry

import (
	"runtime"
	"runtime/metrics"
	"time"
)

// registerRuntime adds what an operator reads first about any Go process,
// under the names Prometheus's own Go client uses, so dashboards written
// for it work: goroutines, the heap, GC cycles, and (process_linux.go) the
// process's descriptors, memory and CPU.
func registerRuntime(r *Registry) {
	r.GaugeFunc("go_goroutines", "Goroutines that currently exist.", func() float64 {
		return float64(runtime.NumGoroutine())
	})
	r.GaugeFunc("go_memstats_heap_inuse_bytes", "Bytes of heap memory occupied by live objects and not yet swept ones.",
		readRuntime("/memory/classes/heap/objects:bytes"))
	r.CounterFunc("go_gc_cycles_total", "Garbage collection cycles completed.",
		readRuntime("/gc/cycles/total:gc-cycles"))
	start := float64(time.Now().Unix())
	r.GaugeFunc("process_start_time_seconds", "Start time of the process since the Unix epoch, in seconds.",
		func() float64 { return start })
	registerProcess(r)
}

// readRuntime returns a reader of one runtime/metrics value.
func readRuntime(name string) func() float64 {
	return func() float64 {
		s := []metrics.Sample{{Name: name}}
		metrics.Read(s)
		switch s[0].Value.Kind() {
		case metrics.KindUint64:
			return float64(s[0].Value.Uint64())
		case metrics.KindFloat64:
			return s[0].Value.Float64()
		}
		return 0
	}
}
