package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// ANCHOR: openloop
// openLoop sends on a fixed schedule, whatever the server does: request k of
// this connection is due at runStart + phase + k*interval. The latency of a
// request is measured from that *intended* time, not from when it was
// actually written. If the server stalls for 100 ms, the requests that should
// have gone out during the stall are sent late and each one is charged the
// time it waited. A closed loop would simply not send them, and its
// histogram would omit exactly the slow moments ("coordinated omission").
func (r *runner) openLoop(ctx context.Context, id int) {
	interval := time.Duration(float64(time.Second) * float64(r.cfg.Conns) / r.cfg.Rate)
	phase := interval * time.Duration(id) / time.Duration(r.cfg.Conns) // spread the connections out
	end := r.measureStart.Add(r.cfg.Duration)
	due := func(k uint64) time.Time { return r.runStart.Add(phase + time.Duration(k)*interval) }

	var next uint64 // the next request to send; survives reconnections
	for ctx.Err() == nil && due(next).Before(end) {
		c, err := dial(ctx, &r.cfg)
		if err != nil {
			r.fail(ctx, err)
			sleepCtx(ctx, 10*time.Millisecond)
			// Requests due while we had no connection were never sent:
			// count them, and move the schedule on to the present.
			skipped := int64(0)
			for ; due(next).Before(time.Now()) && due(next).Before(end); next++ {
				if !due(next).Before(r.measureStart) {
					skipped++
				}
			}
			if skipped > 0 && ctx.Err() == nil {
				r.rec.failN("unsent", skipped, "requests due while no connection could be made")
			}
			continue
		}
		r.rec.conns.Add(1)
		next, err = r.openLoopConn(ctx, id, c, next, due, end)
		c.Close()
		r.rec.conns.Add(-1)
		if err != nil {
			r.fail(ctx, err)
		}
	}
}

// sent is one request in flight: its number and when it was due.
type sent struct {
	k   uint64
	due time.Time
}

// openLoopConn sends requests next, next+1, ... on c until end, while a
// second goroutine reads the echoes in order. It returns the first request
// not sent.
func (r *runner) openLoopConn(ctx context.Context, id int, c net.Conn, next uint64,
	due func(uint64) time.Time, end time.Time) (uint64, error) {
	connCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	release := unblockOnDone(connCtx, c)
	defer release()

	inflight := make(chan sent, 4096)
	var wg sync.WaitGroup
	var readErr error
	wg.Go(func() {
		readErr = r.openLoopReader(id, c, inflight)
		if readErr != nil {
			cancel() // stop the sender: this connection is broken
		}
	})

	p := newPayload(id, r.cfg.Size)
	var batch []byte
	var sendErr error
	for due(next).Before(end) {
		if !sleepCtx(connCtx, time.Until(due(next))) { // late already? send at once
			break
		}
		// Everything due by now goes out in one write: after a late wake-up
		// (timers are not exact) or a stall, that may be many requests.
		now := time.Now()
		batch = batch[:0]
		first := next
		for ; due(next).Before(end) && !due(next).After(now); next++ {
			p.stamp(next)
			batch = append(batch, p.msg...)
			if t := due(next); !t.Before(r.measureStart) {
				r.rec.recordLag(id, now.Sub(t)) // how late the generator itself was
			}
		}
		_ = c.SetWriteDeadline(now.Add(r.cfg.Timeout))
		if _, err := c.Write(batch); err != nil {
			sendErr, next = err, first // resend the whole batch after reconnecting
			break
		}
		for k := first; k < next; k++ {
			inflight <- sent{k: k, due: due(k)}
		}
	}
	close(inflight)
	wg.Wait()
	if ctx.Err() != nil {
		return next, nil
	}
	if readErr != nil {
		return next, readErr
	}
	return next, sendErr
}

// openLoopReader reads the echoes in the order the requests were sent (TCP
// keeps order), checks each, and records its latency from its due time.
func (r *runner) openLoopReader(id int, c net.Conn, inflight <-chan sent) error {
	want := newPayload(id, r.cfg.Size)
	br := bufio.NewReaderSize(c, 64<<10) // one read system call for many echoes
	lost := 0
	var err error
	for s := range inflight {
		if err != nil {
			lost++ // the connection broke: the rest will never be answered
			continue
		}
		_ = c.SetReadDeadline(time.Now().Add(r.cfg.Timeout))
		if _, err = io.ReadFull(br, want.got); err != nil {
			lost++
			continue
		}
		now := time.Now()
		want.stamp(s.k)
		if err = want.check(); err != nil {
			lost++
			continue
		}
		if !s.due.Before(r.measureStart) {
			r.rec.record(id, now.Sub(s.due), len(want.got))
		}
	}
	if err != nil && lost > 1 {
		return fmt.Errorf("%w (%d requests in flight lost)", err, lost-1)
	}
	return err
}

// ANCHOR_END: openloop
