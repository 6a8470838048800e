package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
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
	// CPU time per operation in µs of the benchmark's client (this
	// process), the history-server process and MinIO: unlike ops/s,
	// independent of what else the machine runs.
	clientCPU, serverCPU, minioCPU float64
}

// cpu is the CPU time of all three processes per operation, µs.
func (r benchResult) cpu() float64 { return r.clientCPU + r.serverCPU + r.minioCPU }

// benchClients are the concurrency levels measured: one client alone, the
// issue's reference load, and more clients than the server's MinIO
// connection pool holds idle.
var benchClients = []int{1, 16, 64}

// profileEnv names a directory: if set, the server process writes its CPU
// profile (cpu.pprof) and allocation profile (allocs.pprof) there when the
// benchmark ends. Combine with -bench to pick the load, e.g.
//
//	HISTORY_SERVER_PROFILE=/tmp/prof go test -run '^$' \
//	  -bench 'ServerVsMinIO/GET/clients=16/server$' -benchtime 10s ./apps/history-server/
//	go tool pprof -top /tmp/prof/cpu.pprof
const profileEnv = "HISTORY_SERVER_PROFILE"

// benchOutEnv names a file to which the summary figures are appended as
// tab-separated lines (figure, value, unit, target), for make bench.
const benchOutEnv = "LAB5_BENCH_OUT"

// BenchmarkServerVsMinIO drives POST and GET through the history-server
// running as its own process (real HTTP on loopback, real MinIO) and the
// same operations as direct minio-go calls (PutObject / GetObject of the
// same bytes) on the same MinIO in the same run, at each of benchClients
// concurrent clients, and reports ops/s, latency percentiles and the
// server/direct ratios side by side, plus the server's peak RSS.
//
// By default the server process is this test binary acting as main; set
// HISTORY_SERVER_BIN to a built binary to measure exactly that.
//
//	go test -run '^$' -bench BenchmarkServerVsMinIO ./apps/history-server/
func BenchmarkServerVsMinIO(b *testing.B) {
	srv := miniotest.Start(b)
	port := strconv.Itoa(testutil.FreePort(b))
	env := map[string]string{
		"MINIO_URI": srv.URL(), "MINIO_ACCESS_KEY": miniotest.AccessKey, "MINIO_SECRET_KEY": miniotest.SecretKey,
		"MINIO_BUCKET": "bench-server", "PORT": port,
	}
	profileDir := os.Getenv(profileEnv)
	if profileDir != "" {
		env[profileEnv] = profileDir
	}
	p := startProcess(b, os.Getenv("HISTORY_SERVER_BIN"), env, true) // request logs go to /dev/null, as a log shipper would drain them
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
	name := func(op string, clients int, target string) string {
		return fmt.Sprintf("%s/clients=%d/%s", op, clients, target)
	}
	for _, clients := range benchClients {
		for _, op := range []string{"POST", "GET"} {
			// Server and direct back to back, so that both see the same
			// machine load.
			for _, target := range []string{"server", "minio"} {
				n := name(op, clients, target)
				fn := ops[op+"/"+target]
				b.Run(n, func(b *testing.B) {
					pids := []int{os.Getpid(), p.cmd.Process.Pid, srv.Pid()}
					before := make([]time.Duration, len(pids))
					for i, pid := range pids {
						before[i] = procCPU(b, pid)
					}
					r := measure(b, clients, fn)
					perOp := func(i int) float64 {
						return float64(procCPU(b, pids[i])-before[i]) / float64(time.Microsecond) / float64(b.N)
					}
					r.clientCPU, r.serverCPU, r.minioCPU = perOp(0), perOp(1), perOp(2)
					b.ReportMetric(r.cpu(), "CPU-µs/op")
					results[n] = r
				})
			}
		}
	}

	rss, err := peakRSS(p.cmd.Process.Pid)
	if err != nil {
		b.Fatalf("reading the server's VmHWM: %v", err)
	}
	if profileDir != "" {
		// The server writes its profiles on a graceful shutdown.
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		if code := p.exitCode(b, 30*time.Second); code != 0 {
			b.Fatalf("server exited with %d while writing profiles: %s", code, p.stderr)
		}
	}

	var sb strings.Builder
	var figures []string // for benchOutEnv
	fmt.Fprintf(&sb, "%-6s %7s | %9s %9s %6s | %15s %15s %9s | %-26s %-19s %s\n",
		"op", "clients", "server/s", "direct/s", "ratio", "server p50/p99", "direct p50/p99", "p99 ratio",
		"CPU µs/op: client+server+MinIO", "direct: client+MinIO", "CPU ratio")
	for _, clients := range benchClients {
		for _, op := range []string{"POST", "GET"} {
			s, d := results[name(op, clients, "server")], results[name(op, clients, "minio")]
			if s.opsPerSec == 0 || d.opsPerSec == 0 {
				continue // not selected by -bench
			}
			fmt.Fprintf(&sb, "%-6s %7d | %9.0f %9.0f %5.2fx | %6.2f / %6.2f %6.2f / %6.2f %8.2fx | %4.0f+%4.0f+%4.0f = %5.0f     %4.0f+%4.0f = %5.0f     %.2fx\n",
				op, clients, s.opsPerSec, d.opsPerSec, s.opsPerSec/d.opsPerSec, s.p50, s.p99, d.p50, d.p99, s.p99/d.p99,
				s.clientCPU, s.serverCPU, s.minioCPU, s.cpu(), d.clientCPU, d.minioCPU, d.cpu(), d.cpu()/s.cpu())
			if clients == 16 {
				target := map[string]string{"GET": ">= 0.80", "POST": ">= 0.90"}[op]
				figures = append(figures,
					fmt.Sprintf("history-server %s throughput vs direct minio-go, 16 clients\t%.2f\tx\t%s", op, s.opsPerSec/d.opsPerSec, target),
					fmt.Sprintf("history-server %s p99 vs direct minio-go, 16 clients\t%.2f\tx\t<= 1.50", op, s.p99/d.p99))
			}
		}
	}
	fmt.Fprintf(&sb, "CPU ratio: direct CPU per op / server path CPU per op, the throughput ratio to expect when the machine's CPU is the limit.\n")
	fmt.Fprintf(&sb, "history-server peak RSS (VmHWM): %.1f MiB", float64(rss)/(1<<20))
	figures = append(figures, fmt.Sprintf("history-server peak RSS under the benchmark\t%.1f\tMiB\t< 32", float64(rss)/(1<<20)))
	if out := os.Getenv(benchOutEnv); out != "" {
		if err := appendLines(out, figures); err != nil {
			b.Fatal(err)
		}
	}
	// A sub-benchmark, so that the metric and the table are printed
	// (a parent benchmark's own output is not).
	var logOnce sync.Once
	b.Run("summary", func(b *testing.B) {
		for range b.N {
		}
		b.ReportMetric(float64(rss)/(1<<20), "server-peak-RSS-MiB")
		logOnce.Do(func() { b.Log("\n" + sb.String()) })
	})
}

// procCPU is the CPU time (user + system) process pid has used so far.
func procCPU(b *testing.B, pid int) time.Duration {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name, which is in parentheses: utime and
	// stime are the 14th and 15th of the whole line, in clock ticks of
	// 1/100 s (USER_HZ on Linux).
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("cannot parse /proc/%d/stat: %q", pid, raw)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// appendLines appends lines to the file at path.
func appendLines(path string, lines []string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	for _, l := range lines {
		fmt.Fprintln(f, l)
	}
	return f.Close()
}

// runProfiled runs the server (see TestMain), and, when profileEnv names a
// directory, records a CPU profile for its whole life and an allocation
// profile at its end.
func runProfiled(run func() int) int {
	dir := os.Getenv(profileEnv)
	if dir == "" {
		return run()
	}
	cpu, err := os.Create(filepath.Join(dir, "cpu.pprof"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer cpu.Close()
	if err := pprof.StartCPUProfile(cpu); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := run()
	pprof.StopCPUProfile()
	allocs, err := os.Create(filepath.Join(dir, "allocs.pprof"))
	if err == nil {
		err = pprof.Lookup("allocs").WriteTo(allocs, 0)
		allocs.Close()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return code
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
