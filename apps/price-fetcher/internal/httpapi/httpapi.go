// Package httpapi is what the price-fetcher's two HTTP clients (Elering's
// API and the history-server) share: the endpoint below a base URL, the
// request's headers, and how an unsuccessful answer reads.
package httpapi

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/lab5/k8s-networking/apps/price-fetcher/internal/retry"
)

// Client is where and how an API is called.
type Client struct {
	// BaseURL is scheme://host[/prefix] of the API.
	BaseURL string
	// HTTP does the requests; its Timeout bounds each attempt.
	HTTP *http.Client
	// Retry bounds the attempts.
	Retry retry.Policy
	// UserAgent is sent when not empty.
	UserAgent string
}

// At is the same client for the API at base.
func (c Client) At(base string) Client {
	c.BaseURL = base
	return c
}

// Endpoint is path below base (keeping any path prefix of base) with the
// query q.
func Endpoint(base, path string, q url.Values) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawPath = ""
	u.RawQuery = q.Encode()
	u.Fragment = ""
	return u.String(), nil
}

// NewRequest is a request that accepts JSON (and sends it, when body is not
// nil), from userAgent when that is not empty.
func NewRequest(ctx context.Context, method, u string, body io.Reader, userAgent string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if userAgent != "" {
		req.Header.Set("User-Agent", userAgent)
	}
	return req, nil
}

// StatusError is an unsuccessful answer.
type StatusError struct {
	Code    int
	Message string // what the server said, for the log
}

func (e *StatusError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("HTTP %d", e.Code)
	}
	return fmt.Sprintf("HTTP %d: %s", e.Code, e.Message)
}

// Snippet is the start of a body for a log line: white space folded, at
// most 200 characters.
func Snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	return s
}
