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
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// RepoRoot is the repository's top folder.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// RequireIsolatedNetwork fails the test unless the process sees only
// loopback interfaces.
func RequireIsolatedNetwork(t testing.TB) {
	t.Helper()
	ifaces, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range ifaces {
		if i.Flags&net.FlagLoopback == 0 {
			t.Fatalf("interface %s is not loopback: cluster tests must run inside the control plane's network namespace (hack/test.sh)", i.Name)
		}
	}
}

// Client returns a clientset for $KUBECONFIG, after checking isolation.
func Client(t testing.TB) *kubernetes.Clientset {
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
	cs, err := kubernetes.NewForConfig(cfg)
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
