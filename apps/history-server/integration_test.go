package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lab5/k8s-networking/apps/history-server/internal/prices"
	"github.com/lab5/k8s-networking/apps/history-server/internal/pricetest"
	"github.com/lab5/k8s-networking/internal/miniotest"
)

// Behaviour against a real MinIO server that stays up; each subtest uses
// its own bucket.
func TestIntegration(t *testing.T) {
	t.Parallel()
	srv := miniotest.Start(t)

	t.Run("round trip, replace, 404", func(t *testing.T) {
		s := newStack(t, srv.Endpoint, "roundtrip")
		wantError(t, s.get(t, "/api/prices/?day=2024-10-01"), http.StatusNotFound)

		r := s.post(t, "/api/prices/", "day=2024-10-01", []byte(pricetest.SampleBody))
		want(t, r, http.StatusCreated)
		if !bytes.Contains(r.body, []byte(`"object":"2024-10-01.json"`)) {
			t.Fatalf("summary %s", r.body)
		}
		for _, p := range []string{"/api/prices/", "/api/prices"} {
			r := s.get(t, p+"?day=2024-10-01")
			want(t, r, http.StatusOK)
			if string(r.body) != pricetest.SampleCanonical || r.header.Get("Content-Type") != "application/json" {
				t.Fatalf("GET %s = %s (%s)", p, r.body, r.header.Get("Content-Type"))
			}
		}
		objs := objects(t, s.mc, s.bucket)
		if !slices.Equal(keys(objs), []string{"2024-10-01.json"}) || string(objs["2024-10-01.json"]) != pricetest.SampleCanonical {
			t.Fatalf("bucket holds %v", keys(objs))
		}

		replacement := pricetest.Body("2024-10-01", 24, 9)
		want(t, s.post(t, "/api/prices", "day=2024-10-01", replacement), http.StatusCreated)
		r = s.get(t, "/api/prices?day=2024-10-01")
		want(t, r, http.StatusOK)
		if !bytes.Equal(r.body, replacement) {
			t.Fatalf("after replace GET = %s", r.body)
		}
		if objs := objects(t, s.mc, s.bucket); len(objs) != 1 || !bytes.Equal(objs["2024-10-01.json"], replacement) {
			t.Fatalf("after replace the bucket holds %v", keys(objs))
		}
		wantError(t, s.get(t, "/api/prices/?day=2024-10-02"), http.StatusNotFound)
		want(t, s.get(t, "/readyz"), http.StatusOK)
	})

	t.Run("bad input writes nothing", func(t *testing.T) {
		s := newStack(t, srv.Endpoint, "badinput")
		// An existing day must survive every rejected attempt unchanged.
		want(t, s.post(t, "/api/prices/", "day=2024-10-01", []byte(pricetest.SampleBody)), http.StatusCreated)
		before := objects(t, s.mc, s.bucket)
		for _, c := range pricetest.BadPosts() {
			for _, p := range []string{"/api/prices/", "/api/prices"} {
				r := call(t, http.MethodPost, s.url+p+"?"+c.Query, c.ContentType, c.Body, c.Chunked)
				if r.status != c.Status {
					t.Errorf("%s %s: status %d, want %d (%s)", p, c.Name, r.status, c.Status, r.body)
					continue
				}
				wantError(t, r, c.Status)
				after := objects(t, s.mc, s.bucket)
				if !slices.Equal(keys(after), keys(before)) || !bytes.Equal(after["2024-10-01.json"], before["2024-10-01.json"]) {
					t.Fatalf("%s %s changed the bucket: %v", p, c.Name, keys(after))
				}
			}
		}
		for _, q := range pricetest.BadGets() {
			wantError(t, s.get(t, "/api/prices/?"+q), http.StatusBadRequest)
		}
		// And into an empty bucket: still nothing.
		empty := newStack(t, srv.Endpoint, "badinput-empty")
		for _, c := range pricetest.BadPosts() {
			call(t, http.MethodPost, empty.url+"/api/prices/?"+c.Query, c.ContentType, c.Body, c.Chunked)
		}
		if objs := objects(t, empty.mc, empty.bucket); len(objs) != 0 {
			t.Fatalf("rejected requests wrote %v", keys(objs))
		}
	})

	t.Run("50 concurrent posts to one day", func(t *testing.T) {
		s := newStack(t, srv.Endpoint, "concurrent-day")
		const n = 50
		bodies := make([][]byte, n)
		for i := range bodies {
			bodies[i] = pricetest.Body("2024-10-01", 24, i+1)
		}
		var wg sync.WaitGroup
		statuses := make([]int, n)
		for i := range n {
			wg.Go(func() {
				r, err := do(http.MethodPost, s.url+"/api/prices/?day=2024-10-01", "application/json", bodies[i], false)
				if err != nil {
					t.Error(err)
				}
				statuses[i] = r.status
			})
		}
		// Readers during the storm see nothing or one complete body.
		stop := make(chan struct{})
		var readers sync.WaitGroup
		var readErr error
		var readMu sync.Mutex
		for range 4 {
			readers.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					r, err := do(http.MethodGet, s.url+"/api/prices/?day=2024-10-01", "", nil, false)
					bad := ""
					switch {
					case err != nil:
						bad = err.Error()
					case r.status == http.StatusNotFound:
					case r.status != http.StatusOK:
						bad = fmt.Sprintf("GET during writes: status %d %s", r.status, r.body)
					case !slices.ContainsFunc(bodies, func(b []byte) bool { return bytes.Equal(b, r.body) }):
						bad = fmt.Sprintf("GET during writes returned a body nobody posted: %.200s", r.body)
					}
					if bad != "" {
						readMu.Lock()
						readErr = fmt.Errorf("%s", bad)
						readMu.Unlock()
						return
					}
				}
			})
		}
		wg.Wait()
		close(stop)
		readers.Wait()
		if readErr != nil {
			t.Fatal(readErr)
		}
		for i, st := range statuses {
			if st != http.StatusCreated {
				t.Fatalf("poster %d got %d", i, st)
			}
		}
		objs := objects(t, s.mc, s.bucket)
		if len(objs) != 1 {
			t.Fatalf("bucket holds %v", keys(objs))
		}
		stored := objs["2024-10-01.json"]
		if !slices.ContainsFunc(bodies, func(b []byte) bool { return bytes.Equal(b, stored) }) {
			t.Fatalf("stored object is not one poster's complete body: %.200s", stored)
		}
		if _, err := prices.Decode(stored); err != nil {
			t.Fatalf("stored object is not a valid body: %v", err)
		}
	})

	t.Run("50 concurrent posts to different days", func(t *testing.T) {
		s := newStack(t, srv.Endpoint, "concurrent-days")
		const n = 50
		start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
		days := make([]string, n)
		for i := range days {
			days[i] = start.AddDate(0, 0, i).Format(prices.DayLayout)
		}
		var wg sync.WaitGroup
		statuses := make([]int, n)
		for i := range n {
			wg.Go(func() {
				r, err := do(http.MethodPost, s.url+"/api/prices?day="+days[i], "application/json", pricetest.Body(days[i], 24, i), false)
				if err != nil {
					t.Error(err)
				}
				statuses[i] = r.status
			})
		}
		wg.Wait()
		for i, st := range statuses {
			if st != http.StatusCreated {
				t.Fatalf("poster %d got %d", i, st)
			}
		}
		objs := objects(t, s.mc, s.bucket)
		if len(objs) != n {
			t.Fatalf("bucket holds %d objects, want %d", len(objs), n)
		}
		for i, d := range days {
			if !bytes.Equal(objs[d+".json"], pricetest.Body(d, 24, i)) {
				t.Fatalf("%s.json = %.200s", d, objs[d+".json"])
			}
		}
	})
}

// MinIO goes away while the server runs: 503s (never hangs), readiness
// fails, liveness holds; after MinIO is back everything works again and
// nothing was lost.
func TestIntegrationMinIOStoppedMidRun(t *testing.T) {
	t.Parallel()
	srv := miniotest.Start(t)
	s := newStack(t, srv.Endpoint, "outage")
	want(t, s.post(t, "/api/prices/", "day=2024-10-01", []byte(pricetest.SampleBody)), http.StatusCreated)

	srv.Stop()
	r := s.post(t, "/api/prices/", "day=2024-10-02", []byte(pricetest.SampleBody))
	wantError(t, r, http.StatusServiceUnavailable)
	if r.header.Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
	wantError(t, s.get(t, "/api/prices/?day=2024-10-01"), http.StatusServiceUnavailable)
	wantError(t, s.get(t, "/api/prices?day=2024-10-01"), http.StatusServiceUnavailable)
	wantError(t, s.get(t, "/readyz"), http.StatusServiceUnavailable)
	want(t, s.get(t, "/healthz"), http.StatusOK)
	// Validation does not need MinIO.
	wantError(t, s.post(t, "/api/prices/", "day=2024-10-02", []byte(`[]`)), http.StatusUnprocessableEntity)
	metricsBody := s.get(t, "/metrics").body
	if !bytes.Contains(metricsBody, []byte(`history_server_store_errors_total{operation="put"}`)) &&
		!bytes.Contains(metricsBody, []byte(`history_server_store_errors_total{operation="bucket_exists"}`)) {
		t.Fatalf("store errors not counted:\n%s", metricsBody)
	}

	srv.Restart()
	want(t, s.get(t, "/readyz"), http.StatusOK)
	r = s.get(t, "/api/prices/?day=2024-10-01")
	want(t, r, http.StatusOK)
	if string(r.body) != pricetest.SampleCanonical {
		t.Fatalf("after restart GET = %s", r.body)
	}
	want(t, s.post(t, "/api/prices/", "day=2024-10-02", []byte(pricetest.SampleBody)), http.StatusCreated)
	if got := keys(objects(t, s.mc, s.bucket)); !slices.Equal(got, []string{"2024-10-01.json", "2024-10-02.json"}) {
		t.Fatalf("bucket holds %v", got)
	}
}

// The server starts while MinIO is down, serves (liveness 200, readiness
// and price requests 503), and creates the bucket by itself once MinIO
// comes up.
func TestIntegrationStartsWithMinIODown(t *testing.T) {
	t.Parallel()
	srv := miniotest.Start(t)
	srv.Stop()
	s := newStack(t, srv.Endpoint, "late-bucket")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	waited := make(chan struct{})
	go func() { s.store.WaitForBucket(ctx); close(waited) }()

	want(t, s.get(t, "/healthz"), http.StatusOK)
	wantError(t, s.get(t, "/readyz"), http.StatusServiceUnavailable)
	wantError(t, s.post(t, "/api/prices/", "day=2024-10-01", []byte(pricetest.SampleBody)), http.StatusServiceUnavailable)
	wantError(t, s.get(t, "/api/prices/?day=2024-10-01"), http.StatusServiceUnavailable)

	srv.Restart()
	// No request needed: the background check creates the bucket.
	select {
	case <-waited:
	case <-time.After(20 * time.Second):
		t.Fatal("bucket not created within 20s of MinIO coming back")
	}
	if ok, err := s.mc.BucketExists(context.Background(), "late-bucket"); err != nil || !ok {
		t.Fatalf("bucket missing after recovery: %v", err)
	}
	want(t, s.get(t, "/readyz"), http.StatusOK)
	want(t, s.post(t, "/api/prices/", "day=2024-10-01", []byte(pricetest.SampleBody)), http.StatusCreated)
	r := s.get(t, "/api/prices?day=2024-10-01")
	want(t, r, http.StatusOK)
	if string(r.body) != pricetest.SampleCanonical {
		t.Fatalf("GET = %s", r.body)
	}
}
