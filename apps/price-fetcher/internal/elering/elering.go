// Package elering is a client for Elering's Nord Pool spot price API
// (GET {base}/api/nps/price?start=<UTC>&end=<UTC>), Estonian area only.
package elering

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/lab5/k8s-networking/apps/price-fetcher/internal/httpapi"
	"github.com/lab5/k8s-networking/apps/price-fetcher/internal/retry"
)

// DefaultBaseURL is Elering's public dashboard API.
const DefaultBaseURL = "https://dashboard.elering.ee"

// PricePath is the JSON price endpoint below the base URL.
const PricePath = "/api/nps/price"

// queryLayout is how Elering wants its start/end instants.
const queryLayout = "2006-01-02T15:04:05.000Z"

// maxBody bounds the response we are willing to read (a year of 15-minute
// prices for four areas is well below it).
const maxBody = 16 << 20

var (
	// ErrFailed means Elering could not give an answer: network errors, 5xx
	// or success:false after all retries, or a 4xx.
	ErrFailed = errors.New("elering request failed")
	// ErrMalformed means Elering answered 2xx with a body that is not the
	// documented envelope.
	ErrMalformed = errors.New("elering response malformed")
)

// Point is one published price: the interval start and EUR/MWh without VAT.
type Point struct {
	Timestamp int64 // Unix seconds, start of the interval
	Price     float64
}

// Time is the interval start as an instant.
func (p Point) Time() time.Time { return time.Unix(p.Timestamp, 0).UTC() }

// Client fetches Estonian prices.
// Its BaseURL is e.g. DefaultBaseURL; it retries on network errors, 5xx
// and success:false.
type Client struct {
	httpapi.Client
}

// StatusError is a non-2xx answer; its Message is the start of the body.
type StatusError = httpapi.StatusError

// Fetch returns the "ee" points Elering publishes for [start, end], exactly
// as listed (no filtering or sorting), and how many attempts it took. An
// empty slice with a nil error means Elering has no prices for the window
// yet. Errors wrap ErrFailed or ErrMalformed.
func (c *Client) Fetch(ctx context.Context, start, end time.Time) ([]Point, int, error) {
	u, err := c.url(start, end)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrFailed, err)
	}
	var points []Point
	attempts, err := c.Retry.Do(ctx, func(ctx context.Context) error {
		var err error
		points, err = c.once(ctx, u)
		return err
	})
	if err != nil {
		if errors.Is(err, ErrMalformed) {
			return nil, attempts, err
		}
		return nil, attempts, fmt.Errorf("%w after %d attempt(s): %w", ErrFailed, attempts, err)
	}
	return points, attempts, nil
}

func (c *Client) url(start, end time.Time) (string, error) {
	u, err := httpapi.Endpoint(c.BaseURL, PricePath, url.Values{
		"start": {start.UTC().Format(queryLayout)},
		"end":   {end.UTC().Format(queryLayout)},
	})
	if err != nil {
		return "", fmt.Errorf("base URL: %w", err)
	}
	return u, nil
}

// once does one attempt. Errors it returns are retryable unless marked
// permanent.
func (c *Client) once(ctx context.Context, u string) ([]Point, error) {
	req, err := httpapi.NewRequest(ctx, http.MethodGet, u, nil, c.UserAgent)
	if err != nil {
		return nil, retry.Permanent(err)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err) // cut connection: retry
	}
	switch {
	case resp.StatusCode >= 500:
		return nil, &StatusError{Code: resp.StatusCode, Message: httpapi.Snippet(body)}
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return nil, retry.Permanent(&StatusError{Code: resp.StatusCode, Message: httpapi.Snippet(body)})
	}
	if len(body) > maxBody {
		return nil, retry.Permanent(fmt.Errorf("%w: body larger than %d bytes", ErrMalformed, maxBody))
	}
	points, err := parse(body)
	if err != nil {
		return nil, retry.Permanent(err)
	}
	if points == nil {
		// success:false: Elering could not serve the request. Treat it like
		// a server error.
		return nil, fmt.Errorf("success:false: %s", httpapi.Snippet(body))
	}
	return points, nil
}

type envelope struct {
	Success *bool `json:"success"`
	Data    *struct {
		EE *[]rawPoint `json:"ee"`
	} `json:"data"`
}

type rawPoint struct {
	Timestamp *int64   `json:"timestamp"`
	Price     *float64 `json:"price"`
}

// parse decodes the envelope. It returns nil points (and no error) for
// success:false and a non-nil, possibly empty slice for success:true.
func parse(body []byte) ([]Point, error) {
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if env.Success == nil {
		return nil, fmt.Errorf("%w: no \"success\" field", ErrMalformed)
	}
	if !*env.Success {
		return nil, nil
	}
	if env.Data == nil || env.Data.EE == nil {
		return nil, fmt.Errorf("%w: no \"data.ee\" array", ErrMalformed)
	}
	raw := *env.Data.EE
	points := make([]Point, 0, len(raw))
	for i, p := range raw {
		if p.Timestamp == nil || p.Price == nil {
			return nil, fmt.Errorf("%w: data.ee[%d] lacks timestamp or price", ErrMalformed, i)
		}
		points = append(points, Point{Timestamp: *p.Timestamp, Price: *p.Price})
	}
	return points, nil
}
