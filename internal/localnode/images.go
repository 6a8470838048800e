package localnode

import (
	"context"
	"fmt"
	"path/filepath"

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
	specs := []struct {
		name string
		opts goimage.Options
		out  *string
	}{
		{"pause", goimage.Options{Dir: root, Package: "./cmd/lab5-pause", Name: "pause"}, nil},
		{"coredns", goimage.Options{Dir: filepath.Join(root, "tools", "coredns"), Package: ".", Name: "coredns", Ports: []int{53}}, nil},
	}
	var imgs Images
	specs[0].out, specs[1].out = &imgs.Pause, &imgs.CoreDNS
	for _, s := range specs {
		s.opts.CacheDir = cacheDir
		s.opts.Annotations = map[string]string{goimage.AnnotationTitle: "lab5-node/" + s.name}
		img, err := goimage.Build(ctx, s.opts)
		if err != nil {
			return Images{}, fmt.Errorf("image %s: %w", s.name, err)
		}
		ref, err := goimage.Push(ctx, n.Registry+"/lab5-node/"+s.name, img, goimage.Auth{})
		if err != nil {
			return Images{}, fmt.Errorf("image %s: %w", s.name, err)
		}
		*s.out = ref.String()
	}
	bb, err := BusyboxImage(n.Busybox)
	if err != nil {
		return Images{}, err
	}
	d, err := bb.Digest()
	if err != nil {
		return Images{}, err
	}
	ref, err := goimage.Push(ctx, n.Registry+"/lab5-node/busybox", &goimage.Image{Digest: d, Artifact: bb}, goimage.Auth{})
	if err != nil {
		return Images{}, fmt.Errorf("image busybox: %w", err)
	}
	imgs.Busybox = ref.String()
	return imgs, nil
}
