package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/tcp-in-go/course/internal/cli"
)

// sockbufTable writes the rows as a Markdown table (the book includes it).
func sockbufTable(w io.Writer, rows [][2]string) {
	fmt.Fprintln(w, "| setting | value on this machine |")
	fmt.Fprintln(w, "|---|---|")
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %s |\n", r[0], r[1])
	}
}

func runSockbuf(_ context.Context, args []string) error {
	fs := cli.NewFlagSet(name+" sockbuf", os.Stderr)
	if err := cli.Parse(fs, args, false); err != nil {
		return err
	}
	rows, err := sockbufRows()
	if err != nil {
		return err
	}
	sockbufTable(os.Stdout, rows)
	return nil
}
