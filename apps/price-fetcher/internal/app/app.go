// Package app runs one price-fetcher job: read the configuration, fetch
// one Estonian day of Elering prices, post them to the history-server, and
// turn the outcome into an exit code and one structured log line.
package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/lab5/k8s-networking/apps/price-fetcher/internal/config"
	"github.com/lab5/k8s-networking/apps/price-fetcher/internal/day"
	"github.com/lab5/k8s-networking/apps/price-fetcher/internal/elering"
	"github.com/lab5/k8s-networking/apps/price-fetcher/internal/history"
	"github.com/lab5/k8s-networking/apps/price-fetcher/internal/httpapi"
	"github.com/lab5/k8s-networking/apps/price-fetcher/internal/prices"
	"github.com/lab5/k8s-networking/apps/price-fetcher/internal/retry"
)

// Exit codes.
const (
	ExitOK                 = 0
	ExitConfig             = 2 // missing or invalid setting
	ExitEleringFailed      = 3 // Elering unreachable, 5xx/success:false after retries, or 4xx
	ExitNotPublished       = 4 // Elering has no prices for the day yet; nothing posted
	ExitEleringMalformed   = 5 // Elering's answer is not the documented JSON
	ExitHistoryRejected    = 6 // history-server answered 4xx
	ExitHistoryUnavailable = 7 // history-server unreachable or 5xx after retries
)

// Defaults for Options' zero values.
const (
	DefaultRequestTimeout = 10 * time.Second
	// DefaultPhaseTimeout bounds each of the two phases (Elering, then the
	// history-server), retries included, so a run ends well within a
	// minute.
	DefaultPhaseTimeout = 20 * time.Second
	UserAgent           = "lab5-price-fetcher/1"
)

// Options are the process-level dependencies; zero values mean production
// defaults.
type Options struct {
	// Log receives the JSON log lines (os.Stderr in production).
	Log io.Writer
	// Now is the clock used to pick "tomorrow".
	Now func() time.Time
	// HTTPClient does every request; default: a client with
	// DefaultRequestTimeout per request.
	HTTPClient *http.Client
	// Retry is the policy for both services; default retry.Default.
	Retry *retry.Policy
	// PhaseTimeout bounds each phase; default DefaultPhaseTimeout.
	PhaseTimeout time.Duration
}

// Main reads the configuration from args and lookupEnv and runs the job.
// It returns the process exit code.
func Main(ctx context.Context, args []string, lookupEnv func(string) (string, bool), opts Options) int {
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	log := slog.New(slog.NewJSONHandler(opts.Log, nil))
	cfg, err := config.Load(args, lookupEnv)
	if errors.Is(err, config.ErrHelp) {
		config.Usage(opts.Log)
		return ExitOK
	}
	if err != nil {
		log.Error("invalid configuration", "outcome", "config_error", "exit_code", ExitConfig, "error", err.Error())
		return ExitConfig
	}
	return Run(ctx, cfg, log, opts)
}

// Run does the job for a valid configuration and returns the exit code.
func Run(ctx context.Context, cfg config.Config, log *slog.Logger, opts Options) int {
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: DefaultRequestTimeout}
	}
	policy := retry.Default
	if opts.Retry != nil {
		policy = *opts.Retry
	}
	phase := opts.PhaseTimeout
	if phase <= 0 {
		phase = DefaultPhaseTimeout
	}

	d := day.Tomorrow(now())
	if cfg.Day != nil {
		d = *cfg.Day
	}
	log = log.With("day", d.String())

	// Phase 1: Elering.
	api := httpapi.Client{HTTP: hc, Retry: policy, UserAgent: UserAgent}
	ec := &elering.Client{Client: api.At(cfg.EleringAPIURL)}
	ectx, cancel := context.WithTimeout(ctx, phase)
	points, attempts, err := ec.Fetch(ectx, d.Start(), d.QueryEnd())
	cancel()
	window := []any{"start", day.FormatQuery(d.Start()), "end", day.FormatQuery(d.QueryEnd())}
	switch {
	case errors.Is(err, elering.ErrMalformed):
		log.Error("Elering response malformed", append(window, "outcome", "elering_malformed",
			"exit_code", ExitEleringMalformed, "attempts", attempts, "error", err.Error())...)
		return ExitEleringMalformed
	case err != nil:
		log.Error("Elering request failed", append(window, "outcome", "elering_failed",
			"exit_code", ExitEleringFailed, "attempts", attempts, "error", err.Error())...)
		return ExitEleringFailed
	}
	records := prices.ForDay(d, points)
	if len(records) == 0 {
		log.Warn("Elering has not published prices for the day yet; nothing posted", append(window,
			"outcome", "not_published", "exit_code", ExitNotPublished, "received", len(points))...)
		return ExitNotPublished
	}

	// Phase 2: history-server.
	hcl := &history.Client{Client: api.At(cfg.HistoryServerURI)}
	hctx, cancel := context.WithTimeout(ctx, phase)
	status, attempts, err := hcl.Post(hctx, d.String(), records)
	cancel()
	target, _ := history.URL(cfg.HistoryServerURI, d.String())
	switch {
	case errors.Is(err, history.ErrRejected):
		log.Error("history-server rejected the prices", "outcome", "history_rejected",
			"exit_code", ExitHistoryRejected, "url", target, "status", status, "attempts", attempts,
			"count", len(records), "error", err.Error())
		return ExitHistoryRejected
	case err != nil:
		log.Error("history-server unavailable", "outcome", "history_unavailable",
			"exit_code", ExitHistoryUnavailable, "url", target, "status", status, "attempts", attempts,
			"count", len(records), "error", err.Error())
		return ExitHistoryUnavailable
	}

	log.Info("prices stored", "outcome", "ok", "exit_code", ExitOK,
		"count", len(records),
		"first", records[0].EstonianTime,
		"last", records[len(records)-1].EstonianTime,
		"interval", interval(records),
		"status", status, "attempts", attempts)
	return ExitOK
}

func interval(records []prices.Record) string {
	if iv := prices.Interval(records); iv > 0 {
		return iv.String()
	}
	if len(records) == 1 {
		return "single"
	}
	return "irregular"
}
