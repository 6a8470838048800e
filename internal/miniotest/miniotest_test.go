package miniotest

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// The toolchain's MinIO server starts, and an object written through
// minio-go reads back byte for byte, also after a restart.
func TestServerWritesAndReadsAnObject(t *testing.T) {
	srv := Start(t)
	client, err := minio.New(srv.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(AccessKey, SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := client.MakeBucket(ctx, "probe", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	body := []byte(`[{"price":1.5}]`)
	if _, err := client.PutObject(ctx, "probe", "day.json", bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	srv.Restart()
	obj, err := client.GetObject(ctx, "probe", "day.json", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(obj)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, body) {
		t.Fatalf("read %q, wrote %q", got, body)
	}
}
