// Package store keeps one JSON object per day (<day>.json) in a MinIO
// bucket through minio-go.
//
// Errors wrap prices.ErrNotFound (no object for that day) or
// prices.ErrUnavailable (MinIO unreachable, timed out, refused the
// credentials or failed), so callers can map them without knowing MinIO.
package store

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"golang.org/x/sync/singleflight"

	"github.com/lab5/k8s-networking/apps/history-server/internal/prices"
)

// MaxObjectSize bounds what Get reads back. The API accepts bodies up to
// 1 MiB and stores them re-encoded compactly, so anything larger was not
// written by this server.
const MaxObjectSize = 8 << 20

// Operation names passed to Options.Observe.
const (
	OpGet          = "get"
	OpPut          = "put"
	OpBucketExists = "bucket_exists"
	OpMakeBucket   = "make_bucket"
)

// Options configure a MinIO store.
type Options struct {
	Endpoint  string // host[:port]
	Secure    bool   // TLS
	AccessKey string
	SecretKey string
	Bucket    string
	Region    string // optional; empty asks the server

	// OpTimeout bounds each store call, retries included. Default 10s.
	OpTimeout time.Duration
	// DialTimeout bounds connecting to MinIO. Default 3s.
	DialTimeout time.Duration
	// MaxRetries is minio-go's attempt count per request (1 = no retry).
	// Default 3.
	MaxRetries int

	// Observe, if set, is told about every MinIO call: its operation name,
	// duration and error. A missing object is not an error (err is nil).
	Observe func(op string, d time.Duration, err error)
	Logger  *slog.Logger
}

// MinIO is a price store backed by a MinIO bucket. It is safe for
// concurrent use.
type MinIO struct {
	client    *minio.Client
	core      minio.Core // the same client, for its lower-level GetObject and PutObject
	bucket    string
	region    string
	opTimeout time.Duration
	observe   func(string, time.Duration, error)
	log       *slog.Logger

	bucketOK atomic.Bool // the bucket is known to exist

	ensure singleflight.Group // the bucket check in progress, shared by concurrent callers

	validMu    sync.Mutex
	validETags map[string]struct{} // ETags of objects known to hold valid JSON
}

// New builds the client. It does not contact MinIO: the server may not be
// up yet, and the store copes with that (see EnsureBucket).
func New(o Options) (*MinIO, error) {
	if o.Bucket == "" {
		return nil, errors.New("store: bucket name is required")
	}
	if o.OpTimeout <= 0 {
		o.OpTimeout = 10 * time.Second
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 3 * time.Second
	}
	if o.MaxRetries <= 0 {
		o.MaxRetries = 3
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Observe == nil {
		o.Observe = func(string, time.Duration, error) {}
	}
	tr, err := minio.DefaultTransport(o.Secure)
	if err != nil {
		return nil, fmt.Errorf("store: transport: %w", err)
	}
	tr.DialContext = (&net.Dialer{Timeout: o.DialTimeout, KeepAlive: 30 * time.Second}).DialContext
	tr.MaxIdleConnsPerHost = 64
	tr.ResponseHeaderTimeout = o.OpTimeout
	client, err := minio.New(o.Endpoint, &minio.Options{
		Creds:      credentials.NewStaticV4(o.AccessKey, o.SecretKey, ""),
		Secure:     o.Secure,
		Region:     o.Region,
		Transport:  tr,
		MaxRetries: o.MaxRetries,
	})
	if err != nil {
		return nil, fmt.Errorf("store: MinIO endpoint %q: %w", o.Endpoint, err)
	}
	return &MinIO{
		client:     client,
		core:       minio.Core{Client: client},
		bucket:     o.Bucket,
		region:     o.Region,
		opTimeout:  o.OpTimeout,
		observe:    o.Observe,
		log:        o.Logger,
		validETags: map[string]struct{}{},
	}, nil
}

// Get returns the stored JSON array for day.
func (s *MinIO) Get(ctx context.Context, day prices.Day) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opTimeout)
	defer cancel()
	key := day.ObjectKey()
	start := time.Now()
	data, info, err := s.get(ctx, key)
	code := minio.ToErrorResponse(err).Code
	notFound := code == minio.NoSuchKey || code == minio.NoSuchBucket
	if notFound {
		s.observe(OpGet, time.Since(start), nil)
	} else {
		s.observe(OpGet, time.Since(start), err)
	}
	switch {
	case err == nil:
		if !s.valid(info.etag, data) {
			return nil, &prices.CorruptError{Key: key}
		}
		return data, nil
	case notFound:
		if code == minio.NoSuchBucket {
			// The bucket vanished (e.g. MinIO lost its data): create it again
			// on the next write or readiness check.
			s.bucketOK.Store(false)
		}
		return nil, fmt.Errorf("%w: %s", prices.ErrNotFound, day)
	default:
		return nil, s.unavailable("get "+key, err)
	}
}

// objectInfo is what Get needs to know about an object besides its data.
type objectInfo struct {
	etag string
}

func (s *MinIO) get(ctx context.Context, key string) ([]byte, objectInfo, error) {
	// Core.GetObject answers with the response body itself: the plain
	// Client.GetObject puts a goroutine and a channel round trip behind
	// every Read, which showed in the server's CPU profile.
	body, info, _, err := s.core.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, objectInfo{}, err
	}
	defer body.Close()
	if info.Size > MaxObjectSize {
		return nil, objectInfo{}, fmt.Errorf("object %s/%s is larger than %d bytes", s.bucket, key, MaxObjectSize)
	}
	data, err := readAll(io.LimitReader(body, MaxObjectSize+1), info.Size)
	if err != nil {
		return nil, objectInfo{}, err
	}
	if len(data) > MaxObjectSize {
		return nil, objectInfo{}, fmt.Errorf("object %s/%s is larger than %d bytes", s.bucket, key, MaxObjectSize)
	}
	return data, objectInfo{etag: info.ETag}, nil
}

// maxValidETags bounds the memory of valid: far more than the days anyone
// reads within a while; when full it starts over.
const maxValidETags = 4096

// valid reports whether data is valid JSON. An object's ETag is the MD5 of
// its content here (single-part uploads, no encryption), so a content
// already found valid is not scanned again: json.Valid was a visible part
// of the server's CPU profile under GET load. A missing ETag is never
// cached.
func (s *MinIO) valid(etag string, data []byte) bool {
	if etag != "" {
		s.validMu.Lock()
		_, ok := s.validETags[etag]
		s.validMu.Unlock()
		if ok {
			return true
		}
	}
	if !json.Valid(data) {
		return false
	}
	if etag != "" {
		s.validMu.Lock()
		if len(s.validETags) >= maxValidETags {
			clear(s.validETags)
		}
		s.validETags[etag] = struct{}{}
		s.validMu.Unlock()
	}
	return true
}

// readAll is io.ReadAll starting from the announced size (Content-Length),
// so that a whole object is read into one allocation instead of a series
// of doubling ones. The size is only a hint: the data read decides.
func readAll(r io.Reader, size int64) ([]byte, error) {
	if size < 0 || size > MaxObjectSize {
		size = 0
	}
	buf := make([]byte, 0, size+1) // +1: room to see EOF without growing
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// Put stores body as the day's object, replacing any previous one. A
// single PutObject is atomic in MinIO: readers see the old or the new
// object, never a mix, and a failed upload leaves the old one in place.
func (s *MinIO) Put(ctx context.Context, day prices.Day, body []byte) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opTimeout)
	defer cancel()
	key := day.ObjectKey()
	if err := s.EnsureBucket(ctx); err != nil {
		return "", err
	}
	err := s.put(ctx, key, body)
	if minio.ToErrorResponse(err).Code == minio.NoSuchBucket {
		// Deleted behind our back: recreate and try once more.
		s.bucketOK.Store(false)
		if err := s.EnsureBucket(ctx); err != nil {
			return "", err
		}
		err = s.put(ctx, key, body)
	}
	if err != nil {
		return "", s.unavailable("put "+key, err)
	}
	return key, nil
}

func (s *MinIO) put(ctx context.Context, key string, body []byte) error {
	start := time.Now()
	// The body is in memory, so its digests are cheap: a payload signed
	// with its SHA-256 (and checked against its MD5) replaces minio-go's
	// default for plain HTTP, a streaming signature over aws-chunked
	// encoding, which cost the server (and MinIO) more per small object.
	sha := sha256.Sum256(body)
	md := md5.Sum(body)
	_, err := s.core.PutObject(ctx, s.bucket, key, bytes.NewReader(body), int64(len(body)),
		base64.StdEncoding.EncodeToString(md[:]), hex.EncodeToString(sha[:]),
		minio.PutObjectOptions{ContentType: "application/json", DisableContentSha256: true})
	s.observe(OpPut, time.Since(start), err)
	return err
}

// Ready checks that MinIO answers and the bucket exists, creating it if
// it is missing. It always asks MinIO, so it reflects the current state.
func (s *MinIO) Ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.opTimeout)
	defer cancel()
	exists, err := s.bucketExists(ctx)
	if err != nil {
		return s.unavailable("check bucket "+s.bucket, err)
	}
	if exists {
		s.bucketOK.Store(true)
		return nil
	}
	s.bucketOK.Store(false)
	return s.EnsureBucket(ctx)
}

// EnsureBucket makes sure the bucket exists, creating it if needed. It
// tolerates another process creating it at the same time. Once it has
// succeeded it returns immediately until a call finds the bucket gone.
// Concurrent callers share one check.
func (s *MinIO) EnsureBucket(ctx context.Context) error {
	if s.bucketOK.Load() {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return s.unavailable("check bucket "+s.bucket, err)
	}
	// The check runs detached from any one caller, so that a caller hanging
	// up neither aborts it nor fails the others waiting on it; it is bounded
	// by the operation timeout instead.
	shared := s.ensure.DoChan(s.bucket, func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opTimeout)
		defer cancel()
		return nil, s.ensureBucket(fctx)
	})
	select {
	case r := <-shared:
		return r.Err
	case <-ctx.Done():
		return s.unavailable("check bucket "+s.bucket, ctx.Err())
	}
}

func (s *MinIO) ensureBucket(ctx context.Context) error {
	exists, err := s.bucketExists(ctx)
	if err != nil {
		return s.unavailable("check bucket "+s.bucket, err)
	}
	if !exists {
		start := time.Now()
		err := s.client.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{Region: s.region})
		switch code := minio.ToErrorResponse(err).Code; {
		case err == nil:
			s.observe(OpMakeBucket, time.Since(start), nil)
			s.log.Info("created bucket", "bucket", s.bucket)
		case code == minio.BucketAlreadyOwnedByYou || code == minio.BucketAlreadyExists:
			// Someone else (another replica) created it between our check
			// and our create. Fine, as long as we can see it now.
			s.observe(OpMakeBucket, time.Since(start), nil)
			if exists, err := s.bucketExists(ctx); err != nil || !exists {
				if err == nil {
					err = fmt.Errorf("MinIO says bucket %q exists but it is not accessible with these credentials", s.bucket)
				}
				return s.unavailable("check bucket "+s.bucket, err)
			}
		default:
			s.observe(OpMakeBucket, time.Since(start), err)
			return s.unavailable("create bucket "+s.bucket, err)
		}
	}
	s.bucketOK.Store(true)
	return nil
}

func (s *MinIO) bucketExists(ctx context.Context) (bool, error) {
	start := time.Now()
	ok, err := s.client.BucketExists(ctx, s.bucket)
	s.observe(OpBucketExists, time.Since(start), err)
	return ok, err
}

// WaitForBucket retries EnsureBucket with capped exponential back-off
// until it succeeds or ctx ends. Run it in the background at start-up, so
// that the bucket exists as soon as MinIO is reachable even if no request
// arrives; requests and readiness checks also create it lazily.
func (s *MinIO) WaitForBucket(ctx context.Context) {
	delay := 500 * time.Millisecond
	for {
		err := s.EnsureBucket(ctx)
		if err == nil {
			s.log.Info("MinIO bucket ready", "bucket", s.bucket)
			return
		}
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("MinIO not ready yet; will retry", "bucket", s.bucket, "error", err.Error(), "retry_in", delay.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(delay*2, 30*time.Second)
	}
}

// unavailable wraps a MinIO failure as prices.ErrUnavailable, keeping the
// detail (S3 error code, network error) for the logs.
func (s *MinIO) unavailable(what string, err error) error {
	if errors.Is(err, prices.ErrUnavailable) {
		return err
	}
	if r := minio.ToErrorResponse(err); r.Code != "" {
		return fmt.Errorf("%w: %s: MinIO %s (HTTP %d): %s", prices.ErrUnavailable, what, r.Code, r.StatusCode, r.Message)
	}
	return fmt.Errorf("%w: %s: %w", prices.ErrUnavailable, what, err)
}
