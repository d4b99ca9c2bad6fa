//go:build !linux

package telemetry

// registerProcess: the process_* metrics (descriptors, resident memory,
// CPU) are read from Linux's /proc; on other systems they are not
// exported, and the go_* ones are.
func registerProcess(*Registry) {}
