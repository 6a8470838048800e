// Package miniotest starts a real MinIO server on a free loopback port for
// tests. The server binary comes from the project's toolchain (make tools).
package miniotest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/lab5/k8s-networking/internal/testutil"
)

// Credentials used by every test server; they only guard a throwaway
// loopback instance.
const (
	AccessKey = "lab5-test"
	SecretKey = "lab5-test-secret"
)

// Server is a running MinIO process.
type Server struct {
	// Endpoint is host:port on 127.0.0.1.
	Endpoint string
	dataDir  string
	homeDir  string
	cmd      *exec.Cmd
	t        testing.TB
}

// Binary finds the minio server: $MINIO_BIN, then .tools/bin at the
// repository root, then PATH.
func Binary() (string, error) {
	if p := os.Getenv("MINIO_BIN"); p != "" {
		return p, nil
	}
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	if p := filepath.Join(root, ".tools", "bin", "minio"); isExecutable(p) {
		return p, nil
	}
	if p, err := exec.LookPath("minio"); err == nil {
		return p, nil
	}
	return "", errors.New("minio server binary not found: run `make tools` (or set MINIO_BIN)")
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// Start runs a MinIO server for the duration of the test and waits until it
// answers its liveness endpoint. The server is stopped at cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{dataDir: t.TempDir(), homeDir: t.TempDir(), t: t}
	s.Endpoint = testutil.FreeAddr(t)
	s.start()
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) start() {
	s.t.Helper()
	bin, err := Binary()
	if err != nil {
		s.t.Fatal(err)
	}
	console := testutil.FreeAddr(s.t)
	cmd := exec.Command(bin, "server", s.dataDir, "--address", s.Endpoint, "--console-address", console, "--quiet")
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+AccessKey,
		"MINIO_ROOT_PASSWORD="+SecretKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
		"HOME="+s.homeDir,
	)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start minio: %v", err)
	}
	s.cmd = cmd
	deadline := time.Now().Add(30 * time.Second)
	if err := waitLive(s.Endpoint, deadline); err != nil {
		s.Stop()
		s.t.Fatalf("minio did not become live: %v", err)
	}
	if err := waitUsable(s.Endpoint, deadline); err != nil {
		s.Stop()
		s.t.Fatalf("minio did not accept signed requests: %v", err)
	}
}

// Stop kills the server; data stays on disk so Restart can bring it back.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Restart starts the server again on the same address with the same data.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.start()
}

// URL is the endpoint with its http scheme.
func (s *Server) URL() string { return "http://" + s.Endpoint }

// Pid is the process ID of the running server (for CPU accounting in
// benchmarks).
func (s *Server) Pid() int { return s.cmd.Process.Pid }

func waitLive(endpoint string, deadline time.Time) error {
	client := &http.Client{Timeout: time.Second}
	var last error
	for time.Now().Before(deadline) {
		resp, err := client.Get("http://" + endpoint + "/minio/health/live")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	return last
}

// waitUsable waits until a signed S3 request succeeds: MinIO answers its
// liveness endpoint a moment before its IAM subsystem is initialised, and
// meanwhile rejects requests with XMinioServerNotInitialized (503).
func waitUsable(endpoint string, deadline time.Time) error {
	client, err := minio.New(endpoint, &minio.Options{
		Creds:      credentials.NewStaticV4(AccessKey, SecretKey, ""),
		MaxRetries: 1,
	})
	if err != nil {
		return err
	}
	var last error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := client.ListBuckets(ctx)
		cancel()
		if err == nil {
			return nil
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	return last
}
