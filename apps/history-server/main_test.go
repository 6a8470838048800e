package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lab5/k8s-networking/apps/history-server/internal/pricetest"
	"github.com/lab5/k8s-networking/internal/miniotest"
	"github.com/lab5/k8s-networking/internal/testutil"
)

// A missing or invalid setting stops the process at once with a non-zero
// code and one line on stderr naming the variable.
func TestProcessRejectsBadConfiguration(t *testing.T) {
	t.Parallel()
	good := func() map[string]string {
		return map[string]string{
			"MINIO_URI": "minio:9000", "MINIO_ACCESS_KEY": "access", "MINIO_SECRET_KEY": "secret-value",
			"PORT": strconv.Itoa(testutil.FreePort(t)),
		}
	}
	cases := []struct{ variable, value string }{
		{"MINIO_URI", ""},
		{"MINIO_URI", "ftp://minio:9000"},
		{"MINIO_ACCESS_KEY", ""},
		{"MINIO_SECRET_KEY", ""},
		{"MINIO_BUCKET", "Not_A_Bucket"},
		{"PORT", "eighty"},
		{"PORT", "70000"},
		{"LOG_LEVEL", "chatty"},
	}
	for _, c := range cases {
		env := good()
		if c.value == "" {
			delete(env, c.variable)
		} else {
			env[c.variable] = c.value
		}
		p := startProcess(t, "", env, false)
		code := p.exitCode(t, 10*time.Second)
		stderr := strings.TrimRight(p.stderr.String(), "\n")
		if code == 0 {
			t.Errorf("%s=%q: exit code 0", c.variable, c.value)
		}
		if strings.Count(stderr, "\n") != 0 || !strings.Contains(stderr, c.variable) {
			t.Errorf("%s=%q: stderr %q is not one line naming the variable", c.variable, c.value, stderr)
		}
		if strings.Contains(stderr, "secret-value") {
			t.Errorf("stderr leaks the secret: %q", stderr)
		}
	}
}

// The real process: starts while MinIO is down and serves (healthz 200,
// readyz and prices 503), recovers when MinIO comes up, logs JSON, and
// exits 0 on SIGTERM.
func TestProcessLifecycle(t *testing.T) {
	t.Parallel()
	srv := miniotest.Start(t)
	srv.Stop()
	port := strconv.Itoa(testutil.FreePort(t))
	p := startProcess(t, "", map[string]string{
		"MINIO_URI": srv.URL(), "MINIO_ACCESS_KEY": miniotest.AccessKey, "MINIO_SECRET_KEY": miniotest.SecretKey,
		"PORT": port,
	}, false)
	waitFor(t, p.url+"/healthz", http.StatusOK, 10*time.Second)
	wantError(t, call(t, http.MethodGet, p.url+"/readyz", "", nil, false), http.StatusServiceUnavailable)
	wantError(t, call(t, http.MethodPost, p.url+"/api/prices?day=2024-10-01", "application/json", []byte(pricetest.SampleBody), false),
		http.StatusServiceUnavailable)

	srv.Restart()
	waitFor(t, p.url+"/readyz", http.StatusOK, 20*time.Second)
	want(t, call(t, http.MethodPost, p.url+"/api/prices?day=2024-10-01", "application/json", []byte(pricetest.SampleBody), false),
		http.StatusCreated)
	r := call(t, http.MethodGet, p.url+"/api/prices/?day=2024-10-01", "", nil, false)
	want(t, r, http.StatusOK)
	if string(r.body) != pricetest.SampleCanonical {
		t.Fatalf("GET = %s", r.body)
	}
	if ok, err := directClient(t, srv.Endpoint).BucketExists(t.Context(), "price-data"); err != nil || !ok {
		t.Fatalf("default bucket price-data not created: %v", err)
	}
	m := call(t, http.MethodGet, p.url+"/metrics", "", nil, false)
	want(t, m, http.StatusOK)
	if !bytes.Contains(m.body, []byte(`history_server_http_requests_total{method="POST",route="/api/prices",status="201"} 1`)) {
		t.Fatalf("/metrics lacks the POST counter")
	}

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.exitCode(t, 25*time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM; stderr %s", code, p.stderr)
	}

	var sawRequest, sawShutdown bool
	for _, line := range strings.Split(strings.TrimSpace(p.stdout.String()), "\n") {
		var entry map[string]any
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Fatalf("stdout line is not JSON: %q", line)
		}
		switch entry["msg"] {
		case "request":
			if entry["request_id"] == "" || entry["status"] == nil || entry["latency_ms"] == nil || entry["method"] == nil {
				t.Fatalf("request log lacks fields: %s", line)
			}
			sawRequest = true
		case "shutting down: draining in-flight requests":
			sawShutdown = true
		}
	}
	if !sawRequest || !sawShutdown {
		t.Fatalf("logs lack request or shutdown lines:\n%s", p.stdout)
	}
}
