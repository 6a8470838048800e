package api

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// Keys of values kept on the echo.Context.
const (
	ctxRequestID = "request_id"
	ctxError     = "request_error"
)

func requestID(c echo.Context) string {
	id, _ := c.Get(ctxRequestID).(string)
	return id
}

// maxRequestIDLen bounds a client-supplied X-Request-ID.
const maxRequestIDLen = 128

// dropUnsafeRequestID removes an incoming X-Request-ID that is too long
// or has characters outside [A-Za-z0-9._:-], so that the request ID
// middleware generates a fresh one instead of echoing junk into logs and
// responses.
func dropUnsafeRequestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header
		if id := h.Get(echo.HeaderXRequestID); id != "" && !safeRequestID(id) {
			h.Del(echo.HeaderXRequestID)
		}
		return next(c)
	}
}

func safeRequestID(id string) bool {
	if len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if !requestIDByte(id[i]) {
			return false
		}
	}
	return true
}

// requestIDByte: [A-Za-z0-9._:-].
func requestIDByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-'
}

// quietPaths are probe and scrape endpoints: logged at debug level unless
// they fail, so that they do not drown the request log.
var quietPaths = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

// observe turns a handler error into its response (through the error
// handler), then writes one structured log line and records metrics.
func (h *Handlers) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		if err := next(c); err != nil {
			c.Error(err)
		}
		d := time.Since(start)
		req, res := c.Request(), c.Response()
		// Every route is static, so a request matched a route exactly when
		// its path equals the route pattern; anything else (404 for an
		// unknown path) is labelled "unmatched" to keep metric labels bounded.
		route := c.Path()
		if route == "" || route != req.URL.Path {
			route = "unmatched"
		}
		if h.observer != nil {
			h.observer.ObserveRequest(route, req.Method, res.Status, d)
		}
		level := slog.LevelInfo
		switch {
		case res.Status == http.StatusServiceUnavailable:
			level = slog.LevelWarn // MinIO down: expected, retried, and visible in /readyz
		case res.Status >= 500:
			level = slog.LevelError
		case quietPaths[req.URL.Path]:
			level = slog.LevelDebug
		}
		if !h.log.Enabled(req.Context(), level) {
			return nil
		}
		attrs := []slog.Attr{
			slog.String("method", req.Method),
			slog.String("path", truncate(req.URL.Path, 200)),
			slog.String("route", route),
			slog.Int("status", res.Status),
			slog.Float64("latency_ms", float64(d.Microseconds())/1000),
			slog.String("request_id", requestID(c)),
			slog.String("remote_ip", c.RealIP()),
			slog.Int64("bytes_in", req.ContentLength),
			slog.Int64("bytes_out", res.Size),
		}
		if q := req.URL.RawQuery; q != "" {
			attrs = append(attrs, slog.String("query", truncate(q, 200)))
		}
		if e, ok := c.Get(ctxError).(string); ok {
			attrs = append(attrs, slog.String("error", e))
		}
		h.log.LogAttrs(req.Context(), level, "request", attrs...)
		return nil
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
