package main

// Many small writes vs one buffered writer.
//
// Each Write on a *net.TCPConn is at least one write(2) system call: a trip
// into the kernel that copies the bytes into the socket's send buffer. A
// program that writes a message in ten little pieces pays ten trips (and,
// with TCP_NODELAY, may send ten tiny packets). bufio.Writer collects the
// pieces in user space and makes one system call per 4 KiB (or at Flush).
// We count the calls with a wrapper around net.Conn.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/tcp-in-go/course/internal/cli"
)

// ANCHOR: counting-conn
// countingConn is a net.Conn that counts the Write calls that reach the
// socket. Embedding the interface keeps every other method as it is.
type countingConn struct {
	net.Conn
	writes, bytes atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	n, err := c.Conn.Write(p)
	c.bytes.Add(int64(n))
	return n, err
}

// ANCHOR_END: counting-conn

// writeResult is one line of the lesson's table.
type writeResult struct {
	Name           string
	Writes, Bytes  int64
	Elapsed        time.Duration
	ReceivedBytes  int64
	ReceivedEquals bool
}

// ANCHOR: write-records
// writeRecords sends n records of the form "record 0042\n", each in three
// small writes (field, number, newline), as naive code does. Wrapping the
// connection in a bufio.Writer is the whole fix: the three writes land in
// memory, and Flush sends what is left at the end.
func writeRecords(c net.Conn, n int, buffered bool) error {
	var w io.Writer = c
	var bw *bufio.Writer
	if buffered {
		bw = bufio.NewWriter(c) // 4096 bytes by default
		w = bw
	}
	for i := range n {
		if _, err := io.WriteString(w, "record "); err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "%04d", i); err != nil {
			return err
		}
		if _, err := io.WriteString(w, "\n"); err != nil {
			return err
		}
	}
	if bw != nil {
		return bw.Flush() // forgetting Flush loses the tail of the data
	}
	return nil
}

// ANCHOR_END: write-records

// measureWrites sends n records over a fresh loopback connection and counts
// the write calls on the socket.
func measureWrites(n int, buffered bool) (writeResult, error) {
	res := writeResult{Name: "small writes"}
	if buffered {
		res.Name = "bufio.Writer"
	}
	err := withPair(func(client, server net.Conn) error {
		_ = server.SetDeadline(time.Now().Add(30 * time.Second))
		_ = client.SetDeadline(time.Now().Add(30 * time.Second))
		got := make(chan int64, 1)
		go func() {
			m, _ := io.Copy(io.Discard, server)
			got <- m
		}()
		cc := &countingConn{Conn: client}
		start := time.Now()
		if err := writeRecords(cc, n, buffered); err != nil {
			return err
		}
		res.Elapsed = time.Since(start)
		if err := client.(*net.TCPConn).CloseWrite(); err != nil {
			return err
		}
		res.Writes, res.Bytes = cc.writes.Load(), cc.bytes.Load()
		res.ReceivedBytes = <-got
		res.ReceivedEquals = res.ReceivedBytes == res.Bytes
		return nil
	})
	return res, err
}

func writesLesson(w io.Writer, n int) error {
	for _, buffered := range []bool{false, true} {
		r, err := measureWrites(n, buffered)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%-13s records=%d bytes=%d write_calls=%d received=%d elapsed=%s\n",
			r.Name, n, r.Bytes, r.Writes, r.ReceivedBytes, r.Elapsed)
	}
	return nil
}

func runWrites(_ context.Context, args []string) error {
	fs := cli.NewFlagSet(name+" writes", os.Stderr)
	n := fs.Int("n", 1000, "records to send")
	if err := cli.Parse(fs, args, false); err != nil {
		return err
	}
	if *n < 1 || *n > 10000 {
		return cli.Usagef("-n must be in 1..10000 (records are numbered with four digits)")
	}
	return writesLesson(os.Stdout, *n)
}
