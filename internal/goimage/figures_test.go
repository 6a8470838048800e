package goimage

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestFigures prints, for the README, the build and push times of the two
// apps' images, cold (empty Go build cache, empty repository) and warm
// (nothing changed), and their sizes. It needs a registry: set
// LAB5_IMAGE_FIGURES to its host:port (e.g. the local control plane's
// 127.0.0.1:5000, from inside its namespace). Figures only, no assertions
// on times.
func TestFigures(t *testing.T) {
	reg := os.Getenv("LAB5_IMAGE_FIGURES")
	if reg == "" {
		t.Skip("set LAB5_IMAGE_FIGURES=host:port of a registry to measure")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	run := fmt.Sprint(time.Now().Unix())
	for _, app := range []struct {
		name  string
		ports []int
	}{{"history-server", []int{8080}}, {"price-fetcher", nil}} {
		// A fresh Go build cache for each app's cold run: the standard
		// library and the app's dependencies are compiled again, as on a
		// new machine with the modules downloaded.
		t.Setenv("GOCACHE", t.TempDir())
		opts := Options{Dir: root, Package: "./apps/" + app.name, Ports: app.ports, CacheDir: t.TempDir()}
		repo := reg + "/figures-" + run + "/" + app.name
		for _, phase := range []string{"cold", "warm"} {
			start := time.Now()
			img, err := Build(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			built := time.Since(start)
			if _, err := Push(ctx, repo, img, Auth{}); err != nil {
				t.Fatal(err)
			}
			pushed := time.Since(start) - built
			size, unpacked := imageSize(t, img)
			t.Logf("FIGURE %-15s %s: build %5.1fs, push %4.1fs; image %.1f MiB to pull, %.1f MiB unpacked",
				app.name, phase, built.Seconds(), pushed.Seconds(), float64(size)/(1<<20), float64(unpacked)/(1<<20))
		}
	}
}

// imageSize is what a pull downloads (manifest, config and the compressed
// layer) and the layer's unpacked size.
func imageSize(t *testing.T, img *Image) (total, unpacked int64) {
	t.Helper()
	i := img.Artifact.(v1.Image)
	m, err := i.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := i.RawManifest()
	total = int64(len(raw)) + m.Config.Size
	for _, l := range m.Layers {
		total += l.Size
	}
	layers, err := i.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, rc)
		rc.Close()
		unpacked += n
	}
	return total, unpacked
}
