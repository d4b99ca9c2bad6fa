package main

// isTooManyFiles: Windows has no per-process descriptor limit of this kind.
func isTooManyFiles(error) bool { return false }
