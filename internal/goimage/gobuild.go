package goimage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// goBuild builds the main package for one platform and returns the binary. The binary lives in a cache folder keyed by directory, package and
// platform: when nothing changed, `go build` finds it up to date through its
// build ID and does not link again, which keeps a preview cheap.
//
// Flags, and why:
//   - CGO_ENABLED=0: a static binary, the image has no libc.
//   - -trimpath, -buildvcs=false: no machine paths and no VCS stamp in the
//     binary, so the same sources give the same bytes on every machine
//     (the build ID that stays in the binary is a hash of the inputs).
//   - -ldflags "-s -w": no symbol table or DWARF, a smaller image.
//   - -tags timetzdata: the time zone database inside the binary (the
//     image has no /usr/share/zoneinfo).
func goBuild(ctx context.Context, o Options, p v1.Platform) ([]byte, error) {
	dir := o.Dir
	if dir == "" {
		dir = "."
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	key := sha256.Sum256([]byte(absDir + "\x00" + o.Package + "\x00" + p.String()))
	outDir := filepath.Join(o.CacheDir, "bin", hex.EncodeToString(key[:8]))
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("goimage cache: %w", err)
	}
	out := filepath.Join(outDir, o.Name)
	// Two builds of the same package at once (a provider checks and diffs
	// in parallel) must not write one output file together.
	unlock, err := lockDir(outDir)
	if err != nil {
		return nil, err
	}
	defer unlock()

	cmd := exec.CommandContext(ctx, "go", "build",
		"-trimpath", "-buildvcs=false",
		"-tags", "timetzdata",
		"-ldflags", "-s -w",
		"-o", out, o.Package)
	cmd.Dir = absDir
	cmd.Env = buildEnv(os.Environ(), p)
	var output bytes.Buffer
	cmd.Stdout = &output
	cmd.Stderr = &output
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			return nil, &BuildError{Package: o.Package, Platform: p.String(), Output: output.String()}
		}
		return nil, fmt.Errorf("running go build: %w", err)
	}
	bin, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("reading the built binary: %w", err)
	}
	return bin, nil
}

// buildEnv is the caller's environment (GOPATH, GOCACHE, GOPROXY, GOFLAGS
// such as -mod=mod stay) with the target platform and cgo forced.
func buildEnv(env []string, p v1.Platform) []string {
	drop := map[string]bool{"GOOS": true, "GOARCH": true, "GOARM": true, "GOAMD64": true, "GOARM64": true, "CGO_ENABLED": true}
	out := make([]string, 0, len(env)+5)
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if !drop[k] {
			out = append(out, kv)
		}
	}
	out = append(out, "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Architecture)
	if p.Architecture == "arm" && p.Variant != "" {
		out = append(out, "GOARM="+strings.TrimPrefix(p.Variant, "v"))
	}
	// GOAMD64/GOARM64 keep their defaults (v1, v8.0): the image must run on
	// every machine of its platform, not only on one like the builder.
	return out
}

// lockDir takes an exclusive lock on dir/.lock until the returned func runs.
func lockDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("goimage cache: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("goimage cache lock: %w", err)
	}
	return func() { f.Close() }, nil
}
