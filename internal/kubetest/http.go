package kubetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

// HTTPCheck is one request of a poller or a load run: nil when the answer
// was what the caller expects, else why not.
type HTTPCheck func(ctx context.Context) error

// Get sends GET url (with the Host header host, when not empty) and returns
// the status code and body. Keep-alives are off: every request opens a new
// connection, so each one goes through the Service's load balancing and
// sees an endpoint that just went away.
func Get(ctx context.Context, url, host string) (int, []byte, error) {
	return Do(ctx, http.MethodGet, url, host, "", nil)
}

// Do sends one request; contentType and body may be empty.
func Do(ctx context.Context, method, url, host, contentType string, body []byte) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		r = strings.NewReader(string(body))
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return 0, nil, err
	}
	if host != "" {
		req.Host = host
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := noKeepAlive.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

var noKeepAlive = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

// Outage is what a poller observed: every request it sent, the failed
// ones, the span from the first to the last failed request (successes of
// other workers may lie in between), and the longest failure window: from
// the start of the first failed request of a run of failures to the start
// of the next request that succeeded (or to the end of polling).
type Outage struct {
	Requests, Failed int
	Span             time.Duration // last failed request's start - first's
	Longest          time.Duration
	LongestFrom      time.Time // start of the longest window
	Errors           map[string]int
}

// String is one line a reader can copy: requests, failures, their span,
// the longest window and the most frequent errors.
func (o Outage) String() string {
	s := fmt.Sprintf("%d requests, %d failed", o.Requests, o.Failed)
	if o.Failed > 0 {
		s += fmt.Sprintf(" within %s, longest failure window %s (from %s); errors: %s", o.Span.Round(time.Millisecond),
			o.Longest.Round(time.Millisecond), o.LongestFrom.Format("15:04:05.000"), topErrors(o.Errors, 3))
	}
	return s
}

// errorKey groups errors by what went wrong, not by which URL was asked.
func errorKey(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

func topErrors(errs map[string]int, n int) string {
	type kv struct {
		msg   string
		count int
	}
	var all []kv
	for m, c := range errs {
		all = append(all, kv{m, c})
	}
	sort.Slice(all, func(i, j int) bool {
		return all[i].count > all[j].count || all[i].count == all[j].count && all[i].msg < all[j].msg
	})
	var parts []string
	for i := 0; i < len(all) && i < n; i++ {
		parts = append(parts, fmt.Sprintf("%dx %s", all[i].count, all[i].msg))
	}
	return strings.Join(parts, "; ")
}

// Poller sends check after check from each of its workers, with a pause
// between two checks of a worker, until Stop.
type Poller struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	events []event
}

type event struct {
	at  time.Time
	err error
}

// StartPoller starts workers goroutines, each repeating check (bounded by
// timeout) every pause.
func StartPoller(workers int, pause, timeout time.Duration, check HTTPCheck) *Poller {
	ctx, cancel := context.WithCancel(context.Background())
	p := &Poller{cancel: cancel}
	for range workers {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for ctx.Err() == nil {
				at := time.Now()
				rctx, done := context.WithTimeout(ctx, timeout)
				err := check(rctx)
				done()
				if ctx.Err() != nil {
					return // stopped mid-request: not an observation
				}
				p.mu.Lock()
				p.events = append(p.events, event{at, err})
				p.mu.Unlock()
				select {
				case <-ctx.Done():
				case <-time.After(pause):
				}
			}
		}()
	}
	return p
}

// Stop ends polling and returns what was observed.
func (p *Poller) Stop() Outage {
	p.cancel()
	p.wg.Wait()
	end := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	return outageOf(p.events, end)
}

// outageOf merges the workers' observations in time order.
func outageOf(events []event, end time.Time) Outage {
	sort.Slice(events, func(i, j int) bool { return events[i].at.Before(events[j].at) })
	o := Outage{Requests: len(events), Errors: map[string]int{}}
	var from, first, last time.Time
	closeWindow := func(at time.Time) {
		if !from.IsZero() && at.Sub(from) > o.Longest {
			o.Longest, o.LongestFrom = at.Sub(from), from
		}
		from = time.Time{}
	}
	for _, e := range events {
		if e.err == nil {
			closeWindow(e.at)
			continue
		}
		o.Failed++
		o.Errors[errorKey(e.err)]++
		if first.IsZero() {
			first = e.at
		}
		last = e.at
		if from.IsZero() {
			from = e.at
		}
	}
	closeWindow(end)
	o.Span = last.Sub(first)
	return o
}

// Load is the outcome of a load run.
type Load struct {
	Clients, Requests, Failed int
	Duration                  time.Duration
}

// PerSecond is the rate of successful requests.
func (l Load) PerSecond() float64 {
	return float64(l.Requests-l.Failed) / l.Duration.Seconds()
}

// String is one line a reader can copy.
func (l Load) String() string {
	return fmt.Sprintf("%d clients: %d requests in %s, %d failed, %.0f ok requests/s",
		l.Clients, l.Requests, l.Duration.Round(time.Millisecond), l.Failed, l.PerSecond())
}

// RunLoad runs clients goroutines that send check back to back for d, each
// bounded by timeout; check gets the client's number and its request count
// so far (to vary what it asks for).
func RunLoad(clients int, d, timeout time.Duration, check func(ctx context.Context, client, n int) error) Load {
	var mu sync.Mutex
	l := Load{Clients: clients}
	start := time.Now()
	stop := start.Add(d)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; time.Now().Before(stop); n++ {
				ctx, cancel := context.WithTimeout(context.Background(), timeout)
				err := check(ctx, c, n)
				cancel()
				mu.Lock()
				l.Requests++
				if err != nil {
					l.Failed++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	l.Duration = time.Since(start)
	return l
}
