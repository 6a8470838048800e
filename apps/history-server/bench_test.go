package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/lab5/k8s-networking/apps/history-server/internal/pricetest"
	"github.com/lab5/k8s-networking/internal/miniotest"
	"github.com/lab5/k8s-networking/internal/testutil"
)

// benchResult is the last measurement of one sub-benchmark.
type benchResult struct {
	opsPerSec, p50, p99 float64 // p50/p99 in milliseconds
}

// BenchmarkServerVsMinIO drives POST and GET through the history-server
// running as its own process (real HTTP on loopback, real MinIO) and the
// same operations as direct minio-go calls (PutObject / GetObject of the
// same bytes), one client and 8 concurrent clients, and reports ops/s and
// latency percentiles side by side, plus the server's peak RSS.
//
// By default the server process is this test binary acting as main; set
// HISTORY_SERVER_BIN to a built binary to measure exactly that.
//
//	go test -run '^$' -bench BenchmarkServerVsMinIO ./apps/history-server/
func BenchmarkServerVsMinIO(b *testing.B) {
	srv := miniotest.Start(b)
	port := strconv.Itoa(testutil.FreePort(b))
	p := startProcess(b, os.Getenv("HISTORY_SERVER_BIN"), map[string]string{
		"MINIO_URI": srv.URL(), "MINIO_ACCESS_KEY": miniotest.AccessKey, "MINIO_SECRET_KEY": miniotest.SecretKey,
		"MINIO_BUCKET": "bench-server", "PORT": port,
	}, true) // request logs go to /dev/null, as a log shipper would drain them
	waitFor(b, p.url+"/readyz", http.StatusOK, 20*time.Second)

	mc := directClient(b, srv.Endpoint)
	ctx := context.Background()
	const directBucket = "bench-direct"
	if err := mc.MakeBucket(ctx, directBucket, minio.MakeBucketOptions{}); err != nil {
		b.Fatal(err)
	}

	// 64 days of 24 hourly prices (~2 KiB each), stored in both buckets.
	const nDays = 64
	days := make([]string, nDays)
	bodies := make([][]byte, nDays)
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range days {
		days[i] = start.AddDate(0, 0, i).Format("2006-01-02")
		bodies[i] = pricetest.Body(days[i], 24, i)
		if r := call(b, http.MethodPost, p.url+"/api/prices/?day="+days[i], "application/json", bodies[i], false); r.status != http.StatusCreated {
			b.Fatalf("seeding: %d %s", r.status, r.body)
		}
		if _, err := mc.PutObject(ctx, directBucket, days[i]+".json", bytes.NewReader(bodies[i]), int64(len(bodies[i])),
			minio.PutObjectOptions{ContentType: "application/json"}); err != nil {
			b.Fatal(err)
		}
	}

	ops := map[string]func(i int) error{
		"POST/server": func(i int) error {
			d := i % nDays
			return expect(do(http.MethodPost, p.url+"/api/prices/?day="+days[d], "application/json", bodies[d], false))(http.StatusCreated, nil)
		},
		"POST/minio": func(i int) error {
			d := i % nDays
			_, err := mc.PutObject(ctx, directBucket, days[d]+".json", bytes.NewReader(bodies[d]), int64(len(bodies[d])),
				minio.PutObjectOptions{ContentType: "application/json"})
			return err
		},
		"GET/server": func(i int) error {
			d := i % nDays
			return expect(do(http.MethodGet, p.url+"/api/prices/?day="+days[d], "", nil, false))(http.StatusOK, bodies[d])
		},
		"GET/minio": func(i int) error {
			d := i % nDays
			obj, err := mc.GetObject(ctx, directBucket, days[d]+".json", minio.GetObjectOptions{})
			if err != nil {
				return err
			}
			defer obj.Close()
			got, err := io.ReadAll(obj)
			if err == nil && !bytes.Equal(got, bodies[d]) {
				err = fmt.Errorf("GetObject returned %d unexpected bytes", len(got))
			}
			return err
		},
	}

	results := map[string]benchResult{}
	var names []string
	for _, clients := range []int{1, 8} {
		for _, op := range []string{"POST", "GET"} {
			for _, target := range []string{"server", "minio"} {
				name := fmt.Sprintf("%s/clients=%d/%s", op, clients, target)
				names = append(names, name)
				fn := ops[op+"/"+target]
				b.Run(name, func(b *testing.B) {
					results[name] = measure(b, clients, fn)
				})
			}
		}
	}

	rss, err := peakRSS(p.cmd.Process.Pid)
	if err != nil {
		b.Fatalf("reading the server's VmHWM: %v", err)
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "%-28s %10s %10s %10s\n", "operation", "ops/s", "p50 ms", "p99 ms")
	for _, n := range names {
		r := results[n]
		fmt.Fprintf(&sb, "%-28s %10.0f %10.3f %10.3f\n", n, r.opsPerSec, r.p50, r.p99)
	}
	fmt.Fprintf(&sb, "history-server peak RSS (VmHWM): %.1f MiB", float64(rss)/(1<<20))
	// A sub-benchmark, so that the metric and the table are printed
	// (a parent benchmark's own output is not).
	var logOnce sync.Once
	b.Run("summary", func(b *testing.B) {
		for range b.N {
		}
		b.ReportMetric(float64(rss)/(1<<20), "server-peak-RSS-MiB")
		logOnce.Do(func() { b.Log(sb.String()) })
	})
}

// expect turns a response into an error unless it has the status (and,
// if want is not nil, exactly that body).
func expect(r response, err error) func(status int, want []byte) error {
	return func(status int, want []byte) error {
		if err != nil {
			return err
		}
		if r.status != status {
			return fmt.Errorf("status %d, want %d: %s", r.status, status, r.body)
		}
		if want != nil && !bytes.Equal(r.body, want) {
			return fmt.Errorf("unexpected body %.100s", r.body)
		}
		return nil
	}
}

// measure runs b.N operations spread over clients goroutines and reports
// throughput and latency percentiles.
func measure(b *testing.B, clients int, op func(i int) error) benchResult {
	var next atomic.Int64
	lat := make([][]time.Duration, clients)
	var (
		errOnce  sync.Once
		firstErr error
	)
	var wg sync.WaitGroup
	b.ResetTimer()
	begin := time.Now()
	for c := range clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				t0 := time.Now()
				if err := op(i); err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				lat[c] = append(lat[c], time.Since(t0))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(begin)
	b.StopTimer()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	pct := func(q float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[min(len(all)-1, int(q*float64(len(all))))].Microseconds()) / 1000
	}
	r := benchResult{opsPerSec: float64(b.N) / elapsed.Seconds(), p50: pct(0.50), p99: pct(0.99)}
	b.ReportMetric(r.opsPerSec, "ops/s")
	b.ReportMetric(r.p50, "p50-ms")
	b.ReportMetric(r.p99, "p99-ms")
	return r
}
