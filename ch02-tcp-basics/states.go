package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/tcp-in-go/course/internal/cli"
)

func runStates(ctx context.Context, args []string) error {
	fs := cli.NewFlagSet(name+" states", os.Stderr)
	model := fs.Bool("model", false, "print the RFC 9293 state machine model and exit")
	port := fs.Int("census", 0, "count the sockets of this local port by state (Linux), and exit")
	if err := cli.Parse(fs, args, false); err != nil {
		return err
	}
	if *port < 0 || *port > 65535 {
		return cli.Usagef("-census wants a port, 1 to 65535")
	}
	switch {
	case *model:
		printModel(os.Stdout)
		return nil
	case *port != 0:
		return printCensus(os.Stdout, uint16(*port))
	}
	_, err := walkStates(ctx, os.Stdout)
	return err
}

// printModel prints the eleven states and every transition of the model.
func printModel(w io.Writer) {
	fmt.Fprintf(w, "The TCP state machine of RFC 9293 (Figure 5): %d states, %d transitions.\n", len(AllStates()), len(Transitions))
	for _, s := range AllStates() {
		fmt.Fprintf(w, "%s\n", s)
		for _, t := range Transitions {
			if t.From == s {
				send := ""
				if t.Sends != "" {
					send = " / send " + t.Sends
				}
				fmt.Fprintf(w, "    on %-20s -> %s%s\n", t.On, t.To, send)
			}
		}
	}
}
