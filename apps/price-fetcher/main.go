// Command price-fetcher fetches tomorrow's (or PRICE_DAY's) Estonian
// electricity spot prices from Elering and posts them to the
// history-server. It is a one-shot job for a Kubernetes CronJob; see
// README.md for settings and exit codes.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/lab5/k8s-networking/apps/price-fetcher/internal/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := app.Main(ctx, os.Args[1:], os.LookupEnv, app.Options{Log: os.Stderr})
	stop()
	os.Exit(code)
}
