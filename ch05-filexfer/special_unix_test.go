//go:build unix

package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSenderRefusesSpecialFiles: a FIFO or a device named on the command
// line is refused before anything is opened or dialled (opening a FIFO
// would block until a writer comes; /dev/zero would be sent as 0 bytes).
func TestSenderRefusesSpecialFiles(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	paths := []string{os.DevNull, fifo}
	for _, p := range paths {
		s := sender("127.0.0.1:1", io.Discard)
		done := make(chan error, 1)
		go func() { _, err := s.Send(context.Background(), []string{p}); done <- err }()
		select {
		case err := <-done:
			assert.ErrorContains(t, err, "not a regular file or a directory", p)
		case <-time.After(5 * time.Second):
			t.Fatalf("Send(%s) blocked", p)
		}
	}
}
