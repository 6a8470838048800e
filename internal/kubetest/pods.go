package kubetest

import (
	"context"
	"fmt"
	"os/exec"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/lab5/k8s-networking/internal/goimage"
)

// PushGoImage builds the Go package pkg (relative to the repository) into an
// image and pushes it to the cluster's local registry as lab5-test/<name>;
// it returns the pushed reference, digest included.
func PushGoImage(t testing.TB, pkg, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	img, err := goimage.Build(ctx, goimage.Options{Dir: RepoRoot(), Package: pkg, Ports: []int{8080}})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := goimage.Push(ctx, "localhost:5000/lab5-test/"+name, img, goimage.Auth{})
	if err != nil {
		t.Fatal(err)
	}
	return ref.String()
}

// RestrictedNamespace creates a namespace named prefix-<number> that
// enforces Pod Security "restricted" (the level of the lab's production
// namespace) and deletes it when the test ends.
func RestrictedNamespace(t testing.TB, cs kubernetes.Interface, prefix string) string {
	t.Helper()
	ns := fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano()%1_000_000)
	_, err := cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name:   ns,
		Labels: map[string]string{"pod-security.kubernetes.io/enforce": "restricted"},
	}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	return ns
}

// RestrictedPod is a one-container pod (the container named as the pod)
// that Pod Security "restricted" admits: non-root, no privilege escalation,
// read-only root, no capabilities. It stops at once when deleted.
func RestrictedPod(name, image string, labels map[string]string, args ...string) *corev1.Pod {
	yes, no := true, false
	zero := int64(0)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: &zero,
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   &yes,
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Containers: []corev1.Container{{
				Name: name, Image: image, Args: args,
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: &no,
					ReadOnlyRootFilesystem:   &yes,
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				},
			}},
		},
	}
}

// IsReady reports the pod's Ready condition.
func IsReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// WaitReady fails the test unless every named pod of ns is Ready within two
// minutes (a first pull from the local registry included).
func WaitReady(t testing.TB, cs kubernetes.Interface, ns string, names ...string) {
	t.Helper()
	for _, name := range names {
		Eventually(t, 2*time.Minute, "pod "+ns+"/"+name+" Ready", func(ctx context.Context) (bool, error) {
			p, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
			return err == nil && IsReady(p), err
		})
	}
}

// Netcheck runs the netcheck tool (test/cluster/netcheck) in a pod through
// kubectl exec (API server -> kubelet -> containerd's stream server) and
// returns its combined output.
func Netcheck(ns, pod string, args ...string) (string, error) {
	out, err := exec.Command("kubectl", append([]string{"-n", ns, "exec", pod, "--", "/app/netcheck"}, args...)...).CombinedOutput()
	return string(out), err
}
