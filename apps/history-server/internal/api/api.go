// Package api is the history-server's HTTP layer: Echo routes, handlers,
// middleware (request IDs, logs, metrics, panic recovery) and the single
// place where errors become status codes and JSON bodies.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/lab5/k8s-networking/apps/history-server/internal/prices"
)

// PriceStore is what the handlers need from storage. Errors must wrap
// prices.ErrNotFound or prices.ErrUnavailable where they apply.
type PriceStore interface {
	// Get returns the stored JSON array for day. A stored object that is
	// not valid JSON is an error wrapping a *prices.CorruptError.
	Get(ctx context.Context, day prices.Day) ([]byte, error)
	// Put stores body as the day's prices, replacing earlier ones
	// atomically, and returns the object key.
	Put(ctx context.Context, day prices.Day, body []byte) (key string, err error)
	// Ready reports whether storage can serve requests now.
	Ready(ctx context.Context) error
}

// RequestObserver records finished requests (Prometheus in production).
type RequestObserver interface {
	ObserveRequest(route, method string, status int, d time.Duration)
}

// DefaultMaxBodyBytes is the largest POST body accepted: 1 MiB.
const DefaultMaxBodyBytes = 1 << 20

// Options configure the HTTP layer. All are optional.
type Options struct {
	Logger *slog.Logger
	// Observer, if set, sees every request with its route and status.
	Observer RequestObserver
	// MetricsHandler, if set, is served at GET /metrics.
	MetricsHandler http.Handler
	// MaxBodyBytes bounds POST bodies; default DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// ReadyTimeout bounds the storage check of /readyz; default 3s.
	ReadyTimeout time.Duration
}

// Handlers serves the API over a PriceStore.
type Handlers struct {
	store        PriceStore
	log          *slog.Logger
	observer     RequestObserver
	metrics      http.Handler
	maxBody      int64
	readyTimeout time.Duration
}

// New returns the complete HTTP handler: an Echo instance with routes,
// middleware and the JSON error handler.
func New(store PriceStore, o Options) *echo.Echo {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = 3 * time.Second
	}
	h := &Handlers{
		store:        store,
		log:          o.Logger,
		observer:     o.Observer,
		metrics:      o.MetricsHandler,
		maxBody:      o.MaxBodyBytes,
		readyTimeout: o.ReadyTimeout,
	}
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.IPExtractor = echo.ExtractIPDirect() // do not trust client-supplied X-Forwarded-For
	e.HTTPErrorHandler = h.handleError
	e.Use(
		dropUnsafeRequestID,
		middleware.RequestIDWithConfig(middleware.RequestIDConfig{
			RequestIDHandler: func(c echo.Context, id string) { c.Set(ctxRequestID, id) },
		}),
		h.observe,
		middleware.RecoverWithConfig(middleware.RecoverConfig{
			DisableStackAll: true,
			LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
				h.log.Error("panic", "request_id", requestID(c), "error", err.Error(), "stack", string(stack))
				return err
			},
		}),
	)
	h.Routes(e)
	return e
}

// Routes registers every route. The price routes answer with and without
// the trailing slash.
func (h *Handlers) Routes(e *echo.Echo) {
	for _, p := range []string{"/api/prices/", "/api/prices"} {
		e.GET(p, h.getPrices)
		e.POST(p, h.postPrices)
	}
	e.GET("/healthz", h.healthz)
	e.GET("/readyz", h.readyz)
	e.GET("/openapi.yaml", h.openapi)
	if h.metrics != nil {
		e.GET("/metrics", echo.WrapHandler(h.metrics))
	}
}
