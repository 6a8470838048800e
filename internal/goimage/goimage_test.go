package goimage

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/x509"
	"debug/elf"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// writeModule writes a one-package main module into a new folder and
// returns the folder. main is the body of package main.
func writeModule(t *testing.T, main string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":            "module example.com/hello\n\ngo 1.26\n",
		"cmd/hello/main.go": main,
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const helloMain = "package main\n\nimport \"os\"\n\nfunc main() { os.Stdout.WriteString(\"hello\\n\") }\n"

func build(t *testing.T, o Options) *Image {
	t.Helper()
	if o.CacheDir == "" {
		o.CacheDir = t.TempDir()
	}
	img, err := Build(context.Background(), o)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return img
}

func single(t *testing.T, img *Image) v1.Image {
	t.Helper()
	i, ok := img.Artifact.(v1.Image)
	if !ok {
		t.Fatalf("artifact is %T, want a v1.Image", img.Artifact)
	}
	return i
}

// openLayer opens the image's one layer, compressed or not, until the test
// ends.
func openLayer(t *testing.T, img v1.Image, compressed bool) io.Reader {
	t.Helper()
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers: %d, %v; want exactly 1", len(layers), err)
	}
	open := layers[0].Uncompressed
	if compressed {
		open = layers[0].Compressed
	}
	rc, err := open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })
	return rc
}

// compressedLayer returns the only layer's compressed bytes.
func compressedLayer(t *testing.T, img v1.Image) []byte {
	t.Helper()
	b, err := io.ReadAll(openLayer(t, img, true))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type tarFile struct {
	hdr  tar.Header
	data []byte
}

func layerFiles(t *testing.T, img v1.Image) []tarFile {
	t.Helper()
	var out []tarFile
	tr := tar.NewReader(openLayer(t, img, false))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tarFile{hdr: *h, data: b})
	}
}

func TestBuildIsReproducible(t *testing.T) {
	dir := writeModule(t, helloMain)
	opts := Options{Dir: dir, Package: "./cmd/hello", Ports: []int{8080},
		Annotations: map[string]string{AnnotationSource: "https://example.com/hello"}}
	// Separate caches: the second build links a fresh binary rather than
	// finding the first one's.
	a := build(t, opts)
	b := build(t, opts)

	// The same sources in another folder: nothing of the build machine's
	// paths may reach the image.
	other := writeModule(t, helloMain)
	opts.Dir = other
	c := build(t, opts)

	for _, x := range []*Image{b, c} {
		if x.Digest != a.Digest {
			t.Fatalf("digests differ: %s vs %s", a.Digest, x.Digest)
		}
		for _, get := range []func(v1.Image) ([]byte, error){
			v1.Image.RawManifest, v1.Image.RawConfigFile,
		} {
			ba, _ := get(single(t, a))
			bx, _ := get(single(t, x))
			if !bytes.Equal(ba, bx) {
				t.Fatalf("manifest or config differ:\n%s\n%s", ba, bx)
			}
		}
		if !bytes.Equal(compressedLayer(t, single(t, a)), compressedLayer(t, single(t, x))) {
			t.Fatal("compressed layers differ")
		}
	}

	// And a change in the source changes the digest.
	changed := writeModule(t, strings.Replace(helloMain, "hello", "hallo", 1))
	opts.Dir = changed
	if d := build(t, opts).Digest; d == a.Digest {
		t.Fatalf("a source change kept the digest %s", d)
	}
}

func TestImageConfig(t *testing.T) {
	dir := writeModule(t, helloMain)
	img := single(t, build(t, Options{Dir: dir, Package: "./cmd/hello", Name: "greeter", Ports: []int{9090, 8080}}))

	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != "amd64" || cf.Variant != "" {
		t.Errorf("platform %s/%s/%s, want linux/amd64", cf.OS, cf.Architecture, cf.Variant)
	}
	if !cf.Created.Equal(Epoch) {
		t.Errorf("created %v, want the epoch", cf.Created)
	}
	c := cf.Config
	if c.User != "65532:65532" {
		t.Errorf("user %q, want 65532:65532", c.User)
	}
	if want := []string{"/app/greeter"}; !reflect.DeepEqual(c.Entrypoint, want) {
		t.Errorf("entrypoint %q, want %q", c.Entrypoint, want)
	}
	if len(c.Cmd) != 0 {
		t.Errorf("cmd %q, want none", c.Cmd)
	}
	if c.WorkingDir != "/home/nonroot" {
		t.Errorf("working dir %q", c.WorkingDir)
	}
	wantEnv := []string{"PATH=" + PathEnv, "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"}
	if !reflect.DeepEqual(c.Env, wantEnv) {
		t.Errorf("env %q, want %q", c.Env, wantEnv)
	}
	wantPorts := map[string]struct{}{"8080/tcp": {}, "9090/tcp": {}}
	if !reflect.DeepEqual(c.ExposedPorts, wantPorts) {
		t.Errorf("exposed ports %v, want %v", c.ExposedPorts, wantPorts)
	}

	// OCI media types throughout.
	mt, _ := img.MediaType()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if mt != types.OCIManifestSchema1 || m.Config.MediaType != types.OCIConfigJSON ||
		len(m.Layers) != 1 || m.Layers[0].MediaType != types.OCILayer {
		t.Errorf("media types: manifest %s, config %s, layers %v", mt, m.Config.MediaType, m.Layers)
	}

	// No ports asked: none declared.
	img2 := single(t, build(t, Options{Dir: dir, Package: "./cmd/hello"}))
	cf2, _ := img2.ConfigFile()
	if len(cf2.Config.ExposedPorts) != 0 || cf2.Config.Entrypoint[0] != "/app/hello" {
		t.Errorf("without ports: %v, entrypoint %q", cf2.Config.ExposedPorts, cf2.Config.Entrypoint)
	}
}

func TestLayerFiles(t *testing.T) {
	dir := writeModule(t, helloMain)
	img := single(t, build(t, Options{Dir: dir, Package: "./cmd/hello"}))
	files := layerFiles(t, img)

	var names []string
	byName := map[string]tarFile{}
	for _, f := range files {
		names = append(names, f.hdr.Name)
		byName[f.hdr.Name] = f
		if !f.hdr.ModTime.Equal(Epoch) {
			t.Errorf("%s: mtime %v, want the epoch", f.hdr.Name, f.hdr.ModTime)
		}
	}
	want := []string{
		"app/", "app/hello",
		"etc/", "etc/group", "etc/passwd", "etc/ssl/", "etc/ssl/certs/", "etc/ssl/certs/ca-certificates.crt",
		"home/", "home/nonroot/", "tmp/",
	}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("layer holds\n  %q\nwant\n  %q", names, want)
	}

	// The binary: a static linux/amd64 executable, root-owned, not writable
	// by the app.
	bin := byName["app/hello"]
	if bin.hdr.Mode != 0o755 || bin.hdr.Uid != 0 {
		t.Errorf("binary mode %o uid %d", bin.hdr.Mode, bin.hdr.Uid)
	}
	ef, err := elf.NewFile(bytes.NewReader(bin.data))
	if err != nil {
		t.Fatalf("binary is not ELF: %v", err)
	}
	if ef.Machine != elf.EM_X86_64 {
		t.Errorf("binary machine %v", ef.Machine)
	}
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("binary is dynamically linked (has an interpreter)")
		}
	}

	// The CA bundle: the pinned module's roots, parseable.
	ca := byName["etc/ssl/certs/ca-certificates.crt"].data
	if !bytes.Equal(ca, CABundle()) {
		t.Error("CA bundle in the layer differs from CABundle()")
	}
	n := 0
	for rest := ca; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if _, err := x509.ParseCertificate(blk.Bytes); err != nil {
			t.Fatalf("CA bundle: %v", err)
		}
		n++
	}
	if n < 100 {
		t.Errorf("CA bundle holds %d certificates, want the >100 Mozilla roots", n)
	}

	if !strings.Contains(string(byName["etc/passwd"].data), "nonroot:x:65532:65532:") ||
		!strings.Contains(string(byName["etc/group"].data), "nonroot:x:65532:") {
		t.Error("passwd/group lack the nonroot user 65532")
	}
	if h := byName["home/nonroot/"].hdr; h.Uid != UID || h.Gid != GID {
		t.Errorf("home/nonroot owned by %d:%d", h.Uid, h.Gid)
	}
	if h := byName["tmp/"].hdr; h.Mode != 0o1777 {
		t.Errorf("tmp mode %o, want 1777", h.Mode)
	}
}

func TestMultiPlatformIndex(t *testing.T) {
	dir := writeModule(t, helloMain)
	anns := map[string]string{AnnotationRevision: "0123abc"}
	img := build(t, Options{Dir: dir, Package: "./cmd/hello",
		Platforms: []string{"linux/amd64", "linux/arm64"}, Annotations: anns})
	idx, ok := img.Artifact.(v1.ImageIndex)
	if !ok {
		t.Fatalf("two platforms gave %T, want an index", img.Artifact)
	}
	if d, _ := idx.Digest(); d != img.Digest {
		t.Errorf("Digest %s is not the index's %s", img.Digest, d)
	}
	mt, _ := idx.MediaType()
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if mt != types.OCIImageIndex || im.Annotations[AnnotationRevision] != "0123abc" {
		t.Errorf("index media type %s, annotations %v", mt, im.Annotations)
	}
	if len(im.Manifests) != 2 {
		t.Fatalf("index has %d manifests", len(im.Manifests))
	}
	machines := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}
	for _, d := range im.Manifests {
		if d.MediaType != types.OCIManifestSchema1 || d.Platform == nil {
			t.Fatalf("manifest %v", d)
		}
		sub, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, _ := sub.ConfigFile()
		if cf.Architecture != d.Platform.Architecture || cf.OS != "linux" {
			t.Errorf("descriptor says %s, config says %s/%s", d.Platform, cf.OS, cf.Architecture)
		}
		for _, f := range layerFiles(t, sub) {
			if f.hdr.Name != "app/hello" {
				continue
			}
			ef, err := elf.NewFile(bytes.NewReader(f.data))
			if err != nil || ef.Machine != machines[d.Platform.Architecture] {
				t.Errorf("%s binary: machine %v, %v", d.Platform, ef.Machine, err)
			}
		}
	}

	// One arm64 platform alone: an image, not an index.
	arm := build(t, Options{Dir: dir, Package: "./cmd/hello", Platforms: []string{"linux/arm64"}})
	cf, _ := single(t, arm).ConfigFile()
	if cf.Architecture != "arm64" {
		t.Errorf("arm64 image config says %s", cf.Architecture)
	}
}

func TestBuildErrorCarriesCompilerMessage(t *testing.T) {
	dir := writeModule(t, "package main\n\nfunc main() { undefinedThing() }\n")
	_, err := Build(context.Background(), Options{Dir: dir, Package: "./cmd/hello", CacheDir: t.TempDir()})
	var be *BuildError
	if !errors.As(err, &be) {
		t.Fatalf("error %v (%T), want a *BuildError", err, err)
	}
	if !strings.Contains(err.Error(), "undefined: undefinedThing") || !strings.Contains(err.Error(), "main.go:3") {
		t.Errorf("error lacks the compiler's message and position:\n%v", err)
	}
}

func TestParsePlatform(t *testing.T) {
	for _, s := range []string{"linux/amd64", "linux/arm64", "linux/arm/v7"} {
		if _, err := ParsePlatform(s); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	for _, s := range []string{"", "linux", "windows/amd64", "linux/arm/v9", "linux/amd64/v2/x"} {
		if _, err := ParsePlatform(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
	if _, err := Build(context.Background(), Options{Package: "./x", Platforms: []string{"linux/amd64", "linux/amd64"}}); err == nil {
		t.Error("a platform listed twice was accepted")
	}
}
