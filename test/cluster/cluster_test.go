//go:build cluster

// Package cluster proves the local control plane: workloads become ready on
// the fake nodes (or really run on the real node), and nothing outside the
// control plane's network namespace is reachable.
package cluster

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/lab5/k8s-networking/internal/kubetest"
)

const readyTimeout = 2 * time.Minute

func TestWorkloadsBecomeReadyOnFakeNodes(t *testing.T) {
	cs := kubetest.Client(t)
	ctx := context.Background()
	if realNode(t, cs) != nil {
		t.Skip("the control plane runs a real node (no fake nodes): see realnode_test.go")
	}
	ns := fmt.Sprintf("smoke-%d", time.Now().UnixNano()%1_000_000)
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })

	labels := map[string]string{"app": "smoke"}
	pod := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "app", Image: "example.invalid/app:1",
			Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
		}}},
	}
	replicas := int32(2)
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec:       appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: pod},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	stsLabels := map[string]string{"app": "store"}
	stsPod := pod.DeepCopy()
	stsPod.Labels = stsLabels
	stsPod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
	if _, err := cs.AppsV1().StatefulSets(ns).Create(ctx, &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "store"},
		Spec: appsv1.StatefulSetSpec{
			Replicas: &replicas, ServiceName: "store",
			Selector: &metav1.LabelSelector{MatchLabels: stsLabels}, Template: *stsPod,
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{*claim("data", "1Gi")},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	jobPod := pod.DeepCopy()
	jobPod.Labels = map[string]string{"app": "once"}
	jobPod.Spec.RestartPolicy = corev1.RestartPolicyNever
	if _, err := cs.BatchV1().Jobs(ns).Create(ctx, &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "once"},
		Spec:       batchv1.JobSpec{Template: *jobPod},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	svc, err := cs.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec:       corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Port: 80}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	kubetest.Eventually(t, readyTimeout, "deployment web available", func(ctx context.Context) (bool, error) {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		return err == nil && d.Status.AvailableReplicas == replicas, err
	})
	kubetest.Eventually(t, readyTimeout, "statefulset store ready", func(ctx context.Context) (bool, error) {
		s, err := cs.AppsV1().StatefulSets(ns).Get(ctx, "store", metav1.GetOptions{})
		return err == nil && s.Status.ReadyReplicas == replicas, err
	})
	kubetest.Eventually(t, readyTimeout, "job once complete", func(ctx context.Context) (bool, error) {
		j, err := cs.BatchV1().Jobs(ns).Get(ctx, "once", metav1.GetOptions{})
		return err == nil && j.Status.Succeeded == 1, err
	})
	kubetest.Eventually(t, readyTimeout, "service web has ready endpoints", func(ctx context.Context) (bool, error) {
		return kubetest.ReadyEndpoints(ctx, cs, ns, "web") == int(replicas), nil
	})

	// The Service exists with a cluster IP, and that address cannot be
	// reached from here: dialing it fails at once for want of a route.
	unreachable, err := kubetest.DialUnreachable(net.JoinHostPort(svc.Spec.ClusterIP, "80"))
	if !unreachable {
		t.Fatalf("dial to cluster IP %s: want 'network unreachable', got %v", svc.Spec.ClusterIP, err)
	}
}

func TestNoClusterAddressIsReachable(t *testing.T) {
	cs := kubetest.Client(t)
	addrs := []string{"8.8.8.8:53", "1.1.1.1:443"}
	// The host's own addresses, read from PID 1's network namespace: the
	// namespace has no way to them either.
	for _, ip := range hostAddresses(t) {
		addrs = append(addrs, net.JoinHostPort(ip, "22"))
	}
	if realNode(t, cs) == nil {
		// With fake nodes the cluster's own addresses exist nowhere.
		addrs = append(addrs, "10.96.0.1:443", "10.244.0.5:8080", "10.0.0.10:10250")
	}
	for _, addr := range addrs {
		if unreachable, err := kubetest.DialUnreachable(addr); !unreachable {
			t.Errorf("dial %s: want 'network unreachable', got %v", addr, err)
		}
	}
}

// hostAddresses are the host's non-loopback IPv4 addresses: the local
// entries of the routing table of PID 1's network namespace.
func hostAddresses(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("/proc/1/net/fib_trie")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var out []string
	prev := ""
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if strings.Contains(line, "/32 host LOCAL") && prev != "" && !strings.HasPrefix(prev, "127.") && !seen[prev] {
			seen[prev] = true
			out = append(out, prev)
		}
		if len(f) == 2 && f[0] == "|--" {
			prev = f[1]
		}
	}
	if len(out) == 0 {
		t.Log("the host has no non-loopback IPv4 address")
	}
	return out
}

// realNode is the cluster's real node (one that kwok does not manage), or
// nil when the control plane runs fake nodes only.
func realNode(t *testing.T, cs kubernetes.Interface) *corev1.Node {
	t.Helper()
	nodes, err := cs.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range nodes.Items {
		if nodes.Items[i].Annotations["kwok.x-k8s.io/node"] != "fake" {
			return &nodes.Items[i]
		}
	}
	return nil
}
