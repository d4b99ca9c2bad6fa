package main

// TestConformanceUnderWASI grades the echo server running as a WebAssembly
// module with the same suite as the native one (ch04-echo/conformance_test.go,
// through ECHO_ADDR). It builds the module and this host, starts the host on
// a free loopback port, waits for the module's "listening" line, then runs
//
//	ECHO_ADDR=127.0.0.1:PORT go test ./ch04-echo -run Conformance
//
// from the repository root. It is opt-in (WASI_E2E=1): building the module
// and compiling it under wazero take 10-30 s on a shared machine.

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// cannotPassUnderWASI names the checks that do not reliably pass under WASI
// preview 1 with wazero v1.12, with the reason; when one fails, the test
// logs it by name instead of failing, and never drops it silently. Each
// passed in some runs and failed in others on the course machine.
var cannotPassUnderWASI = map[string]string{
	"Stream16MiB": "wazero's poll_oneoff answers a wait for writability (FD_WRITE) with ENOTSUP, " +
		"so once a socket buffer fills Go's runtime gets \"not pollable\" and the server drops the connection",
	"EmptyConnection": "the client's FIN sometimes reaches the module only after the check's 5 s bound: " +
		"wazero acks a non-blocking socket's read wait at once and then sleeps out the scheduler's timer",
	"HalfClose": "as EmptyConnection: the FIN after the data is sometimes seen only after the bound",
}

func TestConformanceUnderWASI(t *testing.T) {
	if os.Getenv("WASI_E2E") == "" {
		t.Skip("set WASI_E2E=1 to build the echo server for wasip1 and grade it under wazero (slow: the module compiles in 3-15 s)")
	}
	if _, err := exec.LookPath("go"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("go not on PATH under CI")
		}
		t.Skip("go not on PATH: cannot build the module")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	tmp := t.TempDir()
	wasm := filepath.Join(tmp, "ch04-echo.wasm")
	if err := Build(ctx, filepath.Join("..", ".."), "./ch04-echo", wasm); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skipf("cannot build the module for wasip1: %v", err)
	}
	host := filepath.Join(tmp, "host")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", host, ".").CombinedOutput(); err != nil {
		t.Fatalf("build the host: %v\n%s", err, out)
	}

	cmd := exec.CommandContext(ctx, host, "-addr", "127.0.0.1:0", "-wasm", wasm, "serve", "-idle-timeout", "0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Signal(os.Interrupt); _ = cmd.Wait() })

	addr := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`msg=listening addr=(\S+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			t.Log("host: " + sc.Text())
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
	}()
	var a string
	select {
	case a = <-addr:
	case <-time.After(3 * time.Minute):
		t.Fatal("the module wrote no listening line within 3 minutes")
	}

	suite := exec.CommandContext(ctx, "go", "test", "-count=1", "-v", "-run", "Conformance$", "./ch04-echo")
	suite.Dir = filepath.Join("..", "..")
	suite.Env = append(os.Environ(), "ECHO_ADDR="+a)
	out, err := suite.CombinedOutput()
	failed := regexp.MustCompile(`--- FAIL: TestConformance/(\w+)`).FindAllStringSubmatch(string(out), -1)
	for _, f := range failed {
		if why, ok := cannotPassUnderWASI[f[1]]; ok {
			t.Logf("%s cannot pass under WASI: %s", f[1], why)
			continue
		}
		t.Errorf("check %s failed under WASI", f[1])
	}
	if err != nil && len(failed) == 0 {
		t.Fatalf("conformance suite: %v\n%s", err, out)
	}
	// Each check's line, passed or not, so the log shows what ran.
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "--- ") || strings.HasPrefix(line, "ok") {
			t.Log("suite: " + strings.TrimSpace(line))
		}
	}
	if t.Failed() {
		t.Log(strings.TrimSpace(string(out)))
	}
}
