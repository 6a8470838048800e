package localnode

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/lab5/k8s-networking/internal/goimage"
)

// StackImages are the images the local stack (Pulumi.local.yaml) runs in
// place of the lab's third-party images, which cannot be pulled here. Each
// is built from real software under its own name in the local registry
// (<Registry>/lab5-local/<name>), never under an upstream's name.
type StackImages struct {
	MinIO      string // the MinIO server make tools builds (.tools/bin/minio)
	Echoserver string // test/images/echoserver: answers like ealen/echo-server
	Nginx      string // Debian's nginx package
	Postgres   string // Debian's postgresql-15 package, started by test/images/pgstart
	Traefik    string // Traefik built from tools/traefik (goimage), when WithTraefik
}

// StackRepo is where the stack images are pushed, under the registry.
const StackRepo = "lab5-local"

// BuildStackImages builds and pushes the stack images. root is the
// repository; debCache keeps the downloaded .deb files between runs.
// Downloading needs the host's network (apt), pushing the namespace's
// registry: run it where both are reachable (cluster.sh exec, after a
// first run filled the cache) or with the registry forwarded.
func (n *Node) BuildStackImages(ctx context.Context, root, debCache string, withTraefik bool) (StackImages, error) {
	var out StackImages
	push := func(name string, img v1.Image) (string, error) { return n.push(ctx, StackRepo+"/"+name, img) }

	memo, err := newImageMemo(n.ImageCache)
	if err != nil {
		return out, err
	}
	// pushMemo pushes the memo's image name built from inputs.
	pushMemo := func(name string, inputs []string, build func() (v1.Image, error)) (string, error) {
		img, err := memo.image(name, inputs, build)
		if err != nil {
			return "", err
		}
		return push(name, img)
	}

	// MinIO: the server binary the toolchain builds, as /usr/bin/minio.
	minioBin := filepath.Join(root, ".tools", "bin", "minio")
	minioSum, err := fileDigest(minioBin)
	if err != nil {
		return out, fmt.Errorf("minio image (run make tools): %w", err)
	}
	if out.MinIO, err = pushMemo("minio", []string{minioSum},
		func() (v1.Image, error) { return minioImage(minioBin) }); err != nil {
		return out, err
	}

	// Echoserver: a goimage build; it runs as root (uid 0) like
	// ealen/echo-server, because the lab lets it bind port 80 with only
	// NET_BIND_SERVICE, and a non-root process gets no capability through
	// exec when privilege escalation is off. Small: built every time.
	echo, err := goimage.Build(ctx, goimage.Options{Dir: root, Package: "./test/images/echoserver", Name: "echoserver", Ports: []int{80},
		Annotations: map[string]string{goimage.AnnotationTitle: StackRepo + "/echoserver"}})
	if err != nil {
		return out, err
	}
	echoImg, err := withConfig(echo.Artifact.(v1.Image), func(c *v1.Config) { c.User = "0:0" })
	if err != nil {
		return out, err
	}
	if out.Echoserver, err = push("echoserver", echoImg); err != nil {
		return out, err
	}

	nginxVersions, err := debVersions(ctx, debCache, nginxDebs)
	if err != nil {
		return out, err
	}
	if out.Nginx, err = pushMemo("nginx-debian", []string{nginxVersions},
		func() (v1.Image, error) { return nginxImage(ctx, debCache) }); err != nil {
		return out, err
	}

	// PostgreSQL's entrypoint, pgstart, is small and built every time; its
	// digest is one of the image's inputs.
	pgstart, err := goimage.Build(ctx, goimage.Options{Dir: root, Package: "./test/images/pgstart", Name: "pgstart"})
	if err != nil {
		return out, err
	}
	pgVersions, err := debVersions(ctx, debCache, postgresDebs)
	if err != nil {
		return out, err
	}
	if out.Postgres, err = pushMemo("postgresql15-debian", []string{pgVersions, pgstart.Digest.String()},
		func() (v1.Image, error) { return postgresImage(ctx, pgstart.Artifact.(v1.Image), debCache) }); err != nil {
		return out, err
	}

	if withTraefik {
		// Traefik's own main package, pinned by tools/traefik's go.mod
		// (~10 min cold build): goimage's non-root image, as the stack's
		// Traefik pod runs as 65532 anyway. Its inputs: that module (go.mod,
		// go.sum) and the Go toolchain.
		dir := filepath.Join(root, "tools", "traefik")
		module, err := treeDigest(dir)
		if err != nil {
			return out, err
		}
		build := func() (v1.Image, error) {
			tr, err := goimage.Build(ctx, goimage.Options{Dir: dir,
				Package: "github.com/traefik/traefik/v3/cmd/traefik", Name: "traefik", Ports: []int{8000, 8443},
				Annotations: map[string]string{goimage.AnnotationTitle: StackRepo + "/traefik"}})
			if err != nil {
				return nil, err
			}
			return tr.Artifact.(v1.Image), nil
		}
		if out.Traefik, err = pushMemo("traefik", []string{module, runtime.Version()}, build); err != nil {
			return out, err
		}
	}
	return out, nil
}

func withConfig(img v1.Image, f func(*v1.Config)) (v1.Image, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	f(&cf.Config)
	return mutate.ConfigFile(img, cf)
}

// minioImage lays the static MinIO binary with a passwd naming uid 1000
// (the stack's MinIO user) whose home is writable: MinIO creates
// $HOME/.minio at start.
func minioImage(bin string) (v1.Image, error) {
	dir, err := os.MkdirTemp("", "lab5-minio-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := copyFile(bin, filepath.Join(dir, "usr/bin/minio"), 0o755); err != nil {
		return nil, fmt.Errorf("minio image (run make tools): %w", err)
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/sbin/nologin\nminio:x:1000:1000:minio:/home/minio:/sbin/nologin\n",
		"etc/group":  "root:x:0:\nminio:x:1000:\n",
	}
	if err := writeFiles(dir, files); err != nil {
		return nil, err
	}
	for _, d := range []string{"home/minio", "data", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	layer, err := dirLayer(dir, map[string]int{"home/minio": 1000, "data": 1000})
	if err != nil {
		return nil, err
	}
	return imageOf(layer, "MinIO server built by make tools (tools/minio)", v1.Config{
		Entrypoint:   []string{"/usr/bin/minio"},
		Env:          []string{"PATH=/usr/bin:/bin"},
		ExposedPorts: map[string]struct{}{"9000/tcp": {}, "9001/tcp": {}},
	})
}

// nginxConf replaces Debian's configuration, which its maintainer scripts
// complete (sites-enabled/default, /var/www/html): this one serves
// nginx-common's own welcome page, logs to the container's output and
// stays in the foreground.
const nginxConf = `user www-data;
worker_processes 1;
pid /run/nginx.pid;
daemon off;
error_log /dev/stderr;
events { worker_connections 256; }
http {
	include /etc/nginx/mime.types;
	access_log /dev/stdout;
	server {
		listen 80 default_server;
		root /usr/share/nginx/html;
		index index.html;
		location / { try_files $uri $uri/ =404; }
	}
}
`

func nginxImage(ctx context.Context, cache string) (v1.Image, error) {
	dir, versions, err := debRoot(ctx, cache, nginxDebs)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	files := map[string]string{
		"etc/nginx/nginx.conf": nginxConf,
		"etc/passwd":           "root:x:0:0:root:/root:/sbin/nologin\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
		"etc/group":            "root:x:0:\nwww-data:x:33:\nnogroup:x:65534:\n",
	}
	if err := writeFiles(dir, files); err != nil {
		return nil, err
	}
	for _, d := range []string{"var/lib/nginx", "var/log/nginx", "run", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	layer, err := dirLayer(dir, nil)
	if err != nil {
		return nil, err
	}
	return imageOf(layer, "Debian packages "+versions, v1.Config{
		Entrypoint:   []string{"/usr/sbin/nginx"},
		Env:          []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"},
		ExposedPorts: map[string]struct{}{"80/tcp": {}},
		StopSignal:   "SIGQUIT",
	})
}

// postgresUID is the uid the lab's StatefulSet runs PostgreSQL as
// (bitnami's 1001); initdb and postgres refuse a uid without a passwd entry.
const postgresUID = 1001

func postgresImage(ctx context.Context, pgstart v1.Image, cache string) (v1.Image, error) {
	dir, versions, err := debRoot(ctx, cache, postgresDebs)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/sbin/nologin\npostgres:x:1001:0:postgres:/bitnami/postgresql:/sbin/nologin\n",
		"etc/group":  "root:x:0:\n",
	}
	if err := writeFiles(dir, files); err != nil {
		return nil, err
	}
	if _, err := os.Lstat(filepath.Join(dir, "bin/sh")); err != nil {
		if err := os.Symlink("dash", filepath.Join(dir, "bin/sh")); err != nil {
			return nil, err
		}
	}
	for _, d := range []string{"bitnami/postgresql", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	if err := os.Chmod(filepath.Join(dir, "tmp"), 0o1777); err != nil {
		return nil, err
	}
	layer, err := dirLayer(dir, map[string]int{"bitnami/postgresql": postgresUID})
	if err != nil {
		return nil, err
	}
	// The entrypoint, pgstart (a static Go program, goimage's build), is
	// the base: its layer goes under Debian's, so Debian's passwd wins.
	return imageOn(pgstart, layer, "Debian packages "+versions, v1.Config{
		Entrypoint:   []string{"/app/pgstart"},
		User:         fmt.Sprint(postgresUID),
		Env:          []string{"PATH=/usr/lib/postgresql/15/bin:/usr/bin:/bin", "TZ=UTC", "LANG=C"},
		ExposedPorts: map[string]struct{}{"5432/tcp": {}},
		StopSignal:   "SIGINT", // postgres' fast shutdown
	})
}

// The Debian packages of the stack images (their lib* dependencies are
// added by debClosure).
var (
	nginxDebs = []string{"nginx", "nginx-common"}
	// dash: initdb runs `postgres -V` through popen, i.e. /bin/sh.
	postgresDebs = []string{"postgresql-15", "tzdata", "dash"}
)

// FetchStackDebs downloads the stack images' Debian packages into cache
// (apt needs the host's network: run it outside the cluster's namespace;
// BuildStackImages then finds them there).
func FetchStackDebs(ctx context.Context, cache string) error {
	for _, pkgs := range [][]string{nginxDebs, postgresDebs} {
		if _, _, err := debFiles(ctx, cache, pkgs); err != nil {
			return err
		}
	}
	return nil
}

// debFiles finds in cache, or downloads there with apt-get download, the
// packages and the libraries they need (Depends and Pre-Depends,
// recursively, following only library packages: the maintainer scripts' tools
// are not needed by the daemons). It returns the .deb files and the
// package versions used.
func debFiles(ctx context.Context, cache string, pkgs []string) ([]string, string, error) {
	all, vers, err := resolvedDebs(ctx, cache, pkgs)
	if err != nil {
		return nil, "", err
	}
	// apt-get download names the file <name>_<version, ':' as %3a>_<arch>.deb.
	pattern := func(p string) string {
		return filepath.Join(cache, p+"_"+strings.ReplaceAll(vers[p], ":", "%3a")+"_*.deb")
	}
	var missing []string
	for _, p := range all {
		if matches, _ := filepath.Glob(pattern(p)); len(matches) == 0 {
			missing = append(missing, p+"="+vers[p])
		}
	}
	// One apt-get for all of them: apt takes seconds to start, and a first
	// run fetches some fifty packages.
	if len(missing) > 0 {
		if _, err := cmdOut(ctx, cache, "apt-get", append([]string{"download", "-q"}, missing...)...); err != nil {
			return nil, "", fmt.Errorf("apt-get download %s: %w", strings.Join(missing, " "), err)
		}
	}
	var debs, versions []string
	for _, p := range all {
		matches, _ := filepath.Glob(pattern(p))
		if len(matches) == 0 {
			return nil, "", fmt.Errorf("apt-get download %s=%s left no %s", p, vers[p], pattern(p))
		}
		debs = append(debs, matches[0])
		versions = append(versions, p+"="+vers[p])
	}
	return debs, strings.Join(versions, " "), nil
}

// debRoot unpacks the packages (dpkg-deb -x) into a new folder, without
// documentation, manuals and translations, and returns it and the
// package versions.
func debRoot(ctx context.Context, cache string, pkgs []string) (string, string, error) {
	debs, versions, err := debFiles(ctx, cache, pkgs)
	if err != nil {
		return "", "", err
	}
	dir, err := os.MkdirTemp("", "lab5-debroot-")
	if err != nil {
		return "", "", err
	}
	for _, deb := range debs {
		if _, err := cmdOut(ctx, "", "dpkg-deb", "-x", deb, dir); err != nil {
			os.RemoveAll(dir)
			return "", "", err
		}
	}
	for _, d := range []string{"usr/share/doc", "usr/share/man", "usr/share/locale", "usr/share/lintian"} {
		if err := os.RemoveAll(filepath.Join(dir, d)); err != nil {
			return "", "", err
		}
	}
	return dir, versions, nil
}

// candidates are the versions apt would install, asked in one call (apt
// takes a second or more to start).
func candidates(ctx context.Context, pkgs []string) (map[string]string, error) {
	out, err := cmdOut(ctx, "", "apt-cache", append([]string{"policy"}, pkgs...)...)
	if err != nil {
		return nil, err
	}
	vers := map[string]string{}
	cur := ""
	for _, l := range strings.Split(out, "\n") {
		if name, ok := strings.CutSuffix(l, ":"); ok && !strings.HasPrefix(l, " ") {
			cur = name
		} else if v, ok := strings.CutPrefix(strings.TrimSpace(l), "Candidate: "); ok && v != "(none)" && cur != "" {
			vers[cur] = v
		}
	}
	for _, p := range pkgs {
		if vers[p] == "" {
			return nil, fmt.Errorf("no installable version of %s (apt-get update?)", p)
		}
	}
	return vers, nil
}

// debClosure is pkgs plus the lib* packages they depend on, recursively,
// sorted (the layer's content does not depend on the order anyway).
func debClosure(ctx context.Context, pkgs []string) ([]string, error) {
	seen := map[string]bool{}
	queue := append([]string{}, pkgs...)
	for _, p := range pkgs {
		seen[p] = true
	}
	for len(queue) > 0 {
		args := append([]string{"depends", "--no-recommends", "--no-suggests", "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances"}, queue...)
		out, err := cmdOut(ctx, "", "apt-cache", args...)
		if err != nil {
			return nil, err
		}
		queue = nil
		alt := false
		sc := bufio.NewScanner(strings.NewReader(out))
		for sc.Scan() {
			l := sc.Text()
			t := strings.TrimSpace(l)
			kind, dep, ok := strings.Cut(strings.TrimPrefix(t, "|"), ": ")
			if !ok || (kind != "Depends" && kind != "PreDepends") {
				alt = false
				continue
			}
			// Of alternatives (a |-prefixed line and those after it) the
			// first is taken.
			first := !alt
			alt = strings.HasPrefix(t, "|")
			if !first || strings.HasPrefix(dep, "<") || !isLibrary(dep) || seen[dep] {
				continue
			}
			seen[dep] = true
			queue = append(queue, dep)
		}
	}
	all := make([]string, 0, len(seen))
	for p := range seen {
		all = append(all, p)
	}
	sort.Strings(all)
	return all, nil
}

func cmdOut(ctx context.Context, dir, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, data, mode)
}

func writeFiles(dir string, files map[string]string) error {
	for p, content := range files {
		f := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// dirLayer tars dir in name order with every time the epoch and root as
// owner (owners maps a folder to the uid=gid that owns it and what is in
// it), so the same files give the same layer.
func dirLayer(dir string, owners map[string]int) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		h, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		h.Name = rel
		if info.IsDir() {
			h.Name += "/"
		}
		h.ModTime, h.AccessTime, h.ChangeTime = epoch, time.Time{}, time.Time{}
		h.Uid, h.Gid, h.Uname, h.Gname = 0, 0, "", ""
		for o, uid := range owners {
			if rel == o || strings.HasPrefix(rel, o+"/") {
				h.Uid, h.Gid = uid, uid
			}
		}
		h.Format = tar.FormatPAX
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if info.Mode().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, f)
			f.Close()
			return err
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("layer of %s: %w", dir, err)
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
		tarball.WithMediaType(types.OCILayer), tarball.WithCompressedCaching)
}

// imageOf is one layer on an empty base with the given config.
func imageOf(layer v1.Layer, comment string, c v1.Config) (v1.Image, error) {
	return imageOn(goimage.EmptyOCI(), layer, comment, c)
}

// imageOn adds the layer to base and sets the config, linux/amd64 (Debian's
// amd64 packages), every time the epoch.
func imageOn(base v1.Image, layer v1.Layer, comment string, c v1.Config) (v1.Image, error) {
	return goimage.AppendLayer(base, layer, v1.History{CreatedBy: "lab5-node stack-images", Comment: comment},
		v1.Platform{OS: "linux", Architecture: "amd64"}, c)
}

// isLibrary: Debian's shared library packages (zlib's is the one whose name
// does not start with lib).
func isLibrary(p string) bool { return strings.HasPrefix(p, "lib") || strings.HasPrefix(p, "zlib") }
