package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestExitCode(t *testing.T) {
	assert.Equal(t, 0, ExitCode(nil))
	assert.Equal(t, 0, ExitCode(flag.ErrHelp))
	assert.Equal(t, 2, ExitCode(Usagef("bad flag")))
	assert.Equal(t, 1, ExitCode(errors.New("boom")))
}

func TestDispatch(t *testing.T) {
	var got []string
	cmd := func(name string) Command {
		return Command{Name: name, Summary: name + " things", Run: func(_ context.Context, args []string) error {
			got = append([]string{name}, args...)
			return nil
		}}
	}
	var stderr bytes.Buffer
	cmds := []Command{cmd("serve"), cmd("client")}
	ctx := context.Background()

	require.NoError(t, Dispatch(ctx, "prog", nil, &stderr, cmds...))
	assert.Equal(t, []string{"serve"}, got, "no arguments runs the default command")

	require.NoError(t, Dispatch(ctx, "prog", []string{"-addr", "x"}, &stderr, cmds...))
	assert.Equal(t, []string{"serve", "-addr", "x"}, got, "leading flag goes to the default command")

	require.NoError(t, Dispatch(ctx, "prog", []string{"client", "-msg", "hi"}, &stderr, cmds...))
	assert.Equal(t, []string{"client", "-msg", "hi"}, got)

	err := Dispatch(ctx, "prog", []string{"nope"}, &stderr, cmds...)
	assert.Equal(t, 2, ExitCode(err))
	assert.Contains(t, stderr.String(), "client       client things")

	assert.ErrorIs(t, Dispatch(ctx, "prog", []string{"-h"}, &stderr, cmds...), flag.ErrHelp)
}

func TestParse(t *testing.T) {
	fs := NewFlagSet("x", &bytes.Buffer{})
	fs.String("addr", "", "")
	assert.Equal(t, 2, ExitCode(Parse(fs, []string{"-nope"}, false)))
	fs = NewFlagSet("x", &bytes.Buffer{})
	assert.Equal(t, 2, ExitCode(Parse(fs, []string{"stray"}, false)))
	fs = NewFlagSet("x", &bytes.Buffer{})
	assert.NoError(t, Parse(fs, []string{"file"}, true))
}

func TestListenAddressInUse(t *testing.T) {
	ln, err := Listen(context.Background(), "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	_, err = Listen(context.Background(), ln.Addr().String())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "address already in use (another server running? try -addr 127.0.0.1:0)")
}

// TestBadFlagIsOneLine: a bad flag writes nothing itself; the error Main
// prints is the only line, and it says where the flags are listed.
func TestBadFlagIsOneLine(t *testing.T) {
	var out strings.Builder
	fs := NewFlagSet("serve", &out)
	fs.String("addr", "", "address")
	err := Parse(fs, []string{"-bogus"}, false)
	require.Error(t, err)
	assert.Equal(t, 2, ExitCode(err))
	assert.Equal(t, "flag provided but not defined: -bogus (-h lists the flags)", err.Error())
	assert.Empty(t, out.String(), "the flag package's own message and usage are held back")

	out.Reset()
	require.ErrorIs(t, Parse(fs, []string{"-h"}, false), flag.ErrHelp)
	assert.Contains(t, out.String(), "Usage of serve:\n  -addr string")
}
