package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/tcp-in-go/course/internal/clock"
)

// ANCHOR: openloop
// openLoop sends on a fixed schedule, whatever the server does: request k of
// this connection is due at a fixed time (see schedule). The latency of a
// request is measured from that *intended* time, not from when it was
// actually written. If the server stalls for 100 ms, the requests that should
// have gone out during the stall are sent late and each one is charged the
// time it waited. A closed loop would simply not send them, and its
// histogram would omit exactly the slow moments ("coordinated omission").
func (r *runner) openLoop(ctx context.Context, id int) {
	s := r.newSchedule(id)
	var next uint64 // the next request to send; survives reconnections
	for ctx.Err() == nil && s.due(next).Before(s.end) {
		c, err := dial(ctx, &r.cfg)
		if err != nil {
			r.fail(ctx, err)
			clock.Sleep(ctx, 10*time.Millisecond)
			next = r.skipUnsent(ctx, s, next)
			continue
		}
		r.rec.conns.Add(1)
		next, err = r.openLoopConn(ctx, id, c, s, next)
		c.Close()
		r.rec.conns.Add(-1)
		if err != nil {
			r.fail(ctx, err)
		}
	}
}

// ANCHOR_END: openloop

// ANCHOR: schedule
// schedule is one connection's timetable: request k is due at
// start + phase + k*interval, and none is due at or after end. The
// connections' phases are spread over one interval, so that they do not
// all send at the same instant.
type schedule struct {
	start, end      time.Time
	phase, interval time.Duration
}

func (r *runner) newSchedule(id int) schedule {
	interval := time.Duration(float64(time.Second) * float64(r.cfg.Conns) / r.cfg.Rate)
	return schedule{start: r.runStart, end: r.measureStart.Add(r.cfg.Duration),
		phase: interval * time.Duration(id) / time.Duration(r.cfg.Conns), interval: interval}
}

func (s schedule) due(k uint64) time.Time { return s.start.Add(s.phase + time.Duration(k)*s.interval) }

// skipUnsent counts the requests that fell due while no connection could
// be made (they were never sent: "unsent" errors), and returns the first
// request still in the future, so the schedule moves on to the present.
func (r *runner) skipUnsent(ctx context.Context, s schedule, next uint64) uint64 {
	skipped := int64(0)
	for ; s.due(next).Before(time.Now()) && s.due(next).Before(s.end); next++ {
		if !s.due(next).Before(r.measureStart) {
			skipped++
		}
	}
	if skipped > 0 && ctx.Err() == nil {
		r.rec.failN("unsent", skipped, "requests due while no connection could be made")
	}
	return next
}

// ANCHOR_END: schedule

// sent is one request in flight: its number and when it was due.
type sent struct {
	k   uint64
	due time.Time
}

// ANCHOR: openloop-conn
// openLoopConn sends requests next, next+1, ... on c until the schedule
// ends, while a second goroutine reads the echoes in order. It returns the
// first request not sent.
func (r *runner) openLoopConn(ctx context.Context, id int, c net.Conn, s schedule, next uint64) (uint64, error) {
	connCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	release := unblockOnDone(connCtx, c)
	defer release()

	inflight := make(chan sent, 4096)
	var wg sync.WaitGroup
	var readErr, sendErr error
	wg.Go(func() {
		readErr = r.openLoopReader(id, c, inflight)
		if readErr != nil {
			cancel() // stop the sender: this connection is broken
		}
	})
	p := newPayload(id, r.cfg.Size)
	var batch []byte // reused by every write
	for s.due(next).Before(s.end) && sendErr == nil {
		if !clock.Sleep(connCtx, time.Until(s.due(next))) { // late already? send at once
			break
		}
		next, sendErr = r.sendDue(id, c, p, &batch, s, next, inflight)
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

// ANCHOR_END: openloop-conn

// ANCHOR: send-due
// sendDue writes every request due by now in one write: after a late
// wake-up (timers are not exact) or a stall, that may be many. It records
// how late the generator itself was, hands the requests to the reader, and
// returns the next request to send; after a failed write, the first of the
// batch, to be resent after reconnecting. batch is the write buffer.
func (r *runner) sendDue(id int, c net.Conn, p *payload, batch *[]byte, s schedule, next uint64,
	inflight chan<- sent) (uint64, error) {
	now := time.Now()
	*batch = (*batch)[:0]
	first := next
	for ; s.due(next).Before(s.end) && !s.due(next).After(now); next++ {
		p.stamp(next)
		*batch = append(*batch, p.msg...)
		if t := s.due(next); !t.Before(r.measureStart) {
			r.rec.recordLag(id, now.Sub(t))
		}
	}
	_ = c.SetWriteDeadline(now.Add(r.cfg.Timeout))
	if _, err := c.Write(*batch); err != nil {
		return first, err
	}
	for k := first; k < next; k++ {
		inflight <- sent{k: k, due: s.due(k)}
	}
	return next, nil
}

// ANCHOR_END: send-due

// ANCHOR: openloop-reader
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

// ANCHOR_END: openloop-reader
