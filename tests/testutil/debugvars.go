package testutil

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

var debugListeningRE = regexp.MustCompile(`msg="debug listening" addr=(\S+)`)

// DebugVars reads /debug/vars from the -debug-addr server of a program
// started with StartProcess (it logs msg="debug listening" addr=...) and
// returns the published variables by name.
func DebugVars(t testing.TB, p *Process) map[string]json.RawMessage {
	t.Helper()
	out := p.WaitOutput(t, `msg="debug listening"`, 10*time.Second)
	m := debugListeningRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no debug address in:\n%s", out)
	}
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + strings.Trim(m[1], `"`) + "/debug/vars")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	vars := map[string]json.RawMessage{}
	if err := json.NewDecoder(resp.Body).Decode(&vars); err != nil {
		t.Fatal(err)
	}
	return vars
}
