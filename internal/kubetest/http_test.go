package kubetest

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"
)

func TestOutageIsTheLongestRunOfFailuresUntilTheNextSuccess(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	// The same failure for different URLs is one kind of error.
	refused := func(path string) error {
		return &url.Error{Op: "Get", URL: "http://10.96.0.1" + path, Err: errors.New("connection refused")}
	}
	// Two workers' observations, out of order: failures 100–300 (closed by
	// the success at 400) and 600–700 (closed by the success at 750).
	events := []event{
		{at(0), nil}, {at(600), refused("/a")}, {at(100), refused("/b")}, {at(400), nil},
		{at(300), refused("/c")}, {at(200), nil}, {at(700), refused("/d")}, {at(750), nil},
	}
	o := outageOf(events, at(1000))
	if o.Requests != 8 || o.Failed != 4 || o.Errors["connection refused"] != 4 {
		t.Errorf("counts: %+v", o)
	}
	// 100 -> 200 (a success in between) is 100ms; 300 -> 400 is 100ms;
	// 600 -> 750 is 150ms, the longest.
	if o.Span != 600*time.Millisecond {
		t.Errorf("failures from 100 to 700 span %s, want 600ms", o.Span)
	}
	if o.Longest != 150*time.Millisecond || !o.LongestFrom.Equal(at(600)) {
		t.Errorf("longest window %s from %s, want 150ms from %s", o.Longest, o.LongestFrom, at(600))
	}
}

func TestOutageStillOpenAtTheEndLastsUntilTheEnd(t *testing.T) {
	t0 := time.Now()
	o := outageOf([]event{{t0, nil}, {t0.Add(time.Second), errors.New("503")}}, t0.Add(3*time.Second))
	if o.Longest != 2*time.Second {
		t.Errorf("a failure never followed by a success: window %s, want 2s", o.Longest)
	}
}

func TestPollerCountsFailedChecksOfAServerThatGoesAway(t *testing.T) {
	var up atomic.Bool
	up.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if !up.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	check := func(ctx context.Context) error {
		code, _, err := Get(ctx, srv.URL, "")
		if err == nil && code != http.StatusOK {
			err = errors.New(http.StatusText(code))
		}
		return err
	}
	p := StartPoller(2, 5*time.Millisecond, time.Second, check)
	time.Sleep(50 * time.Millisecond)
	up.Store(false)
	time.Sleep(100 * time.Millisecond)
	up.Store(true)
	time.Sleep(50 * time.Millisecond)
	o := p.Stop()
	if o.Failed == 0 || o.Failed == o.Requests || o.Errors["Service Unavailable"] != o.Failed {
		t.Fatalf("poller: %s", o)
	}
	if o.Longest < 80*time.Millisecond || o.Longest > time.Second {
		t.Errorf("longest failure window %s, the server was down about 100ms", o.Longest)
	}
}
