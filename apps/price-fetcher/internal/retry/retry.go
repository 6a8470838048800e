// Package retry runs an operation a bounded number of times with
// exponential backoff and jitter.
package retry

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// Policy bounds the attempts of one operation.
type Policy struct {
	// Attempts is the total number of tries, first one included (>= 1).
	Attempts int
	// BaseDelay is the wait before the second attempt; each later wait
	// doubles it.
	BaseDelay time.Duration
	// MaxDelay caps a single wait before jitter (0: no cap).
	MaxDelay time.Duration
	// Jitter adds a random extra of up to Jitter × delay to each wait
	// (0.5 → delay .. 1.5×delay), so simultaneous clients spread out.
	Jitter float64
}

// Default is the production policy: 4 attempts, waits of about 0.5s, 1s
// and 2s (each plus up to 50% jitter).
var Default = Policy{Attempts: 4, BaseDelay: 500 * time.Millisecond, MaxDelay: 4 * time.Second, Jitter: 0.5}

type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent marks err as not worth retrying. Do returns err unwrapped.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanent{err}
}

// Delay is the wait before attempt n+1 (n >= 1), without jitter.
func (p Policy) Delay(n int) time.Duration {
	d := p.BaseDelay
	for i := 1; i < n; i++ {
		d *= 2
		if p.MaxDelay > 0 && d >= p.MaxDelay {
			return p.MaxDelay
		}
	}
	if p.MaxDelay > 0 && d > p.MaxDelay {
		d = p.MaxDelay
	}
	return d
}

func (p Policy) jittered(n int) time.Duration {
	d := p.Delay(n)
	if p.Jitter > 0 && d > 0 {
		d += time.Duration(rand.Float64() * p.Jitter * float64(d))
	}
	return d
}

// Do calls op until it succeeds, returns an error marked Permanent, the
// attempts run out, or ctx ends. It never starts a wait that would outlast
// ctx's deadline. It returns the number of attempts made and the last
// error (with any Permanent mark removed).
func (p Policy) Do(ctx context.Context, op func(ctx context.Context) error) (int, error) {
	attempts := max(p.Attempts, 1)
	var err error
	for n := 1; ; n++ {
		err = op(ctx)
		if err == nil {
			return n, nil
		}
		var perm permanent
		if errors.As(err, &perm) {
			return n, perm.err
		}
		if n >= attempts || ctx.Err() != nil {
			return n, err
		}
		wait := p.jittered(n)
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
			return n, err
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return n, err
		case <-timer.C:
		}
	}
}
