package localnode

import (
	"archive/tar"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The stack images' layers depend only on the files: the same folder,
// written at another time, gives the same digest, every time is the epoch,
// and only the folders given an owner (PostgreSQL's data, MinIO's home)
// belong to a non-root uid.
func TestDirLayerIsReproducibleAndOwned(t *testing.T) {
	mk := func() string {
		dir := t.TempDir()
		if err := writeFiles(dir, map[string]string{"etc/passwd": "root:x:0:0::/:/x\n", "data/db/x": "1"}); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("passwd", filepath.Join(dir, "etc/link")); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	a := mk()
	time.Sleep(1100 * time.Millisecond) // other mtimes
	b := mk()
	la, err := dirLayer(a, map[string]int{"data": 1001})
	if err != nil {
		t.Fatal(err)
	}
	lb, err := dirLayer(b, map[string]int{"data": 1001})
	if err != nil {
		t.Fatal(err)
	}
	da, _ := la.Digest()
	db, _ := lb.Digest()
	if da != db {
		t.Fatalf("same files, different layers: %s vs %s", da, db)
	}
	rc, err := la.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	seen := map[string]*tar.Header{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		seen[h.Name] = h
		if !h.ModTime.Equal(time.Unix(0, 0)) {
			t.Errorf("%s: mtime %v", h.Name, h.ModTime)
		}
	}
	for name, uid := range map[string]int{"data/": 1001, "data/db/x": 1001, "etc/passwd": 0, "etc/": 0} {
		if h := seen[name]; h == nil || h.Uid != uid || h.Gid != uid {
			t.Errorf("%s: %+v, want uid/gid %d", name, h, uid)
		}
	}
	if h := seen["etc/link"]; h == nil || h.Typeflag != tar.TypeSymlink || h.Linkname != "passwd" {
		t.Errorf("symlink not kept: %+v", h)
	}
}

// zlib1g is the one library package whose name does not start with lib;
// without it nginx and postgres do not start.
func TestLibraryPackages(t *testing.T) {
	for p, want := range map[string]bool{"libssl3": true, "zlib1g": true, "perl": false, "debconf": false, "postgresql-common": false} {
		if isLibrary(p) != want {
			t.Errorf("isLibrary(%q) = %v", p, !want)
		}
	}
}
