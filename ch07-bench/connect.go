package main

import (
	"context"
	"io"
	"time"

	"github.com/tcp-in-go/course/internal/clock"
)

// ANCHOR: connect
// connectLoop measures connections per second: dial (and handshake, with
// TLS), one verified echo, close. Every connection the client closes first
// leaves a socket in TIME_WAIT on the client's side for a minute, holding one
// ephemeral port: the limit this mode runs into is described in the C10K
// section of the chapter.
func (r *runner) connectLoop(ctx context.Context, id int) {
	p := newPayload(id, max(r.cfg.Size, 1))
	var seq uint64
	for ctx.Err() == nil {
		measured, err := r.claim()
		if err != nil {
			return
		}
		start := time.Now()
		c, err := dial(ctx, &r.cfg)
		if err != nil {
			r.fail(ctx, err)
			clock.Sleep(ctx, 10*time.Millisecond)
			continue
		}
		release := unblockOnDone(ctx, c)
		_ = c.SetDeadline(start.Add(r.cfg.Timeout))
		seq++
		p.stamp(seq)
		_, err = c.Write(p.msg)
		if err == nil {
			_, err = io.ReadFull(c, p.got)
		}
		if err == nil {
			err = p.check()
		}
		release()
		c.Close()
		if err != nil {
			r.fail(ctx, err)
			continue
		}
		if measured {
			r.rec.record(id, time.Since(start), len(p.got))
		}
	}
}

// ANCHOR_END: connect
