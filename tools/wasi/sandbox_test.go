package main

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSandbox runs testdata/probe under the host: the module may read the
// directory it was handed, and nothing else; it cannot dial out, and a port
// it "listens" on exists only inside the module (the host's port stays
// closed).
func TestSandbox(t *testing.T) {
	if os.Getenv("WASI_E2E") == "" {
		t.Skip("set WASI_E2E=1 to build the probe module and run it under wazero")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tmp := t.TempDir()
	wasm := filepath.Join(tmp, "probe.wasm")
	if err := Build(ctx, ".", "./testdata/probe", wasm); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(tmp, "dir")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "inside.txt"), []byte("ok"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A port nothing on the host listens on, for the module to "listen" on.
	_, port, err := loopbackPort("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	second := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	host := filepath.Join(tmp, "host")
	if b, err := exec.CommandContext(ctx, "go", "build", "-o", host, ".").CombinedOutput(); err != nil {
		t.Fatalf("build the host: %v\n%s", err, b)
	}
	cmd := exec.CommandContext(ctx, host, "-addr", "127.0.0.1:0", "-wasm", wasm, "-dir", dir, second)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	var lines []string
	if sc.Scan() {
		lines = append(lines, sc.Text())
	}
	// The module's listener is open now: from the host, its port is closed.
	if c, err := net.DialTimeout("tcp", second, 5*time.Second); err == nil {
		c.Close()
		t.Errorf("the module's own listener on %s is reachable from the host", second)
	}
	_, _ = stdin.Write([]byte("x"))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("host: %v", err)
	}
	got := strings.Join(lines, "\n")
	want := "listen: allowed\ndial: refused\noutside: refused\ninside: allowed"
	if got != want {
		t.Fatalf("probe said\n%s\nwant\n%s", got, want)
	}
}
