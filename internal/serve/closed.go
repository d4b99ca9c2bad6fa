package serve

import (
	"errors"
	"log/slog"
	"net"
	"time"
)

// ANCHOR: reason
// Reason names why a connection ended after err, from a small fixed set
// (a log line's reason and a metric's label must not be free text): the
// peer closed and got everything (eof, err nil); a deadline ran out while
// the server drained (drained) or otherwise (idle); Shutdown closed it when
// the drain timeout ran out (shutdown); anything else (error).
func Reason(err error, draining bool) string {
	var ne net.Error
	switch {
	case err == nil:
		return "eof"
	case errors.As(err, &ne) && ne.Timeout() && draining:
		return "drained"
	case errors.As(err, &ne) && ne.Timeout():
		return "idle"
	case errors.Is(err, net.ErrClosed) && draining:
		return "shutdown"
	default:
		return "error"
	}
}

// ANCHOR_END: reason

// quiet are the reasons that are no failure: the closed line is INFO and
// carries no err, even when err is set (the deadline that ended an idle
// connection is how the server meant it to end).
var quiet = map[string]bool{"eof": true, "idle": true, "drained": true, "shutdown": true}

// ANCHOR: log-closed
// LogClosed writes a connection's last line, the one every server of the
// course writes the same way:
//
//	msg=closed peer=127.0.0.1:53914 duration=1.2s bytes_in=5 bytes_out=5 reason=eof
//
// It is INFO, or WARN with err when the connection ended on a failure
// (any reason but eof, idle, drained and shutdown, with an error). attrs
// are the server's own counts: bytes_in and bytes_out, or lines (as the
// Python twins' common.log_closed, in the same order).
func LogClosed(log *slog.Logger, peer string, start time.Time, reason string, err error, attrs ...any) {
	line := append([]any{"peer", peer, "duration", time.Since(start).Round(time.Microsecond)}, attrs...)
	line = append(line, "reason", reason)
	if err != nil && !quiet[reason] {
		log.Warn("closed", append(line, "err", err)...)
		return
	}
	log.Info("closed", line...)
}

// ANCHOR_END: log-closed
