package localnode

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lab5/k8s-networking/internal/goimage"
)

// Images are the node's own images, pinned by digest.
type Images struct {
	Pause   string
	CoreDNS string
	// Busybox runs the volume provisioner's helper pods.
	Busybox string
}

// BuildImages builds the pause and CoreDNS images from the project's
// sources (root is the repository), the helper pods' busybox image from the
// host's static busybox, and pushes them to the local registry as
// <Registry>/lab5-node/<name>. Both builds are reproducible, so an unchanged
// source gives the same digest and the push uploads nothing new.
func (n *Node) BuildImages(ctx context.Context, root, cacheDir string) (Images, error) {
	var imgs Images
	pause, err := goimage.Build(ctx, goimage.Options{Dir: root, Package: "./cmd/lab5-pause", Name: "pause", CacheDir: cacheDir,
		Annotations: map[string]string{goimage.AnnotationTitle: "lab5-node/pause"}})
	if err != nil {
		return Images{}, fmt.Errorf("image pause: %w", err)
	}
	if imgs.Pause, err = n.push(ctx, "lab5-node/pause", pause.Artifact.(v1.Image)); err != nil {
		return Images{}, err
	}

	// CoreDNS and busybox are large: built once per change of their inputs
	// (CoreDNS's module and the Go toolchain; the busybox binary).
	memo, err := newImageMemo(n.ImageCache)
	if err != nil {
		return Images{}, err
	}
	dir := filepath.Join(root, "tools", "coredns")
	module, err := treeDigest(dir)
	if err != nil {
		return Images{}, err
	}
	coredns, err := memo.image("coredns", []string{module, runtime.Version()}, func() (v1.Image, error) {
		img, err := goimage.Build(ctx, goimage.Options{Dir: dir, Package: ".", Name: "coredns", Ports: []int{53}, CacheDir: cacheDir,
			Annotations: map[string]string{goimage.AnnotationTitle: "lab5-node/coredns"}})
		if err != nil {
			return nil, err
		}
		return img.Artifact.(v1.Image), nil
	})
	if err != nil {
		return Images{}, fmt.Errorf("image coredns: %w", err)
	}
	if imgs.CoreDNS, err = n.push(ctx, "lab5-node/coredns", coredns); err != nil {
		return Images{}, err
	}

	busyboxSum, err := fileDigest(n.Busybox)
	if err != nil {
		return Images{}, fmt.Errorf("image busybox (install busybox-static): %w", err)
	}
	bb, err := memo.image("busybox", []string{busyboxSum}, func() (v1.Image, error) { return BusyboxImage(n.Busybox) })
	if err != nil {
		return Images{}, err
	}
	if imgs.Busybox, err = n.push(ctx, "lab5-node/busybox", bb); err != nil {
		return Images{}, err
	}
	return imgs, nil
}

// push pushes img to <Registry>/<name>, by digest.
func (n *Node) push(ctx context.Context, name string, img v1.Image) (string, error) {
	d, err := img.Digest()
	if err != nil {
		return "", err
	}
	ref, err := goimage.Push(ctx, n.Registry+"/"+name, &goimage.Image{Digest: d, Artifact: img}, goimage.Auth{})
	if err != nil {
		return "", fmt.Errorf("image %s: %w", name, err)
	}
	return ref.String(), nil
}
