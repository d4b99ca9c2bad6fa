package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/tests/testutil"
)

// Each error class is provoked for real on loopback and checked both with
// Classify and with the errors.Is/As test a program would use directly.
func TestProvokedErrors(t *testing.T) {
	var ne net.Error
	for _, tc := range []struct {
		name  string
		err   error
		want  Kind
		check func(error) bool
	}{
		{"timeout", provokeTimeout(), KindTimeout, func(err error) bool {
			return errors.As(err, &ne) && ne.Timeout() && errors.Is(err, os.ErrDeadlineExceeded)
		}},
		{"refused", provokeRefused(), KindRefused, func(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }},
		{"reset", provokeReset(), KindReset, func(err error) bool { return errors.Is(err, syscall.ECONNRESET) }},
		{"eof", provokeEOF(), KindEOF, func(err error) bool { return err == io.EOF }},
		{"closed", provokeClosed(), KindClosed, func(err error) bool { return errors.Is(err, net.ErrClosed) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Error(t, tc.err)
			assert.Equal(t, tc.want, Classify(tc.err), "%v", tc.err)
			assert.True(t, tc.check(tc.err), "%#v", tc.err)
		})
	}
}

func TestClassifyWrapped(t *testing.T) {
	op := func(errno error) error {
		return fmt.Errorf("while chatting: %w", &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", errno)})
	}
	assert.Equal(t, KindNone, Classify(nil))
	assert.Equal(t, KindBrokenPipe, Classify(op(syscall.EPIPE)))
	assert.Equal(t, KindReset, Classify(op(syscall.ECONNRESET)))
	assert.Equal(t, KindReset, Classify(op(syscall.ECONNABORTED)))
	assert.Equal(t, KindRefused, Classify(op(syscall.ECONNREFUSED)))
	assert.Equal(t, KindEOF, Classify(fmt.Errorf("frame: %w", io.ErrUnexpectedEOF)))
	assert.Equal(t, KindClosed, Classify(fmt.Errorf("x: %w", net.ErrClosed)))
	assert.Equal(t, KindOther, Classify(errors.New("something else")))
}

func TestBrokenPipe(t *testing.T) {
	// Writing after the peer reset the connection: the first write may
	// still succeed or report the reset; keep writing and EPIPE follows.
	err := withPair(func(client, server net.Conn) error {
		_ = server.(*net.TCPConn).SetLinger(0)
		server.Close()
		_, err := client.Read(make([]byte, 1)) // wait for the RST
		if Classify(err) != KindReset {
			return fmt.Errorf("want a reset first, got %w", err)
		}
		for range 10 {
			if _, err = client.Write([]byte("x")); err != nil && Classify(err) == KindBrokenPipe {
				return err
			}
		}
		return fmt.Errorf("no broken pipe after 10 writes: %w", err)
	})
	assert.Equal(t, KindBrokenPipe, Classify(err), "%v", err)
}

func TestErrorsTranscript(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, errorsLesson(context.Background(), &out))
	testutil.Golden(t, "testdata/errors.golden", testutil.Normalize(out.String()))
}
