// Command lab5-node prepares and cleans up the local cluster's real node for
// hack/cluster.sh, which starts and stops its processes:
//
//	lab5-node env     -state DIR                    shell assignments cluster.sh evaluates
//	lab5-node images  -state DIR -root REPO         build and push the pause and CoreDNS images (run inside the namespace)
//	lab5-node stack-debs -state DIR                  download the stack images' Debian packages (on the host: apt needs its network)
//	lab5-node stack-images -state DIR -root REPO [-traefik] build and push the local stack's images (run inside the namespace), print them as stack config
//	lab5-node setup   -state DIR -pause-image REF -busybox-image REF
//	                                                 write containerd's, the kubelet's, kube-proxy's and CNI's configuration; create the node's cgroup, save the host's kernel settings the kubelet changes
//	lab5-node addons  -state DIR -image REF         print the cluster DNS add-on (CoreDNS image REF), the NetworkPolicy engine's RBAC and the volume provisioner's objects (kubectl apply -f -)
//	lab5-node cleanup -state DIR                    undo what the stopped node left on the host
//	lab5-node resolve -state DIR NAME               look NAME up at the cluster DNS Service (run inside the namespace)
//	lab5-node forward -state DIR -netns PATH -listen ADDR -to ADDR
//	                                                 forward the host's ADDR (loopback) to ADDR inside the namespace
//	lab5-node memory  -state DIR -netns PATH         the whole local cluster's processes and their resident memory (on the host)
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/lab5/k8s-networking/internal/localnode"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "lab5-node:", err)
		os.Exit(1)
	}
}

// debCache keeps the stack images' .deb files in the user cache, not the
// state folder: a new cluster reuses them.
func debCache() string {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	return filepath.Join(base, "lab5-debs")
}

func run(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: lab5-node env|images|stack-debs|stack-images|setup|addons|cleanup|resolve|forward|memory -state DIR [flags]")
	}
	cmd := args[0]
	fs := flag.NewFlagSet("lab5-node "+cmd, flag.ContinueOnError)
	state := fs.String("state", "", "the cluster's state folder")
	root := fs.String("root", ".", "the repository (images)")
	pause := fs.String("pause-image", "", "the pod sandbox image (setup)")
	busybox := fs.String("busybox-image", "", "the volume helper pods' image (setup)")
	image := fs.String("image", "", "the CoreDNS image (addons)")
	netns := fs.String("netns", "", "the cluster's network namespace, e.g. /run/netns/NAME (forward, memory)")
	listen := fs.String("listen", "", "where to listen, in this process's namespace (forward)")
	traefik := fs.Bool("traefik", false, "also build Traefik from tools/traefik (stack-images)")
	to := fs.String("to", "", "where to connect, inside -netns (forward)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *state == "" {
		return fmt.Errorf("%s: -state is required", cmd)
	}
	abs, err := filepath.Abs(*state)
	if err != nil {
		return err
	}
	n := localnode.New(abs)
	n.PauseImage = *pause
	n.BusyboxImage = *busybox
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	switch cmd {
	case "env":
		fmt.Print(n.Env())
	case "images":
		// The user cache (not the state folder): a new cluster reuses the binaries.
		imgs, err := n.BuildImages(ctx, *root, "")
		if err != nil {
			return err
		}
		fmt.Printf("PAUSE_IMAGE=%s\nCOREDNS_IMAGE=%s\nBUSYBOX_IMAGE=%s\n", imgs.Pause, imgs.CoreDNS, imgs.Busybox)
	case "memory":
		if *netns == "" {
			return fmt.Errorf("memory: -netns is required")
		}
		u, err := n.Memory(localnode.RealHost, *netns)
		if err != nil {
			return err
		}
		fmt.Println(u)
	case "stack-debs":
		return localnode.FetchStackDebs(ctx, debCache())
	case "stack-images":
		imgs, err := n.BuildStackImages(ctx, *root, debCache(), *traefik)
		if err != nil {
			return err
		}
		if imgs.Traefik != "" {
			fmt.Printf("lab5:traefikImage: %s\n", imgs.Traefik)
		}
		// The keys of Pulumi.local.yaml.
		fmt.Printf("lab5:minioImage: %s\nlab5:echoserverImage: %s\nlab5:nginxImage: %s\nlab5:postgresImage: %s\n",
			imgs.MinIO, imgs.Echoserver, imgs.Nginx, imgs.Postgres)
	case "setup":
		if err := n.Write(); err != nil {
			return err
		}
		if err := n.SaveSysctls(localnode.RealHost); err != nil {
			return err
		}
		return n.PrepareCgroups(localnode.RealHost)
	case "addons":
		if *image == "" {
			return fmt.Errorf("addons: -image is required")
		}
		y, err := n.DNSAddon(*image)
		if err != nil {
			return err
		}
		rbac, err := localnode.KubeRouterRBAC()
		if err != nil {
			return err
		}
		storage, err := n.StorageAddon()
		if err != nil {
			return err
		}
		_, err = os.Stdout.Write(append(append(y, rbac...), storage...))
		return err
	case "cleanup":
		return n.Cleanup(localnode.RealHost, func(format string, a ...any) {
			fmt.Fprintf(os.Stderr, "lab5-node: "+format+"\n", a...)
		})
	case "resolve":
		// The cluster DNS Service answers through kube-proxy: the proof
		// that DNS works for pods, not only that CoreDNS runs.
		server := netip.AddrPortFrom(n.DNS, 53).String()
		r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, server)
		}}
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		addrs, err := r.LookupHost(ctx, fs.Arg(0))
		if err != nil {
			return err
		}
		fmt.Println(strings.Join(addrs, " "))
	case "forward":
		if *netns == "" || *listen == "" || *to == "" {
			return fmt.Errorf("forward: -netns, -listen and -to are required")
		}
		return localnode.Forward(ctx, *listen, *netns, *to, func(format string, a ...any) {
			fmt.Fprintf(os.Stderr, "lab5-node: "+format+"\n", a...)
		})
	default:
		return fmt.Errorf("unknown command %q", cmd)
	}
	return nil
}
