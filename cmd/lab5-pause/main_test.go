package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// The sandbox process must stop at once on SIGTERM (the runtime stops a pod
// that way) and otherwise keep running.
func TestPauseWaitsUntilTerminated(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "pause")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		t.Fatalf("pause exited by itself: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	// A child's death (SIGCHLD) is not a reason to stop.
	_ = cmd.Process.Signal(syscall.SIGCHLD)
	select {
	case err := <-done:
		t.Fatalf("pause exited on SIGCHLD: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v, want status 0", err)
		}
	case <-time.After(2 * time.Second):
		_ = cmd.Process.Signal(os.Kill)
		t.Fatal("pause ignored SIGTERM")
	}
}
