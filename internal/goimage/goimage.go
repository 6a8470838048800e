// Package goimage builds OCI images of Go main packages without a container
// engine, the way ko does: a static build of the package per platform, laid
// with a CA bundle and a passwd file on an empty base, running as the
// distroless "nonroot" user. The result depends only on the sources, the Go
// toolchain and the options: two builds on any machine give the same digest.
package goimage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Fixed facts of every image this package builds.
const (
	// UID and GID of the distroless "nonroot" user the app runs as.
	UID = 65532
	GID = 65532
	// User is the image config's User.
	User = "65532:65532"
	// AppDir holds the binary: /app/<name>.
	AppDir = "/app"
	// WorkingDir is nonroot's home, as in distroless.
	WorkingDir = "/home/nonroot"
	// CABundlePath is where Go's crypto/x509 (and OpenSSL) look first.
	CABundlePath = "/etc/ssl/certs/ca-certificates.crt"
	// DefaultPlatform is built when Options.Platforms is empty.
	DefaultPlatform = "linux/amd64"
	// PathEnv is the PATH of the image, as in distroless.
	PathEnv = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

// Annotation keys of the OCI image spec that callers usually set.
const (
	AnnotationSource   = "org.opencontainers.image.source"
	AnnotationRevision = "org.opencontainers.image.revision"
	AnnotationTitle    = "org.opencontainers.image.title"
)

// Epoch is every timestamp in the image (files, config, history): a build
// date would make each build's digest different.
var Epoch = time.Unix(0, 0).UTC()

// EmptyOCI is the empty base image with OCI media types.
func EmptyOCI() v1.Image {
	return mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
}

// AppendLayer is the one step every reproducible image here ends with: layer
// on base (EmptyOCI for a new image), its history entry and the config
// created at the Epoch, for platform p, with config c and no author.
func AppendLayer(base v1.Image, layer v1.Layer, history v1.History, p v1.Platform, c v1.Config) (v1.Image, error) {
	history.Created = v1.Time{Time: Epoch}
	img, err := mutate.Append(base, mutate.Addendum{Layer: layer, History: history})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	cf.Created = v1.Time{Time: Epoch}
	cf.Author = ""
	cf.Config = c
	return mutate.ConfigFile(img, cf)
}

// Options describe one image.
type Options struct {
	// Dir is the directory `go build` runs in (the main module, or a
	// directory inside it). Empty: the current directory.
	Dir string
	// Package is the main package, as `go build` takes it: "./apps/x" or an
	// import path.
	Package string
	// Name is the binary's name in the image (/app/<Name>); default: the
	// last element of Package.
	Name string
	// Platforms are os/arch[/variant] strings; default linux/amd64. One
	// platform gives an image, several an image index.
	Platforms []string
	// Ports are the TCP ports the image config declares (ExposedPorts).
	Ports []int
	// Annotations go on the manifest (and on the index, when there is one).
	Annotations map[string]string
	// CacheDir keeps the built binaries between builds, so that an
	// unchanged package is not linked again. Default: the user's cache
	// directory.
	CacheDir string
}

// Image is a built image or index, ready to push.
type Image struct {
	// Digest is the digest of the manifest (one platform) or of the index.
	Digest v1.Hash
	// Artifact is a v1.Image or a v1.ImageIndex.
	Artifact partial.WithRawManifest
	// Platforms are the platforms built, in order.
	Platforms []v1.Platform
}

// BuildError is a `go build` that failed; its message is the compiler's.
type BuildError struct {
	Package  string
	Platform string
	Output   string
}

func (e *BuildError) Error() string {
	return fmt.Sprintf("go build %s for %s failed:\n%s", e.Package, e.Platform, strings.TrimSpace(e.Output))
}

// ParsePlatform parses os/arch[/variant]. Only linux is accepted: the
// image has no Windows base.
func ParsePlatform(s string) (v1.Platform, error) {
	parts := strings.Split(strings.TrimSpace(s), "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return v1.Platform{}, fmt.Errorf("platform %q: want os/arch[/variant], e.g. linux/amd64", s)
	}
	p := v1.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	if p.OS != "linux" {
		return v1.Platform{}, fmt.Errorf("platform %q: only linux images can be built (the base is empty, not Windows)", s)
	}
	if p.Architecture == "arm" && p.Variant != "" && p.Variant != "v5" && p.Variant != "v6" && p.Variant != "v7" {
		return v1.Platform{}, fmt.Errorf("platform %q: arm variants are v5, v6 or v7", s)
	}
	return p, nil
}

// Build builds the image: one `go build` per platform, then the manifests.
func Build(ctx context.Context, o Options) (*Image, error) {
	if o.Package == "" {
		return nil, errors.New("goimage: no main package given")
	}
	if o.Name == "" {
		o.Name = path.Base(filepath.ToSlash(strings.TrimSuffix(o.Package, "/")))
	}
	if o.Name == "." || o.Name == "/" || strings.ContainsAny(o.Name, "/\\") {
		return nil, fmt.Errorf("goimage: cannot name a binary after package %q; set Name", o.Package)
	}
	if len(o.Platforms) == 0 {
		o.Platforms = []string{DefaultPlatform}
	}
	platforms := make([]v1.Platform, 0, len(o.Platforms))
	seen := map[string]bool{}
	for _, s := range o.Platforms {
		p, err := ParsePlatform(s)
		if err != nil {
			return nil, err
		}
		if seen[p.String()] {
			return nil, fmt.Errorf("platform %s listed twice", p.String())
		}
		seen[p.String()] = true
		platforms = append(platforms, p)
	}
	for _, port := range o.Ports {
		if port < 1 || port > 65535 {
			return nil, fmt.Errorf("port %d out of range 1-65535", port)
		}
	}
	if o.CacheDir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir()
		}
		o.CacheDir = filepath.Join(base, "lab5-goimage")
	}

	images := make([]v1.Image, 0, len(platforms))
	for _, p := range platforms {
		bin, err := goBuild(ctx, o, p)
		if err != nil {
			return nil, err
		}
		img, err := imageFor(o, p, bin)
		if err != nil {
			return nil, err
		}
		images = append(images, img)
	}

	out := &Image{Platforms: platforms}
	if len(images) == 1 {
		img := images[0]
		if len(o.Annotations) > 0 {
			img = mutate.Annotations(img, o.Annotations).(v1.Image)
		}
		out.Artifact = img
	} else {
		adds := make([]mutate.IndexAddendum, len(images))
		for i, img := range images {
			p := platforms[i]
			adds[i] = mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}}
		}
		idx := mutate.IndexMediaType(mutate.AppendManifests(empty.Index, adds...), types.OCIImageIndex)
		if len(o.Annotations) > 0 {
			idx = mutate.Annotations(idx, o.Annotations).(v1.ImageIndex)
		}
		out.Artifact = idx
	}
	d, err := digestOf(out.Artifact)
	if err != nil {
		return nil, err
	}
	out.Digest = d
	return out, nil
}

func digestOf(a partial.WithRawManifest) (v1.Hash, error) {
	switch t := a.(type) {
	case v1.Image:
		return t.Digest()
	case v1.ImageIndex:
		return t.Digest()
	}
	return v1.Hash{}, fmt.Errorf("unexpected artifact %T", a)
}

// imageFor lays the binary and the fixed files on an empty base and writes
// the config.
func imageFor(o Options, p v1.Platform, bin []byte) (v1.Image, error) {
	layer, err := appLayer(o.Name, bin)
	if err != nil {
		return nil, err
	}
	config := v1.Config{
		Entrypoint: []string{path.Join(AppDir, o.Name)},
		User:       User,
		WorkingDir: WorkingDir,
		Env:        []string{"PATH=" + PathEnv, "SSL_CERT_FILE=" + CABundlePath},
	}
	if len(o.Ports) > 0 {
		config.ExposedPorts = map[string]struct{}{}
		for _, port := range o.Ports {
			config.ExposedPorts[fmt.Sprintf("%d/tcp", port)] = struct{}{}
		}
	}
	return AppendLayer(EmptyOCI(), layer, v1.History{
		Author:    "goimage",
		CreatedBy: "go build " + o.Package,
		Comment:   "static Go binary, CA bundle, passwd",
	}, p, config)
}
