package retry

import (
	"context"
	"errors"
	"testing"
	"time"
)

var fast = Policy{Attempts: 4, BaseDelay: time.Microsecond, Jitter: 0.5}

func TestSucceedsAfterFailures(t *testing.T) {
	calls := 0
	n, err := fast.Do(context.Background(), func(context.Context) error {
		calls++
		if calls < 3 {
			return errors.New("boom")
		}
		return nil
	})
	if err != nil || n != 3 || calls != 3 {
		t.Fatalf("n=%d calls=%d err=%v", n, calls, err)
	}
}

func TestExhausts(t *testing.T) {
	boom := errors.New("boom")
	calls := 0
	n, err := fast.Do(context.Background(), func(context.Context) error { calls++; return boom })
	if !errors.Is(err, boom) || n != 4 || calls != 4 {
		t.Fatalf("n=%d calls=%d err=%v", n, calls, err)
	}
}

func TestPermanentStops(t *testing.T) {
	boom := errors.New("boom")
	calls := 0
	n, err := fast.Do(context.Background(), func(context.Context) error { calls++; return Permanent(boom) })
	if !errors.Is(err, boom) || n != 1 || calls != 1 {
		t.Fatalf("n=%d calls=%d err=%v", n, calls, err)
	}
}

func TestCancelledContextStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	n, err := fast.Do(ctx, func(context.Context) error { calls++; cancel(); return errors.New("boom") })
	if err == nil || n != 1 || calls != 1 {
		t.Fatalf("n=%d calls=%d err=%v", n, calls, err)
	}
}

func TestNoWaitBeyondDeadline(t *testing.T) {
	p := Policy{Attempts: 5, BaseDelay: time.Hour}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	calls := 0
	n, err := p.Do(ctx, func(context.Context) error { calls++; return errors.New("boom") })
	if err == nil || n != 1 || calls != 1 {
		t.Fatalf("n=%d calls=%d err=%v", n, calls, err)
	}
}

func TestDelays(t *testing.T) {
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second}
	for i, w := range want {
		if got := Default.Delay(i + 1); got != w {
			t.Errorf("Delay(%d) = %s, want %s", i+1, got, w)
		}
	}
	for i := 0; i < 100; i++ {
		d := Default.jittered(1)
		if d < 500*time.Millisecond || d > 750*time.Millisecond {
			t.Fatalf("jittered(1) = %s out of [0.5s, 0.75s]", d)
		}
	}
}
