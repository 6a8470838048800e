package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/lab5/k8s-networking/apps/history-server/internal/prices"
	"github.com/lab5/k8s-networking/apps/history-server/internal/pricetest"
	"github.com/lab5/k8s-networking/apps/history-server/internal/store"
	"github.com/lab5/k8s-networking/internal/miniotest"
)

type observed struct {
	mu   sync.Mutex
	errs map[string]int
	ops  map[string]int
}

func (o *observed) observe(op string, _ time.Duration, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ops[op]++
	if err != nil {
		o.errs[op]++
	}
}

func newStore(t *testing.T, endpoint, bucket string, obs *observed) *store.MinIO {
	t.Helper()
	o := store.Options{
		Endpoint: endpoint, AccessKey: miniotest.AccessKey, SecretKey: miniotest.SecretKey, Bucket: bucket,
		OpTimeout: 5 * time.Second,
	}
	if obs != nil {
		o.Observe = obs.observe
	}
	s, err := store.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func direct(t *testing.T, endpoint string) *minio.Client {
	t.Helper()
	c, err := minio.New(endpoint, &minio.Options{Creds: credentials.NewStaticV4(miniotest.AccessKey, miniotest.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func day(t *testing.T, s string) prices.Day {
	t.Helper()
	d, err := prices.ParseDay(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// All store behaviour against one real MinIO server; each subtest uses
// its own bucket.
func TestMinIOStore(t *testing.T) {
	srv := miniotest.Start(t)
	ctx := context.Background()
	mc := direct(t, srv.Endpoint)

	t.Run("put get replace and not found", func(t *testing.T) {
		obs := &observed{errs: map[string]int{}, ops: map[string]int{}}
		s := newStore(t, srv.Endpoint, "roundtrip", obs)
		d := day(t, "2024-10-01")
		if _, err := s.Get(ctx, d); !errors.Is(err, prices.ErrNotFound) {
			t.Fatalf("Get before the bucket exists: %v, want ErrNotFound", err)
		}
		key, err := s.Put(ctx, d, []byte(pricetest.SampleCanonical))
		if err != nil || key != "2024-10-01.json" {
			t.Fatalf("Put = %q, %v", key, err)
		}
		got, err := s.Get(ctx, d)
		if err != nil || string(got) != pricetest.SampleCanonical {
			t.Fatalf("Get = %s, %v", got, err)
		}
		second := pricetest.Body("2024-10-01", 24, 7)
		if _, err := s.Put(ctx, d, second); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Get(ctx, d); !bytes.Equal(got, second) {
			t.Fatalf("after replace Get = %s", got)
		}
		if _, err := s.Get(ctx, day(t, "2024-10-02")); !errors.Is(err, prices.ErrNotFound) {
			t.Fatalf("Get missing day: %v, want ErrNotFound", err)
		}
		info, err := mc.StatObject(ctx, "roundtrip", "2024-10-01.json", minio.StatObjectOptions{})
		if err != nil || info.ContentType != "application/json" || info.Size != int64(len(second)) {
			t.Fatalf("stored object: %+v, %v", info, err)
		}
		obs.mu.Lock()
		defer obs.mu.Unlock()
		if obs.ops[store.OpPut] != 2 || obs.ops[store.OpGet] != 4 || obs.ops[store.OpMakeBucket] != 1 {
			t.Fatalf("observed ops %v", obs.ops)
		}
		if len(obs.errs) != 0 {
			t.Fatalf("observed errors %v (a missing object is not an error)", obs.errs)
		}
	})

	t.Run("concurrent bucket creators", func(t *testing.T) {
		// Several replicas start at once and all try to create the bucket.
		const replicas, callers = 4, 8
		var wg sync.WaitGroup
		errs := make(chan error, replicas*callers)
		for r := range replicas {
			s := newStore(t, srv.Endpoint, "race", nil)
			for c := range callers {
				d := day(t, fmt.Sprintf("2024-%02d-%02d", r+1, c+1))
				wg.Go(func() {
					if c%2 == 0 {
						errs <- s.EnsureBucket(ctx)
					} else {
						_, err := s.Put(ctx, d, []byte(pricetest.SampleCanonical))
						errs <- err
					}
				})
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("concurrent creator failed: %v", err)
			}
		}
		if ok, err := mc.BucketExists(ctx, "race"); err != nil || !ok {
			t.Fatalf("bucket missing: %v", err)
		}
	})

	t.Run("ready creates a missing bucket", func(t *testing.T) {
		s := newStore(t, srv.Endpoint, "lazy-ready", nil)
		if err := s.Ready(ctx); err != nil {
			t.Fatal(err)
		}
		if ok, err := mc.BucketExists(ctx, "lazy-ready"); err != nil || !ok {
			t.Fatalf("Ready did not create the bucket: %v", err)
		}
	})

	t.Run("bucket deleted behind its back", func(t *testing.T) {
		s := newStore(t, srv.Endpoint, "vanishing", nil)
		d := day(t, "2024-10-01")
		if _, err := s.Put(ctx, d, []byte(pricetest.SampleCanonical)); err != nil {
			t.Fatal(err)
		}
		if err := mc.RemoveObject(ctx, "vanishing", d.ObjectKey(), minio.RemoveObjectOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := mc.RemoveBucket(ctx, "vanishing"); err != nil {
			t.Fatal(err)
		}
		// Put still believes the bucket exists; it must notice and recreate it.
		if _, err := s.Put(ctx, d, []byte(pricetest.SampleCanonical)); err != nil {
			t.Fatalf("Put after the bucket vanished: %v", err)
		}
		if got, err := s.Get(ctx, d); err != nil || string(got) != pricetest.SampleCanonical {
			t.Fatalf("Get = %s, %v", got, err)
		}
	})

	t.Run("wrong credentials are unavailable", func(t *testing.T) {
		s, err := store.New(store.Options{Endpoint: srv.Endpoint, AccessKey: "nobody", SecretKey: "wrong-secret", Bucket: "creds"})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Ready(ctx); !errors.Is(err, prices.ErrUnavailable) {
			t.Fatalf("Ready with bad credentials: %v, want ErrUnavailable", err)
		}
		if _, err := s.Put(ctx, day(t, "2024-10-01"), []byte("[]")); !errors.Is(err, prices.ErrUnavailable) {
			t.Fatalf("Put with bad credentials: %v, want ErrUnavailable", err)
		}
	})

	t.Run("oversized foreign object", func(t *testing.T) {
		s := newStore(t, srv.Endpoint, "foreign", nil)
		if err := s.EnsureBucket(ctx); err != nil {
			t.Fatal(err)
		}
		big := bytes.Repeat([]byte(" "), store.MaxObjectSize+1)
		if _, err := mc.PutObject(ctx, "foreign", "2024-10-01.json", bytes.NewReader(big), int64(len(big)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, day(t, "2024-10-01")); err == nil {
			t.Fatal("Get returned an object larger than MaxObjectSize")
		}
	})

	// Validity is remembered per content (ETag), never per key: an object
	// replaced by foreign bytes is reported corrupt at once, and valid
	// again once replaced by a valid array.
	t.Run("foreign object that is not JSON", func(t *testing.T) {
		s := newStore(t, srv.Endpoint, "corrupt", nil)
		d := day(t, "2024-10-01")
		put := func(body string) {
			t.Helper()
			if _, err := mc.PutObject(ctx, "corrupt", d.ObjectKey(), strings.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.EnsureBucket(ctx); err != nil {
			t.Fatal(err)
		}
		for i, body := range []string{pricetest.SampleCanonical, `[{"estonian_time":`, pricetest.SampleCanonical} {
			put(body)
			for range 2 {
				got, err := s.Get(ctx, d)
				if body == pricetest.SampleCanonical {
					if err != nil || string(got) != body {
						t.Fatalf("step %d: Get = %q, %v; want the stored array", i, got, err)
					}
					continue
				}
				if ce, ok := errors.AsType[*prices.CorruptError](err); !ok || ce.Key != d.ObjectKey() {
					t.Fatalf("step %d: Get of a non-JSON object = %q, %v; want a CorruptError for %s", i, got, err, d.ObjectKey())
				}
			}
		}
	})
}

// With nothing listening, every call fails fast with ErrUnavailable and
// the observer counts the failures.
func TestMinIOStoreUnreachable(t *testing.T) {
	obs := &observed{errs: map[string]int{}, ops: map[string]int{}}
	s := newStore(t, "127.0.0.1:1", "down", obs)
	ctx := context.Background()
	d := day(t, "2024-10-01")
	if _, err := s.Get(ctx, d); !errors.Is(err, prices.ErrUnavailable) {
		t.Fatalf("Get: %v", err)
	}
	if _, err := s.Put(ctx, d, []byte(pricetest.SampleCanonical)); !errors.Is(err, prices.ErrUnavailable) {
		t.Fatalf("Put: %v", err)
	}
	if err := s.Ready(ctx); !errors.Is(err, prices.ErrUnavailable) {
		t.Fatalf("Ready: %v", err)
	}
	obs.mu.Lock()
	if obs.errs[store.OpGet] != 1 || obs.errs[store.OpBucketExists] < 2 {
		t.Errorf("observed errors %v", obs.errs)
	}
	obs.mu.Unlock()
	// A caller that hangs up gets its answer at once.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Put(cctx, d, []byte("[]")); !errors.Is(err, prices.ErrUnavailable) {
		t.Fatalf("Put with cancelled context: %v", err)
	}
}
