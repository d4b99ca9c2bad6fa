package main

import (
	"context"
	"io"
	"net"
	"time"
)

// ANCHOR: pingpong
// pingpongConn is the closed loop: send a message, wait for all of its echo,
// check it, record the round trip, repeat. At most one request is in flight
// per connection, so the offered load adapts to the server's speed — which is
// exactly why a closed loop under-reports latency when the server stalls
// (see open-loop).
func (r *runner) pingpongConn(ctx context.Context, id int, c net.Conn) error {
	p := newPayload(id, r.cfg.Size)
	var seq uint64
	var refreshAt time.Time
	for {
		start := time.Now()
		if start.After(refreshAt) { // a deadline per request costs; refresh it now and then
			_ = c.SetDeadline(start.Add(r.cfg.Timeout))
			refreshAt = start.Add(r.cfg.Timeout / 4)
		}
		if ctx.Err() != nil { // checked after SetDeadline: see unblockOnDone
			return nil
		}
		measured, err := r.claim()
		if err != nil {
			return err
		}
		seq++
		p.stamp(seq)
		if _, err := c.Write(p.msg); err != nil {
			return err
		}
		if _, err := io.ReadFull(c, p.got); err != nil {
			return err
		}
		rtt := time.Since(start)
		if err := p.check(); err != nil {
			return err
		}
		if measured {
			r.rec.record(id, rtt, len(p.got))
		}
	}
}

// ANCHOR_END: pingpong
