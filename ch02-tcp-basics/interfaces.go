package main

import "context"

func runInterfaces(context.Context, []string) error { return nil }
