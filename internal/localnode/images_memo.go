package localnode

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// A large image is built only when what it is made of changed: packing and
// compressing MinIO, PostgreSQL with its libraries, Traefik and CoreDNS
// (some hundred MB) took over a minute of every make up on two cores, and
// as long again for every new cluster (make test's starts empty), for the
// same digests. The memo keeps each built image as an OCI layout in the
// user's cache, under the fingerprint of its inputs (lab5-node itself
// among them: its recipes are inputs too); an image whose inputs changed
// is built again and replaces the old layout. Pushing a kept image to a
// registry copies its compressed blobs; nothing is recompressed.
type imageMemo struct {
	dir  string // <user cache>/lab5-images: one folder per image name
	self string // fingerprint of the running lab5-node
}

// newImageMemo keeps its layouts under dir.
func newImageMemo(dir string) (*imageMemo, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	self, err := fileDigest(exe)
	if err != nil {
		return nil, err
	}
	return &imageMemo{dir: dir, self: self}, nil
}

// imageCacheDir is the memo's folder in the user's cache.
func imageCacheDir() string {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	return filepath.Join(base, "lab5-images")
}

// image returns image name built from inputs: the kept one, else build's,
// kept for next time (a layout that cannot be written only costs the next
// run a build).
func (m *imageMemo) image(imageName string, inputs []string, build func() (v1.Image, error)) (v1.Image, error) {
	fp := fingerprint(append([]string{m.self, imageName}, inputs...)...)[:32]
	dir := filepath.Join(m.dir, imageName, fp)
	if img, err := layoutImage(dir); err == nil {
		return img, nil
	}
	img, err := build()
	if err != nil {
		return nil, err
	}
	if err := m.keep(imageName, fp, img); err != nil {
		return nil, fmt.Errorf("image %s: keeping it in %s: %w", imageName, m.dir, err)
	}
	return layoutImage(dir)
}

// keep writes img as the layout of fingerprint fp, then removes the
// layouts of older inputs.
func (m *imageMemo) keep(imageName, fp string, img v1.Image) error {
	parent := filepath.Join(m.dir, imageName)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, ".new-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	p, err := layout.Write(tmp, empty.Index)
	if err != nil {
		return err
	}
	if err := p.AppendImage(img); err != nil {
		return err
	}
	olds, _ := os.ReadDir(parent)
	// A damaged layout of the same inputs is replaced.
	if err := os.RemoveAll(filepath.Join(parent, fp)); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(parent, fp)); err != nil {
		return err
	}
	for _, e := range olds {
		if e.Name() != fp && !strings.HasPrefix(e.Name(), ".") {
			_ = os.RemoveAll(filepath.Join(parent, e.Name()))
		}
	}
	return nil
}

// layoutImage is the one image of the OCI layout at dir.
func layoutImage(dir string) (v1.Image, error) {
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	if len(im.Manifests) != 1 {
		return nil, fmt.Errorf("layout %s has %d images, want 1", dir, len(im.Manifests))
	}
	return idx.Image(im.Manifests[0].Digest)
}

// fingerprint hashes the parts, each length-prefixed so that no two lists
// of parts give the same bytes.
func fingerprint(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s\n", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// fileDigest is the sha256 of a file's content.
func fileDigest(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// treeDigest fingerprints the regular files under dir (names and content),
// in name order.
func treeDigest(dir string) (string, error) {
	var parts []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		sum, err := fileDigest(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		parts = append(parts, filepath.ToSlash(rel), sum)
		return nil
	})
	if err != nil {
		return "", err
	}
	return fingerprint(parts...), nil
}

// aptListsStamp changes whenever apt's package lists do (apt-get update):
// the newest modification time among them, or "" when there are none.
func aptListsStamp(dir string) string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return ""
	}
	newest := ""
	for _, e := range entries {
		if info, err := e.Info(); err == nil && !e.IsDir() {
			if t := info.ModTime().UTC().Format("20060102T150405.000000000"); t > newest {
				newest = t
			}
		}
	}
	return newest
}

// resolvedDebs memoizes debClosure + candidates in the .deb cache, keyed by
// the packages asked for and apt's lists: asking apt-cache takes seconds
// each time, and the answer only changes with an apt-get update.
func resolvedDebs(ctx context.Context, cache string, pkgs []string) (all []string, vers map[string]string, err error) {
	stamp := aptListsStamp("/var/lib/apt/lists")
	memo := filepath.Join(cache, "resolved-"+fingerprint(pkgs...)[:16]+".json")
	type resolved struct {
		Stamp    string            `json:"stamp"`
		Packages []string          `json:"packages"`
		Versions map[string]string `json:"versions"`
	}
	var r resolved
	if b, err := os.ReadFile(memo); err == nil && json.Unmarshal(b, &r) == nil && stamp != "" && r.Stamp == stamp {
		return r.Packages, r.Versions, nil
	}
	if all, err = debClosure(ctx, pkgs); err != nil {
		return nil, nil, err
	}
	if vers, err = candidates(ctx, all); err != nil {
		return nil, nil, err
	}
	b, err := json.Marshal(resolved{Stamp: stamp, Packages: all, Versions: vers})
	if err != nil {
		return nil, nil, err
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(memo, b, 0o644); err != nil && !errors.Is(err, fs.ErrPermission) {
		return nil, nil, err
	}
	return all, vers, nil
}

// debVersions is the "name=version" list of pkgs and their libraries, as
// the images record it.
func debVersions(ctx context.Context, cache string, pkgs []string) (string, error) {
	all, vers, err := resolvedDebs(ctx, cache, pkgs)
	if err != nil {
		return "", err
	}
	out := make([]string, 0, len(all))
	for _, p := range all {
		out = append(out, p+"="+vers[p])
	}
	return strings.Join(out, " "), nil
}
