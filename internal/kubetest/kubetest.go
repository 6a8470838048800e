// Package kubetest connects tests to the local control plane. Such tests run
// inside the control plane's loopback-only network namespace (hack/test.sh
// does that); every helper here refuses to run anywhere else, so a test can
// never dial a fake pod or Service address on a real network.
package kubetest

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// RepoRoot is the repository's top folder.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// RequireIsolatedNetwork fails the test unless no interface the process
// sees can lead out of its network namespace: loopback only, or (with the
// real node) also the namespace's bridges and the virtual links attached to
// them (the pods' veths), and no default route.
func RequireIsolatedNetwork(t testing.TB) {
	t.Helper()
	ifaces, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range ifaces {
		if i.Flags&net.FlagLoopback == 0 && !settlesInsideOnly(i.Name) {
			t.Fatalf("interface %s may lead out: cluster tests must run inside the control plane's network namespace (hack/test.sh)", i.Name)
		}
	}
	routes, err := os.ReadFile("/proc/net/route")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(routes), "\n")[1:] {
		if f := strings.Fields(line); len(f) > 1 && f[1] == "00000000" {
			t.Fatalf("a default route via %s: the namespace could reach outside", f[0])
		}
	}
}

// settlesInsideOnly: insideOnly, or gone, within 3 s. A pod's veth is
// created before it joins the bridge and leaves it before it is deleted,
// so one caught in between is given a moment; one that stays off every
// bridge fails.
func settlesInsideOnly(name string) bool {
	for end := time.Now().Add(3 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, err := os.Lstat(filepath.Join("/sys/class/net", name)); os.IsNotExist(err) || insideOnly(name) {
			return true
		}
		if time.Now().After(end) {
			return false
		}
	}
}

// insideOnly: a bridge, or a virtual interface (no device behind it)
// enslaved to a bridge of this namespace. Read in /sys/class/net, which
// `ip netns exec` mounts for the namespace.
func insideOnly(name string) bool {
	sys := filepath.Join("/sys/class/net", name)
	if isDir(filepath.Join(sys, "bridge")) {
		return true
	}
	if _, err := os.Lstat(filepath.Join(sys, "device")); err == nil {
		return false
	}
	master, err := os.Readlink(filepath.Join(sys, "master"))
	return err == nil && isDir(filepath.Join("/sys/class/net", filepath.Base(master), "bridge"))
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// RestConfig is the client configuration of $KUBECONFIG, after checking
// isolation: what any typed client of the cluster (Client, or another API
// group's) is made from.
func RestConfig(t testing.TB) *rest.Config {
	t.Helper()
	RequireIsolatedNetwork(t)
	path := os.Getenv("KUBECONFIG")
	if path == "" {
		t.Fatal("KUBECONFIG is not set: run through hack/cluster.sh exec")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// Client returns a clientset for $KUBECONFIG, after checking isolation.
func Client(t testing.TB) *kubernetes.Clientset {
	t.Helper()
	cs, err := kubernetes.NewForConfig(RestConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// Eventually polls cond every 250ms until it returns true or the timeout
// passes; the last error is reported on failure.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last error
	for {
		ok, err := cond(ctx)
		if ok {
			return
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: not reached within %s (last error: %v)", what, timeout, last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// DialUnreachable reports whether a TCP dial to addr fails because no route
// exists (rather than timing out or connecting): the proof that no packet
// could leave for that address.
func DialUnreachable(addr string) (bool, error) {
	conn, err := net.DialTimeout("tcp", addr, 3*time.Second)
	if err == nil {
		conn.Close()
		return false, errors.New("connected")
	}
	return errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.EHOSTUNREACH), err
}

// ReadyEndpoints counts the ready endpoints behind a Service (-1 when the
// EndpointSlices cannot be listed).
func ReadyEndpoints(ctx context.Context, cs kubernetes.Interface, ns, svc string) int {
	slices, err := cs.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=" + svc})
	if err != nil {
		return -1
	}
	n := 0
	for _, s := range slices.Items {
		for _, ep := range s.Endpoints {
			if ep.Conditions.Ready != nil && *ep.Conditions.Ready {
				n++
			}
		}
	}
	return n
}
