package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tcp-in-go/course/internal/cli"
	"github.com/tcp-in-go/course/tests/testutil"
)

// TestTranscriptHelp writes the flag reference the book shows
// (go test ./ch07-bench -run Transcript -update rewrites it).
func TestTranscriptHelp(t *testing.T) {
	var out bytes.Buffer
	out.WriteString("$ go run ./ch07-bench -h\n")
	err := cli.Dispatch(context.Background(), prog, []string{"-h"}, &out, commands()...)
	require.True(t, errors.Is(err, flag.ErrHelp))
	out.WriteString("\n$ go run ./ch07-bench run -h\n")
	_, _, _, _, err = parseRunFlags([]string{"-h"}, &out)
	require.True(t, errors.Is(err, flag.ErrHelp))
	testutil.Golden(t, "testdata/help.golden", out.String())
}
