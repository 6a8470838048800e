package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/lab5/k8s-networking/apps/history-server/internal/api"
	"github.com/lab5/k8s-networking/apps/history-server/internal/metrics"
	"github.com/lab5/k8s-networking/apps/history-server/internal/store"
	"github.com/lab5/k8s-networking/internal/miniotest"
	"github.com/lab5/k8s-networking/internal/testutil"
)

// runMainEnv makes the test binary act as the history-server itself (see
// TestMain), so process-level tests need no separate build.
const runMainEnv = "HISTORY_SERVER_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		os.Exit(runProfiled(run))
	}
	os.Exit(m.Run())
}

// stack is the real server wiring (MinIO store → API) behind a real
// loopback HTTP listener.
type stack struct {
	url    string
	store  *store.MinIO
	mc     *minio.Client
	bucket string
}

func newStack(t testing.TB, endpoint, bucket string) *stack {
	t.Helper()
	m := metrics.New()
	st, err := store.New(store.Options{
		Endpoint: endpoint, AccessKey: miniotest.AccessKey, SecretKey: miniotest.SecretKey, Bucket: bucket,
		OpTimeout: 5 * time.Second, Observe: m.ObserveStore,
	})
	if err != nil {
		t.Fatal(err)
	}
	h := api.New(st, api.Options{Logger: slog.New(slog.DiscardHandler), Observer: m, MetricsHandler: m.Handler()})
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return &stack{url: ts.URL, store: st, mc: directClient(t, endpoint), bucket: bucket}
}

func directClient(t testing.TB, endpoint string) *minio.Client {
	t.Helper()
	tr, err := minio.DefaultTransport(false)
	if err != nil {
		t.Fatal(err)
	}
	tr.MaxIdleConnsPerHost = 64
	c, err := minio.New(endpoint, &minio.Options{
		Creds:     credentials.NewStaticV4(miniotest.AccessKey, miniotest.SecretKey, ""),
		Transport: tr,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var httpClient = &http.Client{
	Timeout:   30 * time.Second,
	Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxIdleConns: 128},
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends one request; contentType "" sends none; chunked hides the
// body's length. Safe to use from any goroutine.
func do(method, url, contentType string, body []byte, chunked bool) (response, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
		if chunked {
			r = io.MultiReader(r) // not a *bytes.Reader: no Content-Length
		}
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		return response{}, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: reading body: %w", method, url, err)
	}
	return response{resp.StatusCode, resp.Header, b}, nil
}

// call is do for the test goroutine: a transport error fails the test.
func call(t testing.TB, method, url, contentType string, body []byte, chunked bool) response {
	t.Helper()
	r, err := do(method, url, contentType, body, chunked)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (s *stack) post(t testing.TB, path, query string, body []byte) response {
	t.Helper()
	return call(t, http.MethodPost, s.url+path+"?"+query, "application/json", body, false)
}

func (s *stack) get(t testing.TB, target string) response {
	t.Helper()
	return call(t, http.MethodGet, s.url+target, "", nil, false)
}

func want(t testing.TB, r response, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
}

// wantError checks the status and the one error shape.
func wantError(t testing.TB, r response, status int) {
	t.Helper()
	want(t, r, status)
	var body map[string]any
	if err := json.Unmarshal(r.body, &body); err != nil || len(body) != 1 {
		t.Fatalf("error body %s is not {\"error\": ...}", r.body)
	}
	if msg, ok := body["error"].(string); !ok || msg == "" {
		t.Fatalf("error body %s is not {\"error\": ...}", r.body)
	}
}

// objects lists the bucket with each object's content; a missing bucket
// is an empty listing.
func objects(t testing.TB, mc *minio.Client, bucket string) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	out := map[string][]byte{}
	if ok, err := mc.BucketExists(ctx, bucket); err != nil {
		t.Fatal(err)
	} else if !ok {
		return out
	}
	for info := range mc.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
		if info.Err != nil {
			t.Fatal(info.Err)
		}
		obj, err := mc.GetObject(ctx, bucket, info.Key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(obj)
		obj.Close()
		if err != nil {
			t.Fatal(err)
		}
		out[info.Key] = b
	}
	return out
}

func keys(m map[string][]byte) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// process is the history-server running as a child process.
type process struct {
	cmd    *exec.Cmd
	url    string
	stdout *testutil.SyncBuffer
	stderr *testutil.SyncBuffer
	done   chan struct{}
	err    error
}

// startProcess runs exe (the test binary itself when exe is "") with
// exactly env (plus PATH/HOME). It is killed at cleanup if still running.
func startProcess(t testing.TB, exe string, env map[string]string, quiet bool) *process {
	t.Helper()
	environ := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	if exe == "" {
		exe = os.Args[0]
		environ = append(environ, runMainEnv+"=1")
	}
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	p := &process{stdout: &testutil.SyncBuffer{}, stderr: &testutil.SyncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(exe)
	p.cmd.Env = environ
	if !quiet {
		p.cmd.Stdout = p.stdout
	}
	p.cmd.Stderr = p.stderr
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if port, ok := env["PORT"]; ok {
		p.url = "http://127.0.0.1:" + port
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// exitCode waits for the process to end (bounded) and returns its code.
func (p *process) exitCode(t testing.TB, within time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(within):
		t.Fatalf("process still running after %v; stderr: %s", within, p.stderr)
	}
	if p.err == nil {
		return 0
	}
	if ee, ok := errors.AsType[*exec.ExitError](p.err); ok {
		return ee.ExitCode()
	}
	t.Fatalf("wait: %v", p.err)
	return -1
}

// waitFor polls url until it answers with status, or fails the test.
func waitFor(t testing.TB, url string, status int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	last := "no answer"
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == status {
				return
			}
			last = strconv.Itoa(resp.StatusCode) + " " + strings.TrimSpace(string(b))
		} else {
			last = err.Error()
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not answer %d within %v; last: %s", url, status, within, last)
}

// peakRSS is the process's peak resident set size in bytes (VmHWM).
func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, io.EOF
}
