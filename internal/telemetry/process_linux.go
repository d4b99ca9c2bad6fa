package telemetry

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// registerProcess adds the process metrics Linux exposes in /proc: open
// descriptors against the limit (a server out of descriptors cannot
// accept), resident memory, and CPU time.
func registerProcess(r *Registry) {
	r.GaugeFunc("process_open_fds", "Open file descriptors.", func() float64 {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			return 0
		}
		return float64(len(ents) - 1) // ReadDir's own descriptor
	})
	r.GaugeFunc("process_max_fds", "The limit on open file descriptors (RLIMIT_NOFILE).", func() float64 {
		var lim syscall.Rlimit
		if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return 0
		}
		return float64(lim.Cur)
	})
	r.GaugeFunc("process_resident_memory_bytes", "Resident memory size in bytes.", func() float64 {
		data, err := os.ReadFile("/proc/self/statm") // size resident shared ..., in pages
		if err != nil {
			return 0
		}
		f := strings.Fields(string(data))
		if len(f) < 2 {
			return 0
		}
		pages, _ := strconv.ParseFloat(f[1], 64)
		return pages * float64(os.Getpagesize())
	})
	r.CounterFunc("process_cpu_seconds_total", "User and system CPU time spent, in seconds.", func() float64 {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			return 0
		}
		return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
	})
}
