package localnode

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/lab5/k8s-networking/internal/goimage"
)

// The memo builds an image again exactly when its inputs changed or the
// registry lost it, and otherwise returns the reference pushed before.
func TestImageMemoRebuildsOnlyWhenInputsChangeOrTheRegistryLostIt(t *testing.T) {
	ctx := context.Background()
	srv := httptest.NewServer(registry.New())
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	push := func(name string, img v1.Image) (string, error) {
		d, err := img.Digest()
		if err != nil {
			return "", err
		}
		ref, err := goimage.Push(ctx, host+"/"+StackRepo+"/"+name, &goimage.Image{Digest: d, Artifact: img}, goimage.Auth{})
		return ref.String(), err
	}
	builds := 0
	build := func() (v1.Image, error) {
		builds++
		return random.Image(64, 1)
	}
	path := filepath.Join(t.TempDir(), "stack-images.json")
	get := func(inputs ...string) string {
		t.Helper()
		m, err := loadImageMemo(path) // a new lab5-node run each time
		if err != nil {
			t.Fatal(err)
		}
		ref, err := m.image(ctx, "nginx-debian", inputs, build, push)
		if err != nil {
			t.Fatal(err)
		}
		return ref
	}

	first := get("nginx=1.22.1")
	if again := get("nginx=1.22.1"); again != first || builds != 1 {
		t.Fatalf("same inputs: got %s after %d builds, want %s after 1", again, builds, first)
	}
	if changed := get("nginx=1.22.2"); changed == first || builds != 2 {
		t.Fatalf("changed inputs: got %s after %d builds, want a new image after 2", changed, builds)
	}

	// The registry's data is gone (down --purge of its folder): rebuilt.
	srv.Config.Handler = registry.New()
	get("nginx=1.22.2")
	if builds != 3 {
		t.Fatalf("the registry lost the image: %d builds, want 3", builds)
	}

	// A damaged memo costs a rebuild, never an error.
	if err := os.WriteFile(path, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	get("nginx=1.22.2")
	if builds != 4 {
		t.Fatalf("damaged memo: %d builds, want 4", builds)
	}
}

func TestFingerprintSeparatesParts(t *testing.T) {
	if fingerprint("ab", "c") == fingerprint("a", "bc") {
		t.Error(`fingerprint("ab", "c") == fingerprint("a", "bc"): parts must not run together`)
	}
	if a, b := fingerprint("a", "b"), fingerprint("a", "b"); a != b {
		t.Errorf("fingerprint is not deterministic: %s, %s", a, b)
	}
}
