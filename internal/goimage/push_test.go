package goimage

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/lab5/k8s-networking/internal/testutil"
)

// newRegistry starts ggcr's in-memory registry on loopback and returns its
// host:port (loopback registries are spoken to over plain HTTP).
func newRegistry(t *testing.T, h http.Handler) string {
	t.Helper()
	if h == nil {
		h = registry.New()
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return u.Host
}

func TestPushExistsAndReadBack(t *testing.T) {
	ctx := context.Background()
	host := newRegistry(t, nil)
	dir := writeModule(t, helloMain)
	img := build(t, Options{Dir: dir, Package: "./cmd/hello", Ports: []int{8080}})
	repo := host + "/lab5/hello"

	ref, err := Ref(repo, img.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := Exists(ctx, ref, Auth{}); err != nil || ok {
		t.Fatalf("before the push: exists=%v err=%v", ok, err)
	}
	pushed, err := Push(ctx, repo, img, Auth{}, "latest")
	if err != nil {
		t.Fatal(err)
	}
	if pushed.String() != repo+"@"+img.Digest.String() {
		t.Errorf("pushed %s", pushed)
	}
	if ok, err := Exists(ctx, ref, Auth{}); err != nil || !ok {
		t.Fatalf("after the push: exists=%v err=%v", ok, err)
	}
	// What the registry serves is what was built, under the digest and the tag.
	back, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := back.Digest(); d != img.Digest {
		t.Errorf("registry serves %s, built %s", d, img.Digest)
	}
	cf, err := back.ConfigFile()
	if err != nil || cf.Config.User != User {
		t.Errorf("config read back: %v, %v", cf, err)
	}
	desc, err := remote.Head(ref.Context().Tag("latest"))
	if err != nil || desc.Digest != img.Digest {
		t.Errorf("tag latest: %v, %v", desc, err)
	}
}

func TestPushIndex(t *testing.T) {
	host := newRegistry(t, nil)
	dir := writeModule(t, helloMain)
	img := build(t, Options{Dir: dir, Package: "./cmd/hello", Platforms: []string{"linux/amd64", "linux/arm64"}})
	ref, err := Push(context.Background(), host+"/multi", img, Auth{})
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Index(ref)
	if err != nil {
		t.Fatal(err)
	}
	im, _ := idx.IndexManifest()
	if d, _ := idx.Digest(); d != img.Digest || len(im.Manifests) != 2 {
		t.Errorf("index read back: %s with %d manifests", d, len(im.Manifests))
	}
}

func TestPushErrorsSayWhatToDo(t *testing.T) {
	ctx := context.Background()
	dir := writeModule(t, helloMain)
	img := build(t, Options{Dir: dir, Package: "./cmd/hello"})

	// A registry that wants credentials other than the ones given.
	reg := registry.New()
	guarded := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "lab" || p != "s3cret" {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
			return
		}
		reg.ServeHTTP(w, r)
	})
	host := newRegistry(t, guarded)
	_, err := Push(ctx, host+"/app", img, Auth{Username: "lab", Password: "wrong"})
	if err == nil || !strings.Contains(err.Error(), "refused access") || !strings.Contains(err.Error(), "docker login "+host) {
		t.Errorf("wrong password: %v", err)
	}
	if _, err := Push(ctx, host+"/app", img, Auth{Username: "lab", Password: "s3cret"}); err != nil {
		t.Errorf("right password: %v", err)
	}
	// No explicit credentials: what `docker login` wrote is used.
	dockerConfig := t.TempDir()
	login := `{"auths":{"` + host + `":{"auth":"` + base64.StdEncoding.EncodeToString([]byte("lab:s3cret")) + `"}}}`
	if err := os.WriteFile(filepath.Join(dockerConfig, "config.json"), []byte(login), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dockerConfig)
	if _, err := Push(ctx, host+"/app", img, Auth{}); err != nil {
		t.Errorf("credentials from the Docker config: %v", err)
	}
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // no entry: anonymous, refused
	if _, err := Push(ctx, host+"/app", img, Auth{}); err == nil || !strings.Contains(err.Error(), "refused access") {
		t.Errorf("no login at all: %v", err)
	}

	// Nothing listens: unreachable, said plainly and at once (no retries for
	// minutes).
	dead := testutil.FreeAddr(t)
	_, err = Push(ctx, dead+"/app", img, Auth{})
	if err == nil || !strings.Contains(err.Error(), "is unreachable") {
		t.Errorf("dead registry: %v", err)
	}
	ref, _ := Ref(dead+"/app", img.Digest)
	if _, err := Exists(ctx, ref, Auth{}); err == nil || !strings.Contains(err.Error(), "is unreachable") {
		t.Errorf("dead registry, exists: %v", err)
	}
}
