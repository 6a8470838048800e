package elering

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/lab5/k8s-networking/apps/price-fetcher/internal/httpapi"
	"github.com/lab5/k8s-networking/apps/price-fetcher/internal/retry"
)

var fast = retry.Policy{Attempts: 3, BaseDelay: time.Millisecond}

func TestRequestShape(t *testing.T) {
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		fmt.Fprint(w, `{"success":true,"data":{"ee":[{"timestamp":1704067200,"price":28.46},{"timestamp":1704070800,"price":-0.01}],"fi":[{"timestamp":1704067200,"price":1}]}}`)
	}))
	defer srv.Close()
	c := &Client{httpapi.Client{BaseURL: srv.URL + "/prefix/", Retry: fast, UserAgent: "ua"}}
	start := time.Date(2023, 12, 31, 22, 0, 0, 0, time.UTC)
	pts, n, err := c.Fetch(context.Background(), start, start.Add(24*time.Hour-time.Millisecond))
	if err != nil || n != 1 {
		t.Fatalf("n=%d err=%v", n, err)
	}
	if got.URL.Path != "/prefix/api/nps/price" || got.URL.Query().Get("start") != "2023-12-31T22:00:00.000Z" || got.URL.Query().Get("end") != "2024-01-01T21:59:59.999Z" {
		t.Fatalf("request %s", got.URL)
	}
	if got.Header.Get("User-Agent") != "ua" || got.Header.Get("Accept") != "application/json" {
		t.Fatalf("headers %v", got.Header)
	}
	want := []Point{{1704067200, 28.46}, {1704070800, -0.01}}
	if len(pts) != 2 || pts[0] != want[0] || pts[1] != want[1] {
		t.Fatalf("points %+v", pts)
	}
}

func TestEmptyIsNotAnError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"success":true,"data":{"ee":[],"fi":[],"lv":[],"lt":[]}}`)
	}))
	defer srv.Close()
	pts, _, err := (&Client{httpapi.Client{BaseURL: srv.URL, Retry: fast}}).Fetch(context.Background(), time.Now(), time.Now())
	if err != nil || pts == nil || len(pts) != 0 {
		t.Fatalf("pts %#v err %v", pts, err)
	}
}

func TestErrorKinds(t *testing.T) {
	cases := []struct {
		status int
		body   string
		want   error
		calls  int
	}{
		{500, "x", ErrFailed, 3},
		{502, "", ErrFailed, 3},
		{200, `{"success":false}`, ErrFailed, 3},
		{429, "slow down", ErrFailed, 1},
		{404, "", ErrFailed, 1},
		{200, `{"success":true,"data":{"ee":{}}}`, ErrMalformed, 1},
		{200, ``, ErrMalformed, 1},
	}
	for _, c := range cases {
		calls := 0
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls++
			w.WriteHeader(c.status)
			fmt.Fprint(w, c.body)
		}))
		_, n, err := (&Client{httpapi.Client{BaseURL: srv.URL, Retry: fast}}).Fetch(context.Background(), time.Now(), time.Now())
		srv.Close()
		if !errors.Is(err, c.want) || n != c.calls || calls != c.calls {
			t.Errorf("%d %q: err %v, attempts %d, calls %d", c.status, c.body, err, n, calls)
		}
		var se *StatusError
		if c.status != 200 && (!errors.As(err, &se) || se.Code != c.status) {
			t.Errorf("%d: no StatusError in %v", c.status, err)
		}
	}
}
