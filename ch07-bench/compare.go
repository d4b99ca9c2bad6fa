package main

import "context"

func runCompare(ctx context.Context, args []string) error { return nil }
