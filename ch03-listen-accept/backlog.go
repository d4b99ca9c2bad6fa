package main

import (
	"context"
	"os"

	"github.com/tcp-in-go/course/internal/cli"
)

func runBacklog(ctx context.Context, args []string) error {
	fs := cli.NewFlagSet(name+" backlog", os.Stderr)
	backlog := fs.Int("backlog", 5, "length of the accept queue (the listen backlog); the source text uses 5")
	extra := fs.Int("extra", 2, "clients to dial beyond what the queue holds")
	if err := cli.Parse(fs, args, false); err != nil {
		return err
	}
	if err := checkBacklogFlags(*backlog, *extra); err != nil {
		return err
	}
	// Linux queues backlog+1 connections (it refuses only when the queue
	// length is already greater than the backlog).
	_, err := backlogLesson(ctx, os.Stdout, *backlog, *backlog+1+*extra)
	return err
}

// checkBacklogFlags bounds the lesson: a backlog of 1..100 and 0..100 extra
// clients keep the run to a few seconds and a few hundred descriptors.
func checkBacklogFlags(backlog, extra int) error {
	if backlog < 1 || backlog > 100 || extra < 0 || extra > 100 {
		return cli.Usagef("-backlog must be in 1..100 and -extra in 0..100")
	}
	return nil
}
