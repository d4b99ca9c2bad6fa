//go:build !linux

package main

// machineLimits: the kernel settings the results page shows are read from
// /proc/sys on Linux; other systems show none.
func machineLimits() [][2]string { return nil }
