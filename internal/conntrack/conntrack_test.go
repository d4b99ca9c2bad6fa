package conntrack

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func pipe(t *testing.T) (net.Conn, net.Conn) {
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// waitWithin runs s.Wait(ctx) and returns its error, failing the test if
// Wait has not returned within bound: a broken set fails, it does not hang.
// The goroutine left behind by a failure is reported by goleak too.
func waitWithin(t *testing.T, s *Set, ctx context.Context, bound time.Duration) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- s.Wait(ctx) }()
	select {
	case err := <-done:
		return err
	case <-time.After(bound):
		t.Fatalf("Wait did not return within %s", bound)
		return nil
	}
}

func TestAddRemoveWait(t *testing.T) {
	var s Set
	a, _ := pipe(t)
	require.True(t, s.Add(a))
	assert.Equal(t, 1, s.Len())
	go s.Remove(a)
	require.NoError(t, waitWithin(t, &s, t.Context(), 5*time.Second))
	assert.Equal(t, 0, s.Len())
}

func TestCloseRefusesNewConnections(t *testing.T) {
	var s Set
	a, _ := pipe(t)
	assert.False(t, s.Closed())
	assert.True(t, s.Close(), "the first Close")
	assert.False(t, s.Close(), "a second Close")
	assert.True(t, s.Closed())
	if !assert.False(t, s.Add(a), "Add after Close") {
		s.Remove(a) // keep the count right, so the Wait below still ends
	}
	require.NoError(t, waitWithin(t, &s, t.Context(), 5*time.Second), "nothing to wait for")
}

func TestWaitClosesStragglersWhenCtxEnds(t *testing.T) {
	var s Set
	a, _ := pipe(t)
	require.True(t, s.Add(a))
	handlerDone := make(chan error, 1)
	go func() { // a handler blocked reading from a silent peer
		_, err := a.Read(make([]byte, 1))
		s.Remove(a)
		handlerDone <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, waitWithin(t, &s, ctx, 5*time.Second), context.DeadlineExceeded)
	select {
	case err := <-handlerDone:
		assert.True(t, err == io.ErrClosedPipe || err == io.EOF, "the blocked read ends: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("the handler's read was not ended by Wait closing the connection")
	}
}

func TestEachSeesEveryConnection(t *testing.T) {
	var s Set
	a, _ := pipe(t)
	b, _ := pipe(t)
	require.True(t, s.Add(a))
	require.True(t, s.Add(b))
	seen := map[net.Conn]bool{}
	s.Each(func(c net.Conn) { seen[c] = true })
	assert.Equal(t, map[net.Conn]bool{a: true, b: true}, seen)
	s.Remove(a)
	s.Remove(b)
}
