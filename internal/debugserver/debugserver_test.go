package debugserver

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func get(t *testing.T, url string) []byte {
	t.Helper()
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, url)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return b
}

func TestServesVarsAndProfiles(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	for i := range 2 { // a second server re-points the published name
		n := i
		addr, stop, err := Start(t.Context(), "127.0.0.1:0", "testsrv", func() any { return map[string]int{"conns": n} }, log)
		require.NoError(t, err)
		var vars struct {
			Testsrv map[string]int `json:"testsrv"`
		}
		require.NoError(t, json.Unmarshal(get(t, "http://"+addr+"/debug/vars"), &vars))
		assert.Equal(t, map[string]int{"conns": n}, vars.Testsrv)
		assert.Contains(t, string(get(t, "http://"+addr+"/debug/pprof/")), "goroutine")
		stop()
	}
}

func TestRefusesNonLoopback(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	for _, addr := range []string{"0.0.0.0:0", ":6060", "192.0.2.1:6060", "nonsense"} {
		_, _, err := Start(t.Context(), addr, "x", func() any { return nil }, log)
		assert.Error(t, err, addr)
	}
}
