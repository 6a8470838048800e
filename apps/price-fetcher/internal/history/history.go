// Package history posts a day's prices to the history-server
// (POST {base}/api/prices?day=YYYY-MM-DD with a JSON array).
package history

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/lab5/k8s-networking/apps/price-fetcher/internal/httpapi"
	"github.com/lab5/k8s-networking/apps/price-fetcher/internal/prices"
	"github.com/lab5/k8s-networking/apps/price-fetcher/internal/retry"
)

// PricesPath is the endpoint below the base URL; no trailing slash.
const PricesPath = "/api/prices"

var (
	// ErrRejected means the server answered 4xx (or an unexpected non-5xx
	// status): sending the same request again will not help.
	ErrRejected = errors.New("history-server rejected the prices")
	// ErrUnavailable means network errors or 5xx on every attempt.
	ErrUnavailable = errors.New("history-server unavailable")
)

// Client posts prices.
// Its BaseURL is the HISTORY_SERVER_URI, e.g.
// http://history-server.production.svc.cluster.local:80; it retries on
// network errors and 5xx, and never follows a redirect (a redirected POST
// may lose its body).
type Client struct {
	httpapi.Client
}

// StatusError is an unsuccessful answer; its Message is the server's
// {"error": "..."} or the start of the body.
type StatusError = httpapi.StatusError

// Post sends records for day (YYYY-MM-DD). It returns the final HTTP
// status (0 if none), the number of attempts, and an error wrapping
// ErrRejected or ErrUnavailable.
func (c *Client) Post(ctx context.Context, day string, records []prices.Record) (int, int, error) {
	u, err := URL(c.BaseURL, day)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: %w", ErrRejected, err)
	}
	body, err := json.Marshal(records)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: encode: %w", ErrRejected, err)
	}
	status := 0
	attempts, err := c.Retry.Do(ctx, func(ctx context.Context) error {
		var err error
		status, err = c.once(ctx, u, body)
		return err
	})
	if err == nil {
		return status, attempts, nil
	}
	var se *StatusError
	if errors.As(err, &se) && se.Code < 500 {
		return status, attempts, fmt.Errorf("%w: %w", ErrRejected, err)
	}
	return status, attempts, fmt.Errorf("%w after %d attempt(s): %w", ErrUnavailable, attempts, err)
}

// URL is base + /api/prices?day=<day>, keeping any path prefix of base.
func URL(base, day string) (string, error) {
	u, err := httpapi.Endpoint(base, PricesPath, url.Values{"day": {day}})
	if err != nil {
		return "", fmt.Errorf("history-server URL: %w", err)
	}
	return u, nil
}

func (c *Client) once(ctx context.Context, u string, body []byte) (int, error) {
	req, err := httpapi.NewRequest(ctx, http.MethodPost, u, bytes.NewReader(body), c.UserAgent)
	if err != nil {
		return 0, retry.Permanent(err)
	}
	resp, err := c.client().Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	msg, readErr := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode <= 299:
		return resp.StatusCode, nil // the data is stored; the body is not needed
	case resp.StatusCode >= 500:
		return resp.StatusCode, &StatusError{Code: resp.StatusCode, Message: message(msg)}
	default:
		if readErr != nil {
			return resp.StatusCode, retry.Permanent(&StatusError{Code: resp.StatusCode})
		}
		se := &StatusError{Code: resp.StatusCode, Message: message(msg)}
		if loc := resp.Header.Get("Location"); resp.StatusCode/100 == 3 && loc != "" {
			se.Message = strings.TrimSpace("redirect to " + loc + " " + se.Message)
		}
		return resp.StatusCode, retry.Permanent(se)
	}
}

func (c *Client) client() *http.Client {
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{}
	}
	if hc.CheckRedirect == nil {
		cp := *hc
		cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		hc = &cp
	}
	return hc
}

// message extracts {"error": "..."} or falls back to the start of the body.
func message(b []byte) string {
	var e struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	if json.Unmarshal(b, &e) == nil {
		if e.Error != "" {
			return e.Error
		}
		if e.Message != "" {
			return e.Message
		}
	}
	return httpapi.Snippet(b)
}
