package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lab5/k8s-networking/apps/price-fetcher/eleringtest"
	"github.com/lab5/k8s-networking/apps/price-fetcher/internal/prices"
	"github.com/lab5/k8s-networking/apps/price-fetcher/internal/retry"
	"github.com/lab5/k8s-networking/internal/testutil"
)

const attempts = 4

var fast = retry.Policy{Attempts: attempts, BaseDelay: time.Millisecond, Jitter: 0.5}

// fakeHistory records posts and answers with scripted statuses.
type fakeHistory struct {
	URL    string
	script func(n int) (int, string)
	posts  testutil.Log[post]
}

type post struct {
	Method, Path, RawQuery, ContentType string
	Body                                []byte
}

func newFakeHistory(t *testing.T, script func(n int) (int, string)) *fakeHistory {
	t.Helper()
	h := &fakeHistory{script: script}
	h.URL = testutil.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		n := h.posts.Add(post{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Content-Type"), body})
		status, msg := http.StatusCreated, `{"day":"stored"}`
		if h.script != nil {
			if s, m := h.script(n); s != 0 {
				status, msg = s, m
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, msg)
	}))
	return h
}

func (h *fakeHistory) Posts() []post {
	return h.posts.All()
}

type result struct {
	code int
	logs []map[string]any
	raw  string
}

func run(t *testing.T, env map[string]string, args []string, now time.Time) result {
	t.Helper()
	var buf bytes.Buffer
	opts := Options{Log: &buf, Retry: &fast, PhaseTimeout: 10 * time.Second}
	if !now.IsZero() {
		opts.Now = func() time.Time { return now }
	}
	code := Main(context.Background(), args, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, opts)
	res := result{code: code, raw: buf.String()}
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		res.logs = append(res.logs, m)
	}
	return res
}

// outcome checks the run logged exactly one line for its outcome and
// returns it.
func (r result) outcome(t *testing.T, code int) map[string]any {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code %d, want %d; log:\n%s", r.code, code, r.raw)
	}
	if len(r.logs) != 1 {
		t.Fatalf("want one log line, got %d:\n%s", len(r.logs), r.raw)
	}
	l := r.logs[0]
	if got, _ := l["exit_code"].(float64); int(got) != code {
		t.Fatalf("log exit_code %v, want %d", l["exit_code"], code)
	}
	return l
}

func env(e *eleringtest.Server, h *fakeHistory, day string) map[string]string {
	m := map[string]string{"ELERING_API_URL": e.URL, "HISTORY_SERVER_URI": h.URL}
	if day != "" {
		m["PRICE_DAY"] = day
	}
	return m
}

func decodePosted(t *testing.T, p post) []prices.Record {
	t.Helper()
	var recs []prices.Record
	if err := json.Unmarshal(p.Body, &recs); err != nil {
		t.Fatalf("posted body is not a record array: %v: %s", err, p.Body)
	}
	return recs
}

// checkRecords verifies the invariants every posted day must satisfy and
// returns the records.
func checkRecords(t *testing.T, h *fakeHistory, day string, n int, step int64) []prices.Record {
	t.Helper()
	posts := h.Posts()
	if len(posts) != 1 {
		t.Fatalf("%d posts, want 1", len(posts))
	}
	p := posts[0]
	if p.Method != http.MethodPost || p.Path != "/api/prices" || p.RawQuery != "day="+day {
		t.Fatalf("posted to %s %s?%s", p.Method, p.Path, p.RawQuery)
	}
	if p.ContentType != "application/json" {
		t.Fatalf("Content-Type %q", p.ContentType)
	}
	recs := decodePosted(t, p)
	if len(recs) != n {
		t.Fatalf("%d records, want %d", len(recs), n)
	}
	for i, r := range recs {
		et, err := time.Parse(time.RFC3339, r.EstonianTime)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if et.Unix() != r.Timestamp {
			t.Fatalf("record %d: estonian_time %s is not timestamp %d", i, r.EstonianTime, r.Timestamp)
		}
		if !strings.HasPrefix(r.EstonianTime, day+"T") {
			t.Fatalf("record %d: %s not on %s", i, r.EstonianTime, day)
		}
		if _, off := et.Zone(); off != 2*3600 && off != 3*3600 {
			t.Fatalf("record %d: offset %d", i, off)
		}
		if r.Price != eleringtest.Price(r.Timestamp) {
			t.Fatalf("record %d: price %v, want %v", i, r.Price, eleringtest.Price(r.Timestamp))
		}
		if i > 0 && r.Timestamp-recs[i-1].Timestamp != step {
			t.Fatalf("record %d: step %d, want %d", i, r.Timestamp-recs[i-1].Timestamp, step)
		}
	}
	return recs
}

func TestDays(t *testing.T) {
	cases := []struct {
		name       string
		day        string
		n          int
		step       int64
		start, end string // expected Elering query
		first      string
		firstTS    int64
		last       string
		check      func(t *testing.T, r []prices.Record)
	}{
		{
			name: "hourly", day: "2024-10-01", n: 24, step: 3600,
			start: "2024-09-30T21:00:00.000Z", end: "2024-10-01T20:59:59.999Z",
			first: "2024-10-01T00:00:00+03:00", firstTS: 1727730000, last: "2024-10-01T23:00:00+03:00",
			check: func(t *testing.T, r []prices.Record) {
				if r[1].EstonianTime != "2024-10-01T01:00:00+03:00" || r[1].Timestamp != 1727733600 {
					t.Errorf("second record %+v", r[1])
				}
			},
		},
		{
			name: "hourly winter with known price", day: "2024-01-01", n: 24, step: 3600,
			start: "2023-12-31T22:00:00.000Z", end: "2024-01-01T21:59:59.999Z",
			first: "2024-01-01T00:00:00+02:00", firstTS: 1704060000, last: "2024-01-01T23:00:00+02:00",
			check: func(t *testing.T, r []prices.Record) {
				want := prices.Record{EstonianTime: "2024-01-01T02:00:00+02:00", Price: 28.46, Timestamp: 1704067200}
				if r[2] != want {
					t.Errorf("record 2 = %+v, want %+v", r[2], want)
				}
			},
		},
		{
			name: "quarter-hourly first day", day: "2025-10-01", n: 96, step: 900,
			start: "2025-09-30T21:00:00.000Z", end: "2025-10-01T20:59:59.999Z",
			first: "2025-10-01T00:00:00+03:00", firstTS: 1759266000, last: "2025-10-01T23:45:00+03:00",
		},
		{
			name: "quarter-hourly winter", day: "2026-01-15", n: 96, step: 900,
			start: "2026-01-14T22:00:00.000Z", end: "2026-01-15T21:59:59.999Z",
			first: "2026-01-15T00:00:00+02:00", firstTS: 1768428000, last: "2026-01-15T23:45:00+02:00",
		},
		{
			name: "hourly spring forward", day: "2025-03-30", n: 23, step: 3600,
			start: "2025-03-29T22:00:00.000Z", end: "2025-03-30T20:59:59.999Z",
			first: "2025-03-30T00:00:00+02:00", firstTS: 1743285600, last: "2025-03-30T23:00:00+03:00",
			check: func(t *testing.T, r []prices.Record) {
				if r[2].EstonianTime != "2025-03-30T02:00:00+02:00" || r[3].EstonianTime != "2025-03-30T04:00:00+03:00" {
					t.Errorf("switch at %s → %s", r[2].EstonianTime, r[3].EstonianTime)
				}
			},
		},
		{
			name: "hourly fall back", day: "2024-10-27", n: 25, step: 3600,
			start: "2024-10-26T21:00:00.000Z", end: "2024-10-27T21:59:59.999Z",
			first: "2024-10-27T00:00:00+03:00", firstTS: 1729976400, last: "2024-10-27T23:00:00+02:00",
			check: func(t *testing.T, r []prices.Record) {
				if r[3].EstonianTime != "2024-10-27T03:00:00+03:00" || r[4].EstonianTime != "2024-10-27T03:00:00+02:00" {
					t.Errorf("repeated hour: %s, %s", r[3].EstonianTime, r[4].EstonianTime)
				}
				if r[4].Timestamp-r[3].Timestamp != 3600 {
					t.Errorf("repeated hour is not an hour apart")
				}
			},
		},
		{
			name: "quarter-hourly spring forward", day: "2026-03-29", n: 92, step: 900,
			start: "2026-03-28T22:00:00.000Z", end: "2026-03-29T20:59:59.999Z",
			first: "2026-03-29T00:00:00+02:00", firstTS: 1774735200, last: "2026-03-29T23:45:00+03:00",
			check: func(t *testing.T, r []prices.Record) {
				if r[11].EstonianTime != "2026-03-29T02:45:00+02:00" || r[12].EstonianTime != "2026-03-29T04:00:00+03:00" {
					t.Errorf("switch at %s → %s", r[11].EstonianTime, r[12].EstonianTime)
				}
			},
		},
		{
			name: "quarter-hourly fall back", day: "2025-10-26", n: 100, step: 900,
			start: "2025-10-25T21:00:00.000Z", end: "2025-10-26T21:59:59.999Z",
			first: "2025-10-26T00:00:00+03:00", firstTS: 1761426000, last: "2025-10-26T23:45:00+02:00",
			check: func(t *testing.T, r []prices.Record) {
				if r[15].EstonianTime != "2025-10-26T03:45:00+03:00" || r[16].EstonianTime != "2025-10-26T03:00:00+02:00" {
					t.Errorf("repeated hour: %s → %s", r[15].EstonianTime, r[16].EstonianTime)
				}
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := eleringtest.NewServer(t, eleringtest.Options{})
			h := newFakeHistory(t, nil)
			l := run(t, env(e, h, c.day), nil, time.Time{}).outcome(t, ExitOK)

			reqs := e.Requests()
			if len(reqs) != 1 {
				t.Fatalf("%d Elering requests", len(reqs))
			}
			q := reqs[0].Query
			if reqs[0].Path != "/api/nps/price" || q.Get("start") != c.start || q.Get("end") != c.end {
				t.Fatalf("Elering asked for %s start=%s end=%s, want start=%s end=%s", reqs[0].Path, q.Get("start"), q.Get("end"), c.start, c.end)
			}
			r := checkRecords(t, h, c.day, c.n, c.step)
			if r[0].EstonianTime != c.first || r[0].Timestamp != c.firstTS || r[len(r)-1].EstonianTime != c.last {
				t.Fatalf("first %+v last %+v", r[0], r[len(r)-1])
			}
			if c.check != nil {
				c.check(t, r)
			}
			if l["day"] != c.day || l["count"] != float64(c.n) || l["first"] != c.first || l["last"] != c.last || l["level"] != "INFO" {
				t.Fatalf("success log %v", l)
			}
		})
	}
}

func TestTomorrowByDefault(t *testing.T) {
	e := eleringtest.NewServer(t, eleringtest.Options{})
	h := newFakeHistory(t, nil)
	// 00:30 on 2024-10-01 in Tallinn, still 2024-09-30 in UTC.
	now := time.Date(2024, 9, 30, 21, 30, 0, 0, time.UTC)
	run(t, env(e, h, ""), nil, now).outcome(t, ExitOK)
	if got := e.Requests()[0].Query.Get("start"); got != "2024-10-01T21:00:00.000Z" {
		t.Fatalf("start %s", got)
	}
	checkRecords(t, h, "2024-10-02", 24, 3600)
}

func TestDayFlagWins(t *testing.T) {
	e := eleringtest.NewServer(t, eleringtest.Options{})
	h := newFakeHistory(t, nil)
	m := env(e, h, "2024-10-01")
	m["HISTORY_SERVER_URI"] += "/" // trailing slash must not double
	run(t, m, []string{"-day", "2024-10-27"}, time.Time{}).outcome(t, ExitOK)
	checkRecords(t, h, "2024-10-27", 25, 3600)
}

func TestShuffledAndRepeatedPoints(t *testing.T) {
	e := eleringtest.NewServer(t, eleringtest.Options{Shuffled: true})
	h := newFakeHistory(t, nil)
	run(t, env(e, h, "2025-10-26"), nil, time.Time{}).outcome(t, ExitOK)
	checkRecords(t, h, "2025-10-26", 100, 900)
}

func TestNotPublished(t *testing.T) {
	e := eleringtest.NewServer(t, eleringtest.Options{Unpublished: true})
	h := newFakeHistory(t, nil)
	l := run(t, env(e, h, "2024-10-01"), nil, time.Time{}).outcome(t, ExitNotPublished)
	if n := len(h.Posts()); n != 0 {
		t.Fatalf("%d posts for an unpublished day", n)
	}
	if len(e.Requests()) != 1 || l["outcome"] != "not_published" {
		t.Fatalf("requests %d, log %v", len(e.Requests()), l)
	}
}

func TestOnlyOtherDaysPublished(t *testing.T) {
	// Points exist, but none inside the day: nothing to post.
	e := eleringtest.NewServer(t, eleringtest.Options{Script: func(int) eleringtest.Response {
		return eleringtest.Response{Status: 200, Body: `{"success":true,"data":{"ee":[{"timestamp":1727726400,"price":1.5},{"timestamp":1727816400,"price":2}]}}`}
	}})
	h := newFakeHistory(t, nil)
	run(t, env(e, h, "2024-10-01"), nil, time.Time{}).outcome(t, ExitNotPublished)
	if len(h.Posts()) != 0 {
		t.Fatal("posted")
	}
}

func TestEleringRetriesThenSucceeds(t *testing.T) {
	e := eleringtest.NewServer(t, eleringtest.Options{Script: func(n int) eleringtest.Response {
		switch n {
		case 1:
			return eleringtest.Response{Status: 500, Body: `oops`}
		case 2:
			return eleringtest.Response{Status: 200, Body: `{"success":false,"data":null}`}
		}
		return eleringtest.Response{}
	}})
	h := newFakeHistory(t, nil)
	run(t, env(e, h, "2024-10-01"), nil, time.Time{}).outcome(t, ExitOK)
	if n := len(e.Requests()); n != 3 {
		t.Fatalf("%d Elering requests, want 3", n)
	}
	checkRecords(t, h, "2024-10-01", 24, 3600)
}

func TestEleringFailures(t *testing.T) {
	cases := []struct {
		name     string
		resp     eleringtest.Response
		code     int
		attempts int
	}{
		{"500 forever", eleringtest.Response{Status: 500, Body: "internal"}, ExitEleringFailed, attempts},
		{"503 forever", eleringtest.Response{Status: 503}, ExitEleringFailed, attempts},
		{"success false forever", eleringtest.Response{Status: 200, Body: `{"success":false,"data":null,"messages":["x"]}`}, ExitEleringFailed, attempts},
		{"404", eleringtest.Response{Status: 404, Body: "not found"}, ExitEleringFailed, 1},
		{"400", eleringtest.Response{Status: 400, Body: `{"success":false}`}, ExitEleringFailed, 1},
		{"malformed JSON", eleringtest.Response{Status: 200, Body: `{"success":true,"data":{"ee":[{"timestamp":1727730000,"price":`}, ExitEleringMalformed, 1},
		{"HTML", eleringtest.Response{Status: 200, Body: `<html>maintenance</html>`}, ExitEleringMalformed, 1},
		{"no data", eleringtest.Response{Status: 200, Body: `{"success":true}`}, ExitEleringMalformed, 1},
		{"no ee", eleringtest.Response{Status: 200, Body: `{"success":true,"data":{"fi":[]}}`}, ExitEleringMalformed, 1},
		{"no success", eleringtest.Response{Status: 200, Body: `{"data":{"ee":[]}}`}, ExitEleringMalformed, 1},
		{"null price", eleringtest.Response{Status: 200, Body: `{"success":true,"data":{"ee":[{"timestamp":1727730000,"price":null}]}}`}, ExitEleringMalformed, 1},
		{"string timestamp", eleringtest.Response{Status: 200, Body: `{"success":true,"data":{"ee":[{"timestamp":"1727730000","price":1}]}}`}, ExitEleringMalformed, 1},
		{"array", eleringtest.Response{Status: 200, Body: `[]`}, ExitEleringMalformed, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := eleringtest.NewServer(t, eleringtest.Options{Script: func(int) eleringtest.Response { return c.resp }})
			h := newFakeHistory(t, nil)
			l := run(t, env(e, h, "2024-10-01"), nil, time.Time{}).outcome(t, c.code)
			if n := len(e.Requests()); n != c.attempts {
				t.Fatalf("%d Elering requests, want %d", n, c.attempts)
			}
			if len(h.Posts()) != 0 {
				t.Fatal("posted after an Elering failure")
			}
			if l["level"] != "ERROR" || l["error"] == nil || l["day"] != "2024-10-01" {
				t.Fatalf("log %v", l)
			}
		})
	}
}

func TestEleringUnreachable(t *testing.T) {
	e := eleringtest.NewServer(t, eleringtest.Options{})
	h := newFakeHistory(t, nil)
	m := env(e, h, "2024-10-01")
	m["ELERING_API_URL"] = closedURL(t)
	run(t, m, nil, time.Time{}).outcome(t, ExitEleringFailed)
}

func TestHistoryOutcomes(t *testing.T) {
	cases := []struct {
		name     string
		script   func(n int) (int, string)
		code     int
		attempts int
	}{
		{"400", func(int) (int, string) { return 400, `{"error":"invalid day"}` }, ExitHistoryRejected, 1},
		{"422", func(int) (int, string) { return 422, `{"error":"bad records"}` }, ExitHistoryRejected, 1},
		{"redirect", func(int) (int, string) { return 301, `` }, ExitHistoryRejected, 1},
		{"500 forever", func(int) (int, string) { return 500, `{"error":"minio down"}` }, ExitHistoryUnavailable, attempts},
		{"503 then 201", func(n int) (int, string) {
			if n == 1 {
				return 503, `{"error":"not ready"}`
			}
			return 0, ""
		}, ExitOK, 2},
		{"200 is fine too", func(int) (int, string) { return 200, `[]` }, ExitOK, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := eleringtest.NewServer(t, eleringtest.Options{})
			h := newFakeHistory(t, c.script)
			l := run(t, env(e, h, "2024-10-01"), nil, time.Time{}).outcome(t, c.code)
			posts := h.Posts()
			if len(posts) != c.attempts {
				t.Fatalf("%d posts, want %d", len(posts), c.attempts)
			}
			for _, p := range posts {
				if len(decodePosted(t, p)) != 24 {
					t.Fatal("a retry lost the body")
				}
			}
			if len(e.Requests()) != 1 {
				t.Fatalf("Elering asked %d times", len(e.Requests()))
			}
			if c.code == ExitHistoryRejected && c.name == "400" && !strings.Contains(l["error"].(string), "invalid day") {
				t.Fatalf("server's error message not logged: %v", l)
			}
			if l["attempts"] != float64(c.attempts) {
				t.Fatalf("logged attempts %v", l["attempts"])
			}
		})
	}
}

func TestHistoryUnreachable(t *testing.T) {
	e := eleringtest.NewServer(t, eleringtest.Options{})
	m := map[string]string{"ELERING_API_URL": e.URL, "HISTORY_SERVER_URI": closedURL(t), "PRICE_DAY": "2024-10-01"}
	l := run(t, m, nil, time.Time{}).outcome(t, ExitHistoryUnavailable)
	if l["attempts"] != float64(attempts) {
		t.Fatalf("attempts %v", l["attempts"])
	}
}

func TestConfigErrors(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		args    []string
		setting string
	}{
		{"missing HISTORY_SERVER_URI", map[string]string{}, nil, "HISTORY_SERVER_URI"},
		{"bad HISTORY_SERVER_URI", map[string]string{"HISTORY_SERVER_URI": "history-server:80"}, nil, "HISTORY_SERVER_URI"},
		{"bad ELERING_API_URL", map[string]string{"HISTORY_SERVER_URI": "http://hs", "ELERING_API_URL": "not a url"}, nil, "ELERING_API_URL"},
		{"bad PRICE_DAY", map[string]string{"HISTORY_SERVER_URI": "http://hs", "PRICE_DAY": "2024-02-30"}, nil, "PRICE_DAY"},
		{"bad -day", map[string]string{"HISTORY_SERVER_URI": "http://hs"}, []string{"-day", "30.09.2024"}, "-day"},
		{"unknown flag", map[string]string{"HISTORY_SERVER_URI": "http://hs"}, []string{"-x"}, "flags"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := run(t, c.env, c.args, time.Time{}).outcome(t, ExitConfig)
			msg, _ := l["error"].(string)
			if !strings.HasPrefix(msg, c.setting+":") || l["outcome"] != "config_error" {
				t.Fatalf("log %v does not name %s", l, c.setting)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	var buf bytes.Buffer
	code := Main(context.Background(), []string{"-h"}, func(string) (string, bool) { return "", false }, Options{Log: &buf})
	if code != ExitOK || !strings.Contains(buf.String(), "HISTORY_SERVER_URI") {
		t.Fatalf("code %d, output %s", code, buf.String())
	}
}

// closedURL is an http URL nobody listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL
	srv.Close()
	return u
}
