// Command wire captures one of the course's lessons on the wire: it builds
// the chapter's program, runs it as a server on a loopback port, records
// that port with tcpdump while a client acts out the scene, and prints the
// packets as a Markdown table and a mermaid sequence diagram. The capture
// is kept as SCENE.pcap, for Wireshark.
//
//	cd tools/wire && sudo go run . ch02-handshake             # one scene
//	cd tools/wire && sudo go run . -out /tmp ch04-zero-window  # pcap in /tmp
//	cd tools/wire && go run . -h                              # the scenes
//
// Capturing needs CAP_NET_RAW: run it as root (sudo), with tcpdump
// installed (scripts/install-tools.sh).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
)

func main() {
	out := flag.String("out", ".", "directory for SCENE.pcap")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: wire [-out DIR] SCENE\nscenes:\n")
		for _, s := range scenes {
			fmt.Fprintf(os.Stderr, "  %-16s %s\n", s.Name, s.Title)
		}
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	sc, ok := findScene(flag.Arg(0))
	if !ok {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := Run(ctx, sc, *out)
	if err != nil { // ErrNoCapture says in one sentence what is missing
		fmt.Fprintln(os.Stderr, "wire:", err)
		os.Exit(1)
	}
	fmt.Print(res.Markdown)
	fmt.Fprintf(os.Stderr, "wire: capture in %s\n", res.Pcap)
}
