//go:build cluster

package cluster

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/lab5/k8s-networking/internal/kubetest"
)

// The real node's smoke test: a pod really runs, its probe is really
// executed, and packets flow pod -> pod, pod -> Service -> pod, by DNS name,
// and to a NodePort on the node address; nothing outside answers.
func TestRealNodeRunsPodsThatReachEachOther(t *testing.T) {
	cs := kubetest.Client(t)
	node := requireRealNode(t, cs)
	ctx := context.Background()
	image := kubetest.PushGoImage(t, "./test/cluster/netcheck", "netcheck")
	ns := kubetest.RestrictedNamespace(t, cs, "realnode")

	// The server: unready for its first 3 s, so the kubelet's probe is
	// seen failing (an event), then passing.
	labels := map[string]string{"app": "web"}
	server := kubetest.RestrictedPod("web", image, labels, "serve", "-ready-after", "3s")
	server.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 8080}}
	server.Spec.Containers[0].ReadinessProbe = &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}},
		PeriodSeconds: 1,
	}
	client := kubetest.RestrictedPod("client", image, map[string]string{"app": "client"}, "serve", "-addr", ":8081")
	for _, p := range []*corev1.Pod{server, client} {
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	svc, err := cs.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Selector: labels,
			Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	var web *corev1.Pod
	kubetest.Eventually(t, 2*time.Minute, "pods web and client Ready", func(ctx context.Context) (bool, error) {
		ready := 0
		for _, name := range []string{"web", "client"} {
			p, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			if kubetest.IsReady(p) {
				ready++
			}
			if name == "web" {
				web = p
			}
		}
		return ready == 2, nil
	})
	t.Logf("pods Ready %s after creation (web IP %s on node %s)", time.Since(start).Round(time.Millisecond), web.Status.PodIP, web.Spec.NodeName)
	if web.Spec.NodeName != node.Name {
		t.Errorf("web runs on %s, want the real node %s", web.Spec.NodeName, node.Name)
	}
	if rc := web.Status.ContainerStatuses[0].RestartCount; rc != 0 {
		t.Errorf("web restarted %d times", rc)
	}

	t.Run("readiness probe executed by the kubelet", func(t *testing.T) {
		evs, err := cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=web"})
		if err != nil {
			t.Fatal(err)
		}
		failed := false
		for _, e := range evs.Items {
			if e.Reason == "Unhealthy" && strings.Contains(e.Message, "Readiness probe failed") && strings.Contains(e.Message, "503") {
				failed = true
			}
		}
		if !failed {
			t.Errorf("no 'Readiness probe failed ... 503' event while the server was warming up: %v", eventReasons(evs.Items))
		}
		// kubectl logs reaches the kubelet; the server logged the probes.
		logs := kubectl(t, "-n", ns, "logs", "web")
		if !strings.Contains(logs, "GET /healthz") || !strings.Contains(logs, "kube-probe/") {
			t.Errorf("the server's log shows no kube-probe request:\n%s", logs)
		}
	})
	t.Run("pod to pod", func(t *testing.T) {
		out := execIn(t, ns, "client", "get", "http://"+net.JoinHostPort(web.Status.PodIP, "8080")+"/")
		if !strings.Contains(out, "200 web") {
			t.Errorf("got %q, want web's answer", out)
		}
	})
	kubetest.Eventually(t, time.Minute, "service web has its endpoint", func(ctx context.Context) (bool, error) {
		return kubetest.ReadyEndpoints(ctx, cs, ns, "web") == 1, nil
	})
	t.Run("pod to ClusterIP to pod", func(t *testing.T) {
		out := execIn(t, ns, "client", "get", "http://"+svc.Spec.ClusterIP+"/")
		if !strings.Contains(out, "200 web") {
			t.Errorf("got %q, want web's answer through the Service", out)
		}
	})
	t.Run("the namespace's own processes reach a ClusterIP", func(t *testing.T) {
		// Tests, kubectl and pulumi run in the namespace, as on a node.
		c := http.Client{Timeout: 3 * time.Second}
		resp, err := c.Get("http://" + svc.Spec.ClusterIP + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("status %d", resp.StatusCode)
		}
	})
	t.Run("pod resolves Service names through the cluster DNS", func(t *testing.T) {
		for _, name := range []string{"web", "web." + ns, "web." + ns + ".svc.cluster.local"} {
			out := execIn(t, ns, "client", "resolve", name)
			if strings.TrimSpace(out) != svc.Spec.ClusterIP {
				t.Errorf("resolve %s = %q, want %s", name, out, svc.Spec.ClusterIP)
			}
		}
		out := execIn(t, ns, "client", "get", "http://web."+ns+".svc.cluster.local/")
		if !strings.Contains(out, "200 web") {
			t.Errorf("got %q by name", out)
		}
	})
	t.Run("NodePort answers on the node address", func(t *testing.T) {
		nodeIP := internalIP(node)
		url := fmt.Sprintf("http://%s/", net.JoinHostPort(nodeIP, fmt.Sprint(svc.Spec.Ports[0].NodePort)))
		c := http.Client{Timeout: 3 * time.Second}
		resp, err := c.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		if resp.StatusCode != http.StatusOK || strings.TrimSpace(b.String()) != "web" {
			t.Errorf("GET %s: %d %q", url, resp.StatusCode, b.String())
		}
	})
	t.Run("NetworkPolicy drops what it does not allow", func(t *testing.T) {
		if node.Labels["lab5.io/network-policy-engine"] == "" {
			t.Skip("no NetworkPolicy engine runs on the node")
		}
		friend := kubetest.RestrictedPod("friend", image, map[string]string{"app": "client", "access": "web"}, "serve", "-addr", ":8081")
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, friend, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		kubetest.WaitReady(t, cs, ns, "friend")
		tcp := corev1.ProtocolTCP
		port := intstr.FromInt32(8080)
		np := &networkingv1.NetworkPolicy{
			ObjectMeta: metav1.ObjectMeta{Name: "web-from-friends"},
			Spec: networkingv1.NetworkPolicySpec{
				PodSelector: metav1.LabelSelector{MatchLabels: labels},
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
				Ingress: []networkingv1.NetworkPolicyIngressRule{{
					From:  []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"access": "web"}}}},
					Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &port}},
				}},
			},
		}
		if _, err := cs.NetworkingV1().NetworkPolicies(ns).Create(ctx, np, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		podURL := "http://" + net.JoinHostPort(web.Status.PodIP, "8080") + "/"
		svcURL := "http://" + svc.Spec.ClusterIP + "/"
		start := time.Now()
		kubetest.Eventually(t, time.Minute, "client cut off from web by the policy", func(ctx context.Context) (bool, error) {
			_, err := kubetest.Netcheck(ns, "client", "get", podURL)
			return err != nil, nil
		})
		t.Logf("policy enforced %s after it was created", time.Since(start).Round(time.Millisecond))
		for _, url := range []string{podURL, svcURL} {
			if out, err := kubetest.Netcheck(ns, "client", "get", url); err == nil {
				t.Errorf("client (not selected by the policy) reached %s: %s", url, out)
			}
			if out := execIn(t, ns, "friend", "get", url); !strings.Contains(out, "200 web") {
				t.Errorf("friend (selected by the policy) got %q from %s", out, url)
			}
		}
		if err := cs.NetworkingV1().NetworkPolicies(ns).Delete(ctx, np.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		kubetest.Eventually(t, time.Minute, "client reaches web again without the policy", func(ctx context.Context) (bool, error) {
			out, err := kubetest.Netcheck(ns, "client", "get", podURL)
			return err == nil && strings.Contains(out, "200 web"), nil
		})
	})
	t.Run("nothing outside the cluster answers a pod, and fast", func(t *testing.T) {
		for _, c := range [][]string{{"resolve", "example.com"}, {"resolve", "elering.ee"}, {"dial", "8.8.8.8:53"}, {"dial", "1.1.1.1:443"}} {
			begin := time.Now()
			out, err := kubetest.Netcheck(ns, "client", c...)
			took := time.Since(begin)
			if err == nil {
				t.Errorf("%v succeeded from a pod: %s", c, out)
			}
			// kubectl exec itself takes a few hundred ms; a timeout would
			// take the 3 s deadline.
			if took > 2500*time.Millisecond {
				t.Errorf("%v took %s to fail, want it refused at once", c, took.Round(time.Millisecond))
			}
			t.Logf("%v failed in %s: %s", c, took.Round(time.Millisecond), strings.TrimSpace(out))
		}
	})
}

// A PersistentVolumeClaim of the default class is provisioned on the real
// node, and what a pod wrote there is still there for the next pod.
func TestRealNodeVolumesOutliveTheirPod(t *testing.T) {
	cs := kubetest.Client(t)
	requireRealNode(t, cs)
	ctx := context.Background()
	image := kubetest.PushGoImage(t, "./test/cluster/netcheck", "netcheck")
	ns := kubetest.RestrictedNamespace(t, cs, "volume")
	if _, err := cs.CoreV1().PersistentVolumeClaims(ns).Create(ctx, claim("data", "64Mi"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	run := func(name string) {
		t.Helper()
		p := kubetest.RestrictedPod(name, image, map[string]string{"app": "store"}, "serve")
		p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
		p.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"},
		}}}
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		kubetest.Eventually(t, 2*time.Minute, "pod "+name+" Running with its volume", func(ctx context.Context) (bool, error) {
			p, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
			return err == nil && p.Status.Phase == corev1.PodRunning, err
		})
	}
	start := time.Now()
	run("first")
	pvc, err := cs.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "data", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("claim %s bound to %s (class %s) in %s", pvc.Name, pvc.Spec.VolumeName, ptrString(pvc.Spec.StorageClassName), time.Since(start).Round(time.Millisecond))
	execIn(t, ns, "first", "write", "/data/note", "written by the first pod")
	if err := cs.CoreV1().Pods(ns).Delete(ctx, "first", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	kubetest.Eventually(t, time.Minute, "pod first gone", func(ctx context.Context) (bool, error) {
		_, err := cs.CoreV1().Pods(ns).Get(ctx, "first", metav1.GetOptions{})
		return err != nil, nil
	})
	run("second")
	if out := execIn(t, ns, "second", "read", "/data/note"); strings.TrimSpace(out) != "written by the first pod" {
		t.Errorf("second pod reads %q", out)
	}
}

// claim is a ReadWriteOnce claim of size on the default storage class.
func claim(name, size string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}},
		},
	}
}

func ptrString(s *string) string {
	if s == nil {
		return "<default>"
	}
	return *s
}

func internalIP(n *corev1.Node) string {
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			return a.Address
		}
	}
	return ""
}

func eventReasons(evs []corev1.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Reason+": "+e.Message)
	}
	return out
}

// kubectl runs the kubectl of .tools/bin against $KUBECONFIG.
func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("kubectl", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// execIn runs netcheck in a pod (kubectl exec: API server -> kubelet ->
// containerd's stream server) and returns its output.
func execIn(t *testing.T, ns, pod string, args ...string) string {
	t.Helper()
	out, err := kubetest.Netcheck(ns, pod, args...)
	if err != nil {
		t.Fatalf("exec %v in %s: %v\n%s", args, pod, err, out)
	}
	return out
}

// requireRealNode returns the real node, skipping the test on fake nodes.
func requireRealNode(t *testing.T, cs kubernetes.Interface) *corev1.Node {
	t.Helper()
	node := realNode(t, cs)
	if node == nil {
		t.Skip("no real node: start the control plane with hack/cluster.sh up --real-node")
	}
	return node
}
