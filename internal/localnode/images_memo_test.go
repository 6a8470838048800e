package localnode

import (
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
)

// The memo builds an image again exactly when its inputs changed (or its
// kept copy is gone), and otherwise returns the image built before, byte
// for byte; only the layout of the newest inputs is kept.
func TestImageMemoBuildsOnlyWhenInputsChange(t *testing.T) {
	dir := t.TempDir()
	builds := 0
	build := func() (v1.Image, error) {
		builds++
		return random.Image(64, 1)
	}
	get := func(inputs ...string) v1.Hash {
		t.Helper()
		m, err := newImageMemo(dir) // a new lab5-node run each time
		if err != nil {
			t.Fatal(err)
		}
		img, err := m.image("nginx-debian", inputs, build)
		if err != nil {
			t.Fatal(err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}

	first := get("nginx=1.22.1")
	if again := get("nginx=1.22.1"); again != first || builds != 1 {
		t.Fatalf("same inputs: got %s after %d builds, want %s after 1", again, builds, first)
	}
	changed := get("nginx=1.22.2")
	if changed == first || builds != 2 {
		t.Fatalf("changed inputs: got %s after %d builds, want a new image after 2", changed, builds)
	}
	kept, _ := filepath.Glob(filepath.Join(dir, "nginx-debian", "*"))
	if len(kept) != 1 {
		t.Errorf("layouts kept: %v, want only the newest inputs'", kept)
	}

	// A kept layout that was damaged or removed costs a build, never an error.
	if err := os.RemoveAll(filepath.Join(kept[0], "index.json")); err != nil {
		t.Fatal(err)
	}
	get("nginx=1.22.2")
	if builds != 3 {
		t.Fatalf("damaged layout: %d builds, want 3", builds)
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
