package history

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/lab5/k8s-networking/apps/price-fetcher/internal/httpapi"
	"github.com/lab5/k8s-networking/apps/price-fetcher/internal/prices"
	"github.com/lab5/k8s-networking/apps/price-fetcher/internal/retry"
)

var fast = retry.Policy{Attempts: 3, BaseDelay: time.Millisecond}

func TestURL(t *testing.T) {
	cases := map[string]string{
		"http://history-server.production.svc.cluster.local:80": "http://history-server.production.svc.cluster.local:80/api/prices?day=2024-10-01",
		"http://hs/":        "http://hs/api/prices?day=2024-10-01",
		"https://x/base":    "https://x/base/api/prices?day=2024-10-01",
		"https://x/base/":   "https://x/base/api/prices?day=2024-10-01",
		"http://10.0.0.1:8": "http://10.0.0.1:8/api/prices?day=2024-10-01",
	}
	for base, want := range cases {
		if got, err := URL(base, "2024-10-01"); err != nil || got != want {
			t.Errorf("URL(%q) = %q, %v; want %q", base, got, err, want)
		}
	}
}

func TestPost(t *testing.T) {
	recs := []prices.Record{{EstonianTime: "2024-10-01T00:00:00+03:00", Price: 5.01, Timestamp: 1727730000}}
	cases := []struct {
		statuses []int
		body     string
		want     error
		calls    int
	}{
		{[]int{201}, `{}`, nil, 1},
		{[]int{204}, ``, nil, 1},
		{[]int{500, 502, 201}, `{}`, nil, 3},
		{[]int{500}, `{"error":"store down"}`, ErrUnavailable, 3},
		{[]int{400}, `{"error":"bad day"}`, ErrRejected, 1},
		{[]int{404}, `404 page not found`, ErrRejected, 1},
		{[]int{307}, ``, ErrRejected, 1},
	}
	for _, c := range cases {
		calls := 0
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls++
			b, _ := io.ReadAll(r.Body)
			if string(b) != `[{"estonian_time":"2024-10-01T00:00:00+03:00","price":5.01,"timestamp":1727730000}]` {
				t.Errorf("body %s", b)
			}
			if r.Header.Get("Content-Type") != "application/json" || r.URL.RequestURI() != "/api/prices?day=2024-10-01" {
				t.Errorf("request %s %v", r.URL, r.Header)
			}
			s := c.statuses[min(calls, len(c.statuses))-1]
			if s == 307 {
				w.Header().Set("Location", "/elsewhere")
			}
			w.WriteHeader(s)
			fmt.Fprint(w, c.body)
		}))
		status, n, err := (&Client{httpapi.Client{BaseURL: srv.URL, Retry: fast}}).Post(context.Background(), "2024-10-01", recs)
		srv.Close()
		if !errors.Is(err, c.want) || (c.want == nil && err != nil) || n != c.calls || calls != c.calls {
			t.Errorf("%v: status %d err %v attempts %d calls %d", c.statuses, status, err, n, calls)
		}
		var se *StatusError
		if c.want != nil && (!errors.As(err, &se) || se.Code != status) {
			t.Errorf("%v: no StatusError in %v", c.statuses, err)
		}
		if c.body == `{"error":"bad day"}` && se.Message != "bad day" {
			t.Errorf("message %q", se.Message)
		}
	}
}
