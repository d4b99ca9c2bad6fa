package main

import "context"

func runPool(context.Context, []string) error { return nil }
