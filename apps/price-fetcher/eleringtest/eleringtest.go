// Package eleringtest is a stand-in for Elering's NPS price API
// (GET /api/nps/price?start=&end=) for tests. It serves the real response
// envelope with generated prices for every area: hourly intervals before
// 2025-10-01 (Estonian time) and 15-minute intervals from then on, like the
// real service, and one interval beyond each end of the requested window,
// so that clients must filter.
package eleringtest

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/lab5/k8s-networking/internal/testutil"
)

// Path is the endpoint the fake serves.
const Path = "/api/nps/price"

// QuarterHourFrom is the first instant Elering publishes 15-minute prices:
// 2025-10-01 00:00 in Tallinn.
var QuarterHourFrom = time.Date(2025, 9, 30, 21, 0, 0, 0, time.UTC)

// Resolution is the interval length Elering uses for an interval starting at t.
func Resolution(t time.Time) time.Duration {
	if t.Before(QuarterHourFrom) {
		return time.Hour
	}
	return 15 * time.Minute
}

// KnownPrices are real published values the generator reproduces.
var KnownPrices = map[int64]float64{
	1704067200: 28.46, // 2024-01-01 02:00 Estonian time
}

// Price is the generated EUR/MWh price for the interval starting at ts: a
// daily curve with a deterministic wobble, two decimals, sometimes zero or
// negative.
func Price(ts int64) float64 {
	if p, ok := KnownPrices[ts]; ok {
		return p
	}
	h := float64((ts+3*3600)%86400) / 3600 // roughly local hour
	curve := 60 + 45*math.Sin((h-7)*math.Pi/12)
	x := uint64(ts) * 0x9E3779B97F4A7C15
	x ^= x >> 29
	wobble := float64(x%4001)/100 - 20 // -20.00 .. +20.00
	return math.Round((curve+wobble-25)*100) / 100
}

// Response scripts one answer instead of the generated prices.
type Response struct {
	Status int    // HTTP status; 0 means "serve prices normally"
	Body   string // raw body
}

// Options shape the fake's behaviour. They are fixed at start.
type Options struct {
	// Script, if set, is asked for every request (n counts from 1); a
	// non-zero Status is sent as is.
	Script func(n int) Response
	// Unpublished answers success:true with empty arrays, as Elering does
	// for a day whose prices are not out yet.
	Unpublished bool
	// Shuffled lists the ee points newest first and repeats one of them.
	Shuffled bool
	// Price overrides the generated prices.
	Price func(ts int64) float64
}

// Request is what the fake saw.
type Request struct {
	Method string
	Path   string
	Query  url.Values
}

// Server is a running fake.
type Server struct {
	URL  string // base URL, e.g. http://127.0.0.1:1234
	opts Options
	reqs testutil.Log[Request]
}

// NewServer starts a fake that is closed when the test ends.
func NewServer(t testing.TB, opts Options) *Server {
	t.Helper()
	s := &Server{opts: opts}
	s.URL = testutil.Serve(t, http.HandlerFunc(s.serve))
	return s
}

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	return s.reqs.All()
}

type point struct {
	Timestamp int64   `json:"timestamp"`
	Price     float64 `json:"price"`
}

type envelope struct {
	Success bool               `json:"success"`
	Data    map[string][]point `json:"data"`
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	n := s.reqs.Add(Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query()})

	if s.opts.Script != nil {
		if resp := s.opts.Script(n); resp.Status != 0 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(resp.Status)
			fmt.Fprint(w, resp.Body)
			return
		}
	}
	if r.Method != http.MethodGet || r.URL.Path != Path {
		http.NotFound(w, r)
		return
	}
	start, err1 := parseInstant(r.URL.Query().Get("start"))
	end, err2 := parseInstant(r.URL.Query().Get("end"))
	if err1 != nil || err2 != nil || end.Before(start) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"success":false,"data":null,"messages":["invalid start or end"]}`)
		return
	}
	env := envelope{Success: true, Data: map[string][]point{"ee": {}, "fi": {}, "lv": {}, "lt": {}}}
	if !s.opts.Unpublished {
		price := Price
		if s.opts.Price != nil {
			price = s.opts.Price
		}
		// One interval before start, then every interval up to and
		// including the one starting right after end: bounds that are
		// inclusive and a bit generous, which clients must cope with.
		var ee, fi []point
		t := start.Add(-Resolution(start.Add(-time.Second)))
		for !t.After(end.Add(time.Millisecond)) {
			ts := t.Unix()
			ee = append(ee, point{ts, price(ts)})
			fi = append(fi, point{ts, price(ts) + 1.5})
			t = t.Add(Resolution(t))
		}
		if s.opts.Shuffled && len(ee) > 0 {
			for i, j := 0, len(ee)-1; i < j; i, j = i+1, j-1 {
				ee[i], ee[j] = ee[j], ee[i]
			}
			ee = append(ee, ee[len(ee)/2])
		}
		env.Data["ee"] = ee
		env.Data["fi"] = fi
		env.Data["lv"] = ee
		env.Data["lt"] = ee
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(env)
}

func parseInstant(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02T15:04:05.000Z", time.RFC3339Nano, "2006-01-02 15:04"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("bad instant %q", s)
}
