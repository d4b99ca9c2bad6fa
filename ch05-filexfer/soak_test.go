package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tcp-in-go/course/tests/testutil"
)

// TestSoakKill is the kill -9 loop, against the Go and the Python receiver.
// It is not part of `go test ./...`: run it with
//
//	SOAK=1 go test -run TestSoakKill -v -timeout 30m ./ch05-filexfer    # 120 kills each
//	SOAK=short go test -run TestSoakKill -v ./ch05-filexfer             # 20 kills each
//
// Each round overwrites one name with one of two versions of the same size
// (the case where a crash during commit once let a later upload rewrite the
// committed file), resuming or not, and kills the receiver with SIGKILL at
// a random byte of the stream, or just after the End frame, while it
// commits. After every kill the final name must hold a whole version, and
// the version the sender was told OK for; then a new receiver starts on the
// same directory and a resumed upload must complete.
func TestSoakKill(t *testing.T) {
	kills := map[string]int{"": 0, "short": 20}[os.Getenv("SOAK")]
	if os.Getenv("SOAK") == "" {
		t.Skip("set SOAK=1 (120 kills per receiver) or SOAK=short (20) to run the kill -9 loop")
	} else if kills == 0 {
		kills = 120
	}
	bin := testutil.BuildGo(t, ".")
	receivers := map[string]func(dir string) *exec.Cmd{
		"go": func(dir string) *exec.Cmd { return exec.Command(bin, "serve", "-dir", dir, "-addr", "127.0.0.1:0") },
		"python": func(dir string) *exec.Cmd {
			return testutil.PythonCmd(t, "ch05_filexfer.py", "serve", "--dir", dir, "--addr", "127.0.0.1:0")
		},
	}
	for _, impl := range []string{"go", "python"} {
		t.Run(impl, func(t *testing.T) {
			st := soakKill(t, receivers[impl], kills)
			t.Logf("receiver=%s kills=%d in_data=%d after_end=%d ok_before_kill=%d crash_links=%d resumed=%d corrupt=%d",
				impl, st.kills, st.inData, st.afterEnd, st.okBeforeKill, st.crashLinks, st.resumed, st.corrupt)
			assert.Zero(t, st.corrupt)
		})
	}
}

type soakStats struct{ kills, inData, afterEnd, okBeforeKill, crashLinks, resumed, corrupt int }

func soakKill(t *testing.T, receiver func(dir string) *exec.Cmd, kills int) soakStats {
	const size, chunkSize = 512 << 10, 16 << 10
	dir, src := t.TempDir(), t.TempDir()
	var paths [2]string
	var sums [2][32]byte
	for v := range 2 {
		paths[v], sums[v] = randomFile(t, filepath.Join(src, fmt.Sprint(v)), "data.bin", size, uint64(v+1))
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	final := filepath.Join(dir, "data.bin")
	part := filepath.Join(dir, filepath.FromSlash(partialName("data.bin", size)))
	streamBytes := streamLen("data.bin", size, chunkSize)
	var st soakStats
	p := testutil.StartProcess(t, receiver(dir))
	for range kills {
		v := rng.IntN(2)
		at := rng.Int64N(streamBytes + streamBytes/4) // a quarter of the kills after End
		if at >= streamBytes {
			st.afterEnd++
		} else {
			st.inData++
		}
		px := startKillProxy(t, p, at, streamBytes, time.Duration(rng.IntN(5000))*time.Microsecond)
		s := sender(px, &bytes.Buffer{})
		s.ChunkSize, s.Overwrite, s.Resume = chunkSize, true, rng.IntN(2) == 0
		_, err := s.Send(context.Background(), []string{paths[v]})
		select {
		case <-p.Done(): // killed
		case <-time.After(30 * time.Second):
			t.Fatal("the receiver was not killed")
		}
		st.kills++
		if err == nil {
			st.okBeforeKill++
		}
		if fi, lerr := os.Stat(part); lerr == nil {
			if n, ok := linkCount(fi); ok && n > 1 {
				st.crashLinks++ // the state a kill between link and remove leaves
			}
		}
		if data, rerr := os.ReadFile(final); rerr == nil {
			sum := sha256.Sum256(data)
			switch {
			case err == nil && sum != sums[v]:
				st.corrupt++
				t.Errorf("told OK for version %d, the file is something else (%d bytes)", v, len(data))
			case sum != sums[0] && sum != sums[1]:
				st.corrupt++
				t.Errorf("final file is no whole version (%d bytes) after a kill at byte %d", len(data), at)
			}
		}

		p = testutil.StartProcess(t, receiver(dir)) // the next receiver, same directory
		s = sender(p.Addr, &bytes.Buffer{})
		s.ChunkSize, s.Overwrite, s.Resume = chunkSize, true, true
		res, err := s.Send(context.Background(), []string{paths[v]})
		require.NoError(t, err, "the upload after a kill must complete")
		if res[0].Offset > 0 {
			st.resumed++
		}
		require.Equal(t, sums[v], fileSum(t, final))
	}
	return st
}

// startKillProxy forwards one connection to p and kills p (SIGKILL) when
// `at` bytes from the sender have gone through, or, for an `at` past the
// end of the stream (streamBytes), `delay` after its last byte went through.
func startKillProxy(t *testing.T, p *testutil.Process, at, streamBytes int64, delay time.Duration) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	var once sync.Once
	kill := func() { once.Do(func() { _ = p.Cmd.Process.Kill() }) }
	t.Cleanup(func() { ln.Close(); kill(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		in, err := ln.Accept()
		if err != nil {
			kill()
			return
		}
		defer in.Close()
		out, err := net.Dial("tcp", p.Addr)
		if err != nil {
			kill()
			return
		}
		defer out.Close()
		wg.Add(1)
		go func() { // receiver -> sender
			defer wg.Done()
			_, _ = io.Copy(in, out)
			in.Close()
		}()
		var n int64
		buf := make([]byte, 4<<10)
		for {
			k, err := in.Read(buf)
			if k > 0 {
				b := buf[:k]
				if left := at - n; left < int64(k) {
					_, _ = out.Write(b[:max(left, 0)])
					kill()
					return
				}
				if _, werr := out.Write(b); werr != nil {
					kill()
					return
				}
				if n += int64(k); n == streamBytes { // End went through: the receiver commits
					timer := time.AfterFunc(delay, kill)
					t.Cleanup(func() { timer.Stop() })
				}
			}
			if err != nil {
				kill()
				return
			}
		}
	}()
	return ln.Addr().String()
}
