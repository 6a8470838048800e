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

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lab5/k8s-networking/internal/goimage"
)

// A stack image is rebuilt only when what it is made of changed: packing
// and compressing MinIO, PostgreSQL with its libraries and Traefik (some
// hundred MB) took over a minute of every make up on two cores, for the
// same digests. The memo, a file in the state folder beside the registry's
// data, keeps for each image the fingerprint of its inputs and the
// reference pushed; an image whose fingerprint changed, or whose reference
// the registry no longer has, is built again.
type imageMemo struct {
	path   string
	self   string // fingerprint of the running lab5-node: its recipes are inputs too
	Images map[string]memoEntry
}

type memoEntry struct {
	Fingerprint string `json:"fingerprint"`
	Ref         string `json:"ref"`
}

// loadImageMemo reads the memo at path; a missing or unreadable one is
// empty (everything is built).
func loadImageMemo(path string) (*imageMemo, error) {
	m := &imageMemo{path: path, Images: map[string]memoEntry{}}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	if m.self, err = fileDigest(exe); err != nil {
		return nil, err
	}
	if b, err := os.ReadFile(path); err == nil {
		_ = json.Unmarshal(b, &m.Images) // a damaged memo only costs a rebuild
	}
	if m.Images == nil {
		m.Images = map[string]memoEntry{}
	}
	return m, nil
}

// image returns the reference of image name built from inputs: the one
// remembered when the registry still has it, else build's image, pushed.
func (m *imageMemo) image(ctx context.Context, imageName string, inputs []string,
	build func() (v1.Image, error), push func(string, v1.Image) (string, error)) (string, error) {
	fp := fingerprint(append([]string{m.self, imageName}, inputs...)...)
	if e, ok := m.Images[imageName]; ok && e.Fingerprint == fp {
		if d, err := name.NewDigest(e.Ref); err == nil {
			if found, err := goimage.Exists(ctx, d, goimage.Auth{}); err == nil && found {
				return e.Ref, nil
			}
		}
	}
	img, err := build()
	if err != nil {
		return "", err
	}
	ref, err := push(imageName, img)
	if err != nil {
		return "", err
	}
	m.Images[imageName] = memoEntry{Fingerprint: fp, Ref: ref}
	return ref, m.save()
}

func (m *imageMemo) save() error {
	b, err := json.MarshalIndent(m.Images, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(m.path), 0o755); err != nil {
		return err
	}
	tmp := m.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, m.path)
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
