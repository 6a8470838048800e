// Command history-server is an HTTP API that stores day-ahead electricity
// prices in MinIO, one JSON object per day, and serves them back.
// See README.md and /api/openapi.yaml.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/lab5/k8s-networking/apps/history-server/internal/api"
	"github.com/lab5/k8s-networking/apps/history-server/internal/config"
	"github.com/lab5/k8s-networking/apps/history-server/internal/metrics"
	"github.com/lab5/k8s-networking/apps/history-server/internal/server"
	"github.com/lab5/k8s-networking/apps/history-server/internal/store"
)

func main() {
	os.Exit(run())
}

// run wires config → store → HTTP server and returns the exit code.
func run() int {
	cfg, err := config.Load(os.LookupEnv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "history-server: configuration error: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: cfg.LogLevel}))
	m := metrics.New()

	st, err := store.New(store.Options{
		Endpoint:  cfg.MinIOEndpoint,
		Secure:    cfg.MinIOSecure,
		AccessKey: cfg.AccessKey,
		SecretKey: cfg.SecretKey,
		Bucket:    cfg.Bucket,
		Region:    cfg.Region,
		Observe:   m.ObserveStore,
		Logger:    log,
	})
	if err != nil {
		log.Error("cannot set up the MinIO client", "error", err.Error())
		return 1
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	ln, err := net.Listen("tcp", cfg.Addr())
	if err != nil {
		log.Error("cannot listen", "addr", cfg.Addr(), "error", err.Error())
		return 1
	}
	log.Info("starting history-server", "config", cfg)
	// Create the bucket as soon as MinIO answers; serve meanwhile
	// (readiness stays false and price requests get 503 until then).
	go st.WaitForBucket(ctx)

	handler := api.New(st, api.Options{Logger: log, Observer: m, MetricsHandler: m.Handler()})
	if err := server.Serve(ctx, server.New(cfg.Addr(), handler, log), ln, server.ShutdownTimeout, log); err != nil {
		log.Error("server stopped with an error", "error", err.Error())
		return 1
	}
	return 0
}
