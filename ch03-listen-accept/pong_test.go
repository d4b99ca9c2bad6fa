package main

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/tests/testutil"
)

// The client counts a PONG only when it answers one of its PINGs.

// TestOutstanding: a PONG's token takes its PING once; a duplicate, a
// token never sent, no token, and the answer to a PING older than the
// newest keep are all unsolicited.
func TestOutstanding(t *testing.T) {
	out := newOutstanding(2)
	t0 := time.Now()
	for seq := 1; seq <= 3; seq++ {
		out.add(seq, t0.Add(time.Duration(seq)*time.Second))
	}
	sent, ok := out.answer("3")
	require.True(t, ok, "PING 3 waits for its PONG")
	assert.Equal(t, t0.Add(3*time.Second), sent, "and says when it was sent")
	_, ok = out.answer("2")
	assert.True(t, ok, "PING 2 is among the newest 2")
	for _, token := range []string{"3", "1", "4", "", "+3", "03"} {
		_, ok := out.answer(token)
		assert.False(t, ok, "PONG %q answers no PING waiting", token)
	}
	out.add(10, t0)
	assert.LessOrEqual(t, len(out.sent), 2, "at most keep PINGs are remembered")
}

// unsolicitedServer answers every PING with lines that answer none: a
// token it was never sent and no token at all.
func unsolicitedServer(t *testing.T) string {
	return testutil.StartLineServer(t, false, func(line string) string {
		if strings.HasPrefix(line, "PING") {
			return "PONG 999999\nPONG"
		}
		return ""
	})
}

// TestClientIgnoresUnsolicitedPongs: a server that sends PONGs, but never
// one that answers a PING, is declared dead after Misses intervals, as a
// silent one is; its PONGs are counted, and the first is a warning.
func TestClientIgnoresUnsolicitedPongs(t *testing.T) {
	const interval, misses = 50 * time.Millisecond, 3
	rec, _ := startClient(t, &Client{Addr: unsolicitedServer(t), Interval: interval, Misses: misses,
		Backoff: Backoff{Base: time.Hour, Max: time.Hour}})
	i, _ := rec.waitEvent(t, 0, 10*time.Second, is(StateConnected))
	j, dead := rec.waitEvent(t, i, 5*time.Second, is(StateDead))
	lived := rec.eventAt(j).Sub(rec.eventAt(i))
	assert.GreaterOrEqual(t, lived, misses*interval-5*time.Millisecond, "declared dead too early")
	assert.Less(t, lived, misses*interval+time.Second, "unsolicited PONGs must not keep a session alive")
	assert.Equal(t, 0, dead.Pongs)
	assert.GreaterOrEqual(t, dead.Unsolicited, 2, "each unsolicited PONG is counted")
	log := rec.log()
	assert.Equal(t, 1, strings.Count(log, `level=WARN msg="unsolicited pong"`), "one warning per session:\n%s", log)
	assert.Contains(t, log, `line="PONG 999999"`)
	assert.Regexp(t, `msg="peer dead" .*pongs=0 unsolicited=\d+ `, log)
}

// TestClientCountsDuplicatePongs: a server that answers each PING twice
// keeps the session alive with its first answers; the second ones are
// unsolicited and do not count towards -count.
func TestClientCountsDuplicatePongs(t *testing.T) {
	addr := testutil.StartLineServer(t, false, func(line string) string {
		if token, ok := strings.CutPrefix(line, "PING "); ok {
			return "PONG " + token + "\nPONG " + token
		}
		return ""
	})
	rec := newRecorder()
	c := &Client{Addr: addr, Interval: 10 * time.Millisecond, Misses: 3, MaxPongs: 3,
		Log: slog.New(slog.NewTextHandler(rec, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, c.Run(ctx))
	assert.Equal(t, 3, c.pongs, "PONG 1, 2 and 3 answered their PINGs")
	assert.Equal(t, 2, c.unsolicited, "the second PONG 1 and PONG 2 answered none")
	log := rec.log()
	assert.Equal(t, 1, strings.Count(log, `level=WARN msg="unsolicited pong"`), log)
	assert.Equal(t, 1, strings.Count(log, `level=DEBUG msg="unsolicited pong"`), log)
}

// TestClientAnswersOnlyTheNewestPings: the client keeps Misses+1 PINGs
// waiting. The server holds back its answers to PING 2 and PING 3, then
// sends PONG 2 as the oldest of the newest Misses+1 (it counts) and PONG 3
// one PING too late (it is unsolicited). A window one wider or narrower
// counts differently.
func TestClientAnswersOnlyTheNewestPings(t *testing.T) {
	const misses = 4
	addr := testutil.StartLineServer(t, false, func(line string) string {
		token, ok := strings.CutPrefix(line, "PING ")
		if !ok {
			return ""
		}
		switch token {
		case "2", "3":
			return "" // answered later
		case strconv.Itoa(2 + misses): // PING 2 is the oldest kept
			return "PONG " + token + "\nPONG 2"
		case strconv.Itoa(3 + misses + 1): // PING 3 was just forgotten
			return "PONG 3\nPONG " + token
		}
		return "PONG " + token
	})
	c := &Client{Addr: addr, Interval: 50 * time.Millisecond, Misses: misses,
		MaxPongs: 7}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, c.Run(ctx))
	assert.Equal(t, 7, c.pongs, "PONG 1, 4, 5, 6, 2, 7 and 8 answered PINGs")
	assert.Equal(t, 1, c.unsolicited, "PONG 3 came after PING 3 was forgotten")
}
