package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	spec "github.com/lab5/k8s-networking/api"
	"github.com/lab5/k8s-networking/apps/history-server/internal/api"
	"github.com/lab5/k8s-networking/apps/history-server/internal/fakestore"
	"github.com/lab5/k8s-networking/apps/history-server/internal/metrics"
	"github.com/lab5/k8s-networking/apps/history-server/internal/prices"
	"github.com/lab5/k8s-networking/apps/history-server/internal/pricetest"
	"github.com/lab5/k8s-networking/internal/testutil"
)

type harness struct {
	e     *echo.Echo
	store *fakestore.Store
	logs  *testutil.SyncBuffer
}

func newHarness(t *testing.T, opts ...func(*api.Options)) *harness {
	t.Helper()
	h := &harness{store: fakestore.New(), logs: &testutil.SyncBuffer{}}
	o := api.Options{Logger: slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	for _, f := range opts {
		f(&o)
	}
	h.e = api.New(h.store, o)
	return h
}

// request builds a request; contentType "" sends none; chunked hides the
// length like a streaming client would.
func request(method, target, contentType string, body []byte, chunked bool) *http.Request {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req := httptest.NewRequest(method, target, r)
	if contentType != "" {
		req.Header.Set(echo.HeaderContentType, contentType)
	}
	if chunked {
		req.ContentLength = -1
	}
	return req
}

func (h *harness) do(req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.e.ServeHTTP(rec, req)
	return rec
}

func (h *harness) post(path, query string, body []byte) *httptest.ResponseRecorder {
	return h.do(request(http.MethodPost, path+"?"+query, "application/json", body, false))
}

func (h *harness) get(target string) *httptest.ResponseRecorder {
	return h.do(request(http.MethodGet, target, "", nil, false))
}

// errorBody asserts the one error shape: a JSON object with exactly a
// non-empty "error" string.
func errorBody(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	if ct := rec.Header().Get(echo.HeaderContentType); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("error Content-Type %q, want application/json (body %s)", ct, rec.Body)
	}
	dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
	dec.DisallowUnknownFields()
	var body api.ErrorBody
	if err := dec.Decode(&body); err != nil || body.Error == "" {
		t.Fatalf("error body %q is not {\"error\": \"...\"}: %v", rec.Body, err)
	}
	return body.Error
}

func wantStatus(t *testing.T, rec *httptest.ResponseRecorder, status int) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status %d, want %d; body %s", rec.Code, status, rec.Body)
	}
}

var pricePaths = []string{"/api/prices/", "/api/prices"}

func TestPostThenGetBothPaths(t *testing.T) {
	for _, p := range pricePaths {
		t.Run(p, func(t *testing.T) {
			h := newHarness(t)
			rec := h.post(p, "day=2024-10-01", []byte(pricetest.SampleBody))
			wantStatus(t, rec, http.StatusCreated)
			var sum api.StoredSummary
			if err := json.Unmarshal(rec.Body.Bytes(), &sum); err != nil {
				t.Fatal(err)
			}
			if sum != (api.StoredSummary{Day: "2024-10-01", Records: 3, Object: "2024-10-01.json"}) {
				t.Fatalf("summary %+v", sum)
			}
			if loc := rec.Header().Get("Location"); loc != "/api/prices/?day=2024-10-01" {
				t.Fatalf("Location %q", loc)
			}
			if got := string(h.store.Objects()["2024-10-01.json"]); got != pricetest.SampleCanonical {
				t.Fatalf("stored %s", got)
			}
			for _, gp := range pricePaths {
				rec := h.get(gp + "?day=2024-10-01")
				wantStatus(t, rec, http.StatusOK)
				if ct := rec.Header().Get(echo.HeaderContentType); ct != "application/json" {
					t.Fatalf("Content-Type %q", ct)
				}
				if rec.Body.String() != pricetest.SampleCanonical {
					t.Fatalf("GET %s = %s", gp, rec.Body)
				}
			}
		})
	}
}

func TestPostReplacesTheDay(t *testing.T) {
	h := newHarness(t)
	wantStatus(t, h.post("/api/prices/", "day=2024-10-01", pricetest.Body("2024-10-01", 24, 1)), http.StatusCreated)
	wantStatus(t, h.post("/api/prices", "day=2024-10-01", pricetest.Body("2024-10-01", 23, 2)), http.StatusCreated)
	rec := h.get("/api/prices/?day=2024-10-01")
	wantStatus(t, rec, http.StatusOK)
	if !bytes.Equal(rec.Body.Bytes(), pricetest.Body("2024-10-01", 23, 2)) {
		t.Fatalf("GET after replace = %s", rec.Body)
	}
	if n := len(h.store.Objects()); n != 1 {
		t.Fatalf("%d objects, want 1", n)
	}
}

func TestPostAcceptsVariants(t *testing.T) {
	cases := []struct {
		name, contentType string
		body              []byte
	}{
		{"no content type", "", []byte(pricetest.SampleBody)},
		{"charset utf-8", "application/json; charset=utf-8", []byte(pricetest.SampleBody)},
		{"charset UTF-8 no space", "application/json;charset=UTF-8", []byte(pricetest.SampleBody)},
		{"records outside the day", "application/json", pricetest.Body("2023-01-01", 3, 1)},
		{"exactly 1 MiB", "application/json", padTo(pricetest.Body("2024-10-01", 24, 1), 1<<20)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			rec := h.do(request(http.MethodPost, "/api/prices/?day=2024-10-01", c.contentType, c.body, false))
			wantStatus(t, rec, http.StatusCreated)
		})
	}
}

// padTo pads a JSON array with trailing whitespace to exactly n bytes.
func padTo(b []byte, n int) []byte {
	return append(b, bytes.Repeat([]byte(" "), n-len(b))...)
}

func TestGetUnknownDayIs404(t *testing.T) {
	h := newHarness(t)
	for _, p := range pricePaths {
		rec := h.get(p + "?day=2024-10-05")
		wantStatus(t, rec, http.StatusNotFound)
		if msg := errorBody(t, rec); !strings.Contains(msg, "2024-10-05") {
			t.Fatalf("404 message %q does not name the day", msg)
		}
	}
}

// Every bad POST gets its status and the JSON error shape, on both paths,
// and nothing reaches the store.
func TestBadPostsAreRejectedAndWriteNothing(t *testing.T) {
	for _, p := range pricePaths {
		for _, c := range pricetest.BadPosts() {
			t.Run(p+"/"+c.Name, func(t *testing.T) {
				h := newHarness(t)
				rec := h.do(request(http.MethodPost, p+"?"+c.Query, c.ContentType, c.Body, c.Chunked))
				wantStatus(t, rec, c.Status)
				errorBody(t, rec)
				if h.store.Puts() != 0 || len(h.store.Objects()) != 0 {
					t.Fatalf("a rejected request wrote %v", h.store.Objects())
				}
			})
		}
	}
}

func TestBadGetsAre400(t *testing.T) {
	h := newHarness(t)
	for _, q := range pricetest.BadGets() {
		for _, p := range pricePaths {
			rec := h.get(p + "?" + q)
			wantStatus(t, rec, http.StatusBadRequest)
			msg := errorBody(t, rec)
			if !strings.Contains(msg, "day") {
				t.Errorf("GET %s?%s: message %q does not mention the day parameter", p, q, msg)
			}
		}
	}
}

func TestStoreUnavailableIs503AndRecovers(t *testing.T) {
	h := newHarness(t)
	h.store.SetUnavailable(true)
	for _, rec := range []*httptest.ResponseRecorder{
		h.get("/api/prices/?day=2024-10-01"),
		h.post("/api/prices/", "day=2024-10-01", []byte(pricetest.SampleBody)),
		h.get("/readyz"),
	} {
		wantStatus(t, rec, http.StatusServiceUnavailable)
		errorBody(t, rec)
		if rec.Header().Get("Retry-After") == "" {
			t.Fatal("503 without Retry-After")
		}
	}
	// Validation still comes first.
	wantStatus(t, h.post("/api/prices/", "day=2024-10-01", []byte(`[]`)), http.StatusUnprocessableEntity)
	// Liveness does not depend on storage.
	wantStatus(t, h.get("/healthz"), http.StatusOK)

	h.store.SetUnavailable(false)
	wantStatus(t, h.get("/readyz"), http.StatusOK)
	wantStatus(t, h.post("/api/prices/", "day=2024-10-01", []byte(pricetest.SampleBody)), http.StatusCreated)
	wantStatus(t, h.get("/api/prices/?day=2024-10-01"), http.StatusOK)
}

func TestProbes(t *testing.T) {
	h := newHarness(t)
	for path, want := range map[string]string{"/healthz": `{"status":"ok"}`, "/readyz": `{"status":"ready"}`} {
		rec := h.get(path)
		wantStatus(t, rec, http.StatusOK)
		if strings.TrimSpace(rec.Body.String()) != want {
			t.Fatalf("%s = %s", path, rec.Body)
		}
	}
}

func TestUnknownRouteAndMethod(t *testing.T) {
	h := newHarness(t)
	for _, target := range []string{"/", "/api", "/api/price", "/api/prices/x", "/api/prices//", "/API/prices/"} {
		rec := h.get(target + "?day=2024-10-01")
		wantStatus(t, rec, http.StatusNotFound)
		errorBody(t, rec)
	}
	for _, m := range []string{http.MethodPut, http.MethodDelete, http.MethodPatch} {
		for _, p := range pricePaths {
			rec := h.do(request(m, p+"?day=2024-10-01", "application/json", []byte(pricetest.SampleBody), false))
			wantStatus(t, rec, http.StatusMethodNotAllowed)
			msg := errorBody(t, rec)
			if allow := rec.Header().Get("Allow"); !strings.Contains(allow, "GET") || !strings.Contains(allow, "POST") {
				t.Fatalf("Allow %q", allow)
			}
			if !strings.Contains(msg, "GET") {
				t.Fatalf("405 message %q does not list the allowed methods", msg)
			}
		}
	}
	rec := h.do(request(http.MethodPost, "/healthz", "", nil, false))
	wantStatus(t, rec, http.StatusMethodNotAllowed)
	errorBody(t, rec)
	if h.store.Puts() != 0 {
		t.Fatal("wrong method wrote something")
	}
}

func TestRequestIDs(t *testing.T) {
	h := newHarness(t)
	rec := h.get("/healthz")
	generated := rec.Header().Get(echo.HeaderXRequestID)
	if len(generated) < 16 {
		t.Fatalf("generated request ID %q", generated)
	}
	req := request(http.MethodGet, "/healthz", "", nil, false)
	req.Header.Set(echo.HeaderXRequestID, "abc-123.def_4:5")
	if got := h.do(req).Header().Get(echo.HeaderXRequestID); got != "abc-123.def_4:5" {
		t.Fatalf("sane incoming ID not kept: %q", got)
	}
	for _, bad := range []string{"has space", "new\nline", `"quoted"`, strings.Repeat("a", 200)} {
		req := request(http.MethodGet, "/healthz", "", nil, false)
		req.Header.Set(echo.HeaderXRequestID, bad)
		got := h.do(req).Header().Get(echo.HeaderXRequestID)
		if got == bad || got == "" {
			t.Fatalf("unsafe incoming ID %q answered with %q", bad, got)
		}
	}
}

func TestRequestLogs(t *testing.T) {
	h := newHarness(t)
	req := request(http.MethodPost, "/api/prices/?day=2024-10-01", "application/json", []byte(pricetest.SampleBody), false)
	req.Header.Set(echo.HeaderXRequestID, "log-test-1")
	wantStatus(t, h.do(req), http.StatusCreated)
	wantStatus(t, h.post("/api/prices/", "day=2024-10-01", []byte(`[]`)), http.StatusUnprocessableEntity)

	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(h.logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", l)
		}
		lines = append(lines, m)
	}
	if len(lines) != 2 {
		t.Fatalf("%d log lines, want 2: %s", len(lines), h.logs)
	}
	first := lines[0]
	for k, want := range map[string]any{"msg": "request", "method": "POST", "path": "/api/prices/", "route": "/api/prices/",
		"status": float64(201), "request_id": "log-test-1"} {
		if first[k] != want {
			t.Errorf("log %s = %v, want %v (%v)", k, first[k], want, first)
		}
	}
	if _, ok := first["latency_ms"].(float64); !ok {
		t.Errorf("no latency_ms in %v", first)
	}
	if e, _ := lines[1]["error"].(string); !strings.Contains(e, "empty") {
		t.Errorf("rejected request's log line lacks the reason: %v", lines[1])
	}
}

// panicStore panics in Get; failStore fails with an unclassified error.
type panicStore struct{ *fakestore.Store }

func (panicStore) Get(context.Context, prices.Day) ([]byte, error) { panic("boom") }

type failStore struct{ *fakestore.Store }

func (failStore) Put(context.Context, prices.Day, []byte) (string, error) {
	return "", errors.New("disk on fire")
}

func TestPanicsAndUnexpectedErrorsAre500(t *testing.T) {
	logs := &testutil.SyncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	e := api.New(panicStore{fakestore.New()}, api.Options{Logger: log})
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, request(http.MethodGet, "/api/prices/?day=2024-10-01", "", nil, false))
	wantStatus(t, rec, http.StatusInternalServerError)
	if msg := errorBody(t, rec); strings.Contains(msg, "boom") {
		t.Fatalf("500 leaks the panic: %q", msg)
	}
	if !strings.Contains(logs.String(), "boom") || !strings.Contains(logs.String(), "panic") {
		t.Fatalf("panic not logged: %s", logs)
	}
	// The server keeps serving.
	rec = httptest.NewRecorder()
	e.ServeHTTP(rec, request(http.MethodGet, "/healthz", "", nil, false))
	wantStatus(t, rec, http.StatusOK)

	e = api.New(failStore{fakestore.New()}, api.Options{Logger: log})
	rec = httptest.NewRecorder()
	e.ServeHTTP(rec, request(http.MethodPost, "/api/prices/?day=2024-10-01", "application/json", []byte(pricetest.SampleBody), false))
	wantStatus(t, rec, http.StatusInternalServerError)
	if msg := errorBody(t, rec); strings.Contains(msg, "fire") {
		t.Fatalf("500 leaks the cause: %q", msg)
	}
}

func TestCorruptStoredObjectIs500(t *testing.T) {
	h := newHarness(t)
	d, _ := prices.ParseDay("2024-10-01")
	if _, err := h.store.Put(context.Background(), d, []byte(`[{"estonian_time":`)); err != nil {
		t.Fatal(err)
	}
	rec := h.get("/api/prices/?day=2024-10-01")
	wantStatus(t, rec, http.StatusInternalServerError)
	if msg := errorBody(t, rec); !strings.Contains(msg, "POST the day again") {
		t.Fatalf("message %q", msg)
	}
}

func TestMetricsEndpoint(t *testing.T) {
	m := metrics.New()
	h := newHarness(t, func(o *api.Options) { o.Observer = m; o.MetricsHandler = m.Handler() })
	wantStatus(t, h.post("/api/prices/", "day=2024-10-01", []byte(pricetest.SampleBody)), http.StatusCreated)
	wantStatus(t, h.get("/nope/"+strings.Repeat("x", 10)), http.StatusNotFound)
	wantStatus(t, h.get("/api/prices/bogus"), http.StatusNotFound)
	wantStatus(t, h.get("/api/prices/?day=2024-12-24"), http.StatusNotFound)
	m.ObserveStore("put", time.Millisecond, errors.New("down"))
	rec := h.get("/metrics")
	wantStatus(t, rec, http.StatusOK)
	body := rec.Body.String()
	for _, want := range []string{
		`history_server_http_requests_total{method="POST",route="/api/prices/",status="201"} 1`,
		`history_server_http_requests_total{method="GET",route="unmatched",status="404"} 2`,
		`history_server_http_requests_total{method="GET",route="/api/prices/",status="404"} 1`,
		`history_server_http_request_duration_seconds_bucket{method="POST",route="/api/prices/",status="201",le="+Inf"} 1`,
		`history_server_store_errors_total{operation="put"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestOpenAPIDocumentIsServed(t *testing.T) {
	h := newHarness(t)
	rec := h.get("/openapi.yaml")
	wantStatus(t, rec, http.StatusOK)
	if !bytes.Equal(rec.Body.Bytes(), spec.OpenAPI) {
		t.Fatal("served document differs from api/openapi.yaml")
	}
	if ct := rec.Header().Get(echo.HeaderContentType); ct != "application/yaml" {
		t.Fatalf("Content-Type %q", ct)
	}
}
