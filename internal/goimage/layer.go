package goimage

import (
	"archive/tar"
	"bytes"
	"encoding/pem"
	"fmt"
	"io"
	"path"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// passwd and group: root, nonroot and nobody, as in distroless, so that
// tools that resolve the user (and Go's os/user) find a name and a home.
const (
	passwdFile = "root:x:0:0:root:/root:/sbin/nologin\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n" +
		"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
	groupFile = "root:x:0:\n" +
		"nobody:x:65534:\n" +
		"nonroot:x:65532:\n"
)

// caBundle returns the PEM bundle of the Mozilla (NSS) roots that
// golang.org/x/crypto/x509roots/fallback pins. Taking them from a pinned Go
// module rather than the build machine's /etc/ssl keeps the image the same
// on every machine; updating the module is how the bundle is updated.
// Roots with a distrust-after constraint are left out: a PEM file cannot
// express the constraint, and trusting them without it would be wrong.
var caBundle = sync.OnceValue(func() []byte {
	var b bytes.Buffer
	for r := range bundle.Roots() {
		if r.Constraint != nil {
			continue
		}
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: r.Certificate})
	}
	return b.Bytes()
})

// CABundle is the CA bundle every image carries at CABundlePath.
func CABundle() []byte { return caBundle() }

// layerEntry is one tar entry of the app layer.
type layerEntry struct {
	name     string // without a leading slash
	mode     int64
	uid, gid int
	dir      bool
	data     []byte
}

// layerEntries lists the app layer's contents, parents before children,
// in the order they are written.
func layerEntries(name string, bin []byte) []layerEntry {
	return []layerEntry{
		{name: "app", mode: 0o755, dir: true},
		{name: path.Join("app", name), mode: 0o755, data: bin},
		{name: "etc", mode: 0o755, dir: true},
		{name: "etc/group", mode: 0o644, data: []byte(groupFile)},
		{name: "etc/passwd", mode: 0o644, data: []byte(passwdFile)},
		{name: "etc/ssl", mode: 0o755, dir: true},
		{name: "etc/ssl/certs", mode: 0o755, dir: true},
		{name: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, data: CABundle()},
		{name: "home", mode: 0o755, dir: true},
		{name: "home/nonroot", mode: 0o700, uid: UID, gid: GID, dir: true},
		// Go's os.TempDir; a read-only root file system mounts a volume here.
		{name: "tmp", mode: 0o1777, dir: true},
	}
}

// appLayer writes the layer as a tar with fixed owners, modes and times,
// and gzips it (OCI media type). The same binary gives the same bytes.
func appLayer(name string, bin []byte) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range layerEntries(name, bin) {
		h := &tar.Header{
			Name:    e.name,
			Mode:    e.mode,
			Uid:     e.uid,
			Gid:     e.gid,
			ModTime: Epoch,
			Format:  tar.FormatPAX,
		}
		if e.dir {
			h.Typeflag = tar.TypeDir
			h.Name += "/"
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(e.data))
		}
		// Owner names: root for everything but nonroot's home.
		if e.uid == UID {
			h.Uname, h.Gname = "nonroot", "nonroot"
		} else {
			h.Uname, h.Gname = "root", "root"
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("layer: %w", err)
		}
		if !e.dir {
			if _, err := tw.Write(e.data); err != nil {
				return nil, fmt.Errorf("layer: %w", err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	raw := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(raw)), nil
	}, tarball.WithMediaType(types.OCILayer), tarball.WithCompressedCaching)
}
