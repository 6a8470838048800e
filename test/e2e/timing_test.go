//go:build cluster

package e2e

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// Labels of the wall times that are compared at the end of the run.
const (
	timingUp            = "pulumi up (create)"
	timingDestroy       = "pulumi destroy"
	timingPreview       = "pulumi preview (no changes)"
	timingStackPreview  = "hack/stack.sh preview (refresh)"
	timingStackUp       = "hack/stack.sh up (repairs drift)"
	timingKubectlApply  = "kubectl apply + wait ready"
	timingKubectlDelete = "kubectl delete + wait gone"
)

// benchOutEnv names a file to which the figures are appended as
// tab-separated lines (figure, value, unit, target), for make bench.
const benchOutEnv = "LAB5_BENCH_OUT"

// timings holds this run's wall times by label, across tests, so that
// pulumi and kubectl can be printed side by side once all have run.
var timings sync.Map

// recordTiming logs a wall time and keeps it for the closing report.
func recordTiming(t *testing.T, label string, d time.Duration) {
	t.Helper()
	timings.Store(label, d)
	t.Logf("TIMING %-32s %6.1fs", label, d.Seconds())
}

func TestMain(m *testing.M) {
	code := m.Run()
	lines := figures()
	if len(lines) > 0 {
		fmt.Println("\n=== pulumi vs kubectl, this run (figure, value, target)")
		for _, l := range lines {
			fmt.Println("  " + strings.ReplaceAll(l, "\t", "  "))
		}
		if out := os.Getenv(benchOutEnv); out != "" {
			if err := appendLines(out, lines); err != nil {
				fmt.Fprintln(os.Stderr, err)
				code = 1
			}
		}
	}
	os.Exit(code)
}

// figures are the ratios (and times) the issue sets targets for, for
// whichever of them this run measured; never an assertion, since wall
// times on a shared machine vary too much to fail a test on.
func figures() []string {
	get := func(label string) (time.Duration, bool) {
		v, ok := timings.Load(label)
		if !ok {
			return 0, false
		}
		return v.(time.Duration), true
	}
	var out []string
	ratio := func(name, num, den, target string) {
		n, ok1 := get(num)
		d, ok2 := get(den)
		if ok1 && ok2 && d > 0 {
			out = append(out, fmt.Sprintf("%s (%.1fs / %.1fs)\t%.2f\tx\t%s", name, n.Seconds(), d.Seconds(), n.Seconds()/d.Seconds(), target))
		}
	}
	seconds := func(name, label, target string) {
		if d, ok := get(label); ok {
			out = append(out, fmt.Sprintf("%s\t%.1f\ts\t%s", name, d.Seconds(), target))
		}
	}
	ratio("pulumi up (create, all ready) / kubectl apply + wait ready", timingUp, timingKubectlApply, "<= 2.5")
	ratio("pulumi destroy / kubectl delete + wait gone", timingDestroy, timingKubectlDelete, "<= 1.0")
	seconds("no-op pulumi preview, full stack", timingPreview, "<= 4")
	seconds("no-op preview with refresh (hack/stack.sh preview)", timingStackPreview, "<= 5")
	seconds("up that repairs one deleted object (hack/stack.sh up)", timingStackUp, "-")
	return out
}

// appendLines appends lines to the file at path.
func appendLines(path string, lines []string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	_, err = io.WriteString(f, strings.Join(lines, "\n")+"\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
