// Package pricefetch is the end-to-end test of the price pipeline:
//
//	fake Elering (httptest) → price-fetcher binary → recording proxy →
//	history-server binary → real MinIO
//
// and then GET /api/prices/?day=D on the history-server must return
// exactly the records the price-fetcher posted.
package pricefetch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lab5/k8s-networking/apps/price-fetcher/eleringtest"
	"github.com/lab5/k8s-networking/internal/miniotest"
	"github.com/lab5/k8s-networking/internal/testutil"
)

// repoRoot is the module root, two levels above this file.
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test source")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// build compiles a main package of this module into dir.
func build(t *testing.T, dir, pkg, name string) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build %s: %v", pkg, err)
	}
	out := filepath.Join(dir, name)
	cmd := exec.Command(gobin, "build", "-o", out, pkg)
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local", "GOFLAGS=-buildvcs=false", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

// startHistoryServer runs the history-server binary against MinIO and
// waits until /readyz answers 200. It returns the base URL.
func startHistoryServer(t *testing.T, bin string, minio *miniotest.Server) string {
	t.Helper()
	port := testutil.FreePort(t)
	logs := &testutil.SyncBuffer{}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		"MINIO_URI="+minio.Endpoint,
		"MINIO_ACCESS_KEY="+miniotest.AccessKey,
		"MINIO_SECRET_KEY="+miniotest.SecretKey,
		"MINIO_BUCKET=price-data",
		fmt.Sprintf("PORT=%d", port),
	)
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start history-server: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		var err error
		select {
		case err = <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			err = <-exited
		}
		if err != nil {
			t.Errorf("history-server did not stop cleanly on SIGTERM: %v", err)
		}
		if t.Failed() {
			t.Logf("history-server output:\n%s", logs.String())
		}
	})

	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-exited:
			t.Fatalf("history-server exited early: %v\n%s", err, logs.String())
		default:
		}
		resp, err := client.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("history-server not ready after 60s (last: %v)\n%s", err, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// recorder is a reverse proxy in front of the history-server that keeps
// every request body, so the test knows exactly what was posted.
type recorder struct {
	URL string

	mu    sync.Mutex
	posts []recorded
}

type recorded struct {
	Method, RequestURI, ContentType string
	Body                            []byte
	Status                          int
}

func newRecorder(t *testing.T, target string) *recorder {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	proxy := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		proxy.ServeHTTP(sw, r)
		rec.mu.Lock()
		rec.posts = append(rec.posts, recorded{r.Method, r.URL.RequestURI(), r.Header.Get("Content-Type"), body, sw.status})
		rec.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	rec.URL = srv.URL
	return rec
}

func (r *recorder) take() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.posts
	r.posts = nil
	return p
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// fetch runs the price-fetcher binary once and returns its exit code and
// its single JSON log line.
func fetch(t *testing.T, bin string, env ...string) (int, map[string]any) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin)
	// A machine time zone far from Tallinn must not matter.
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "TZ=Pacific/Kiritimati"}, env...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run price-fetcher: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()+stdout.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("price-fetcher printed %d lines, want one:\n%s", len(lines), stderr.String()+stdout.String())
	}
	var log map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &log); err != nil {
		t.Fatalf("log line is not JSON: %q", lines[0])
	}
	return code, log
}

// get fetches a day back from the history-server.
func get(t *testing.T, base, day string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(base + "/api/prices/?day=" + day)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

type record struct {
	EstonianTime string  `json:"estonian_time"`
	Price        float64 `json:"price"`
	Timestamp    int64   `json:"timestamp"`
}

func TestPipeline(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds two binaries and runs MinIO")
	}
	bins := t.TempDir()
	fetcher := build(t, bins, "./apps/price-fetcher", "price-fetcher")
	server := build(t, bins, "./apps/history-server", "history-server")

	minio := miniotest.Start(t)
	hs := startHistoryServer(t, server, minio)
	rec := newRecorder(t, hs)
	elering := eleringtest.NewServer(t, eleringtest.Options{})

	cases := []struct {
		day         string
		n           int
		first, last string
		firstTS     int64
	}{
		{"2024-10-01", 24, "2024-10-01T00:00:00+03:00", "2024-10-01T23:00:00+03:00", 1727730000},
		{"2024-01-01", 24, "2024-01-01T00:00:00+02:00", "2024-01-01T23:00:00+02:00", 1704060000},
		{"2025-03-30", 23, "2025-03-30T00:00:00+02:00", "2025-03-30T23:00:00+03:00", 1743285600},
		{"2025-10-26", 100, "2025-10-26T00:00:00+03:00", "2025-10-26T23:45:00+02:00", 1761426000},
		{"2026-03-29", 92, "2026-03-29T00:00:00+02:00", "2026-03-29T23:45:00+03:00", 1774735200},
	}
	for _, c := range cases {
		t.Run(c.day, func(t *testing.T) {
			code, log := fetch(t, fetcher,
				"HISTORY_SERVER_URI="+rec.URL,
				"ELERING_API_URL="+elering.URL,
				"PRICE_DAY="+c.day)
			posts := rec.take()
			if code != 0 {
				t.Fatalf("price-fetcher exit %d, log %v, posts %+v", code, log, posts)
			}
			if log["day"] != c.day || log["count"] != float64(c.n) || log["first"] != c.first || log["last"] != c.last {
				t.Fatalf("success log %v", log)
			}
			if len(posts) != 1 {
				t.Fatalf("%d requests reached the history-server, want 1", len(posts))
			}
			p := posts[0]
			if p.Method != http.MethodPost || p.RequestURI != "/api/prices?day="+c.day || p.ContentType != "application/json" || p.Status != http.StatusCreated {
				t.Fatalf("post %s %s (%s) → %d", p.Method, p.RequestURI, p.ContentType, p.Status)
			}
			var posted []record
			if err := json.Unmarshal(p.Body, &posted); err != nil {
				t.Fatalf("posted body: %v", err)
			}
			if len(posted) != c.n || posted[0].EstonianTime != c.first || posted[0].Timestamp != c.firstTS || posted[c.n-1].EstonianTime != c.last {
				t.Fatalf("posted %d records, first %+v", len(posted), posted[0])
			}
			for _, r := range posted {
				if r.Price != eleringtest.Price(r.Timestamp) {
					t.Fatalf("record %+v: price differs from Elering's %v", r, eleringtest.Price(r.Timestamp))
				}
			}

			status, body := get(t, hs, c.day)
			if status != http.StatusOK {
				t.Fatalf("GET %s: %d %s", c.day, status, body)
			}
			// Same records, field for field, nothing added or lost.
			var want, got []map[string]any
			if err := json.Unmarshal(p.Body, &want); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("GET body is not a record array: %v: %.300s", err, body)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("GET returned different records:\n got %.500s\nwant %.500s", body, p.Body)
			}
		})
	}

	t.Run("known real value", func(t *testing.T) {
		_, body := get(t, hs, "2024-01-01")
		var recs []record
		if err := json.Unmarshal(body, &recs); err != nil {
			t.Fatal(err)
		}
		want := record{EstonianTime: "2024-01-01T02:00:00+02:00", Price: 28.46, Timestamp: 1704067200}
		if len(recs) < 3 || recs[2] != want {
			t.Fatalf("got %+v, want %+v", recs, want)
		}
	})

	t.Run("rerun overwrites", func(t *testing.T) {
		other := eleringtest.NewServer(t, eleringtest.Options{Price: func(ts int64) float64 { return 1.25 }})
		code, log := fetch(t, fetcher, "HISTORY_SERVER_URI="+hs, "ELERING_API_URL="+other.URL, "PRICE_DAY=2024-10-01")
		if code != 0 {
			t.Fatalf("exit %d: %v", code, log)
		}
		_, body := get(t, hs, "2024-10-01")
		var recs []record
		if err := json.Unmarshal(body, &recs); err != nil {
			t.Fatal(err)
		}
		if len(recs) != 24 || recs[0].Price != 1.25 || recs[23].Price != 1.25 {
			t.Fatalf("after rerun: %.300s", body)
		}
	})

	t.Run("not published", func(t *testing.T) {
		empty := eleringtest.NewServer(t, eleringtest.Options{Unpublished: true})
		code, log := fetch(t, fetcher, "HISTORY_SERVER_URI="+rec.URL, "ELERING_API_URL="+empty.URL, "PRICE_DAY=2024-11-05")
		if code != 4 || log["outcome"] != "not_published" {
			t.Fatalf("exit %d, log %v", code, log)
		}
		if posts := rec.take(); len(posts) != 0 {
			t.Fatalf("posted %d times for an unpublished day", len(posts))
		}
		if status, body := get(t, hs, "2024-11-05"); status != http.StatusNotFound {
			t.Fatalf("GET unpublished day: %d %s", status, body)
		}
	})

	t.Run("config error", func(t *testing.T) {
		code, log := fetch(t, fetcher, "ELERING_API_URL="+elering.URL)
		if code != 2 || !strings.Contains(fmt.Sprint(log["error"]), "HISTORY_SERVER_URI") {
			t.Fatalf("exit %d, log %v", code, log)
		}
	})

}
