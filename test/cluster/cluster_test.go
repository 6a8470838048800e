//go:build cluster

// Package cluster proves the local control plane: workloads become ready on
// the fake nodes, and no address of the fake cluster is reachable.
package cluster

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/lab5/k8s-networking/internal/kubetest"
)

const readyTimeout = 2 * time.Minute

func TestWorkloadsBecomeReadyOnFakeNodes(t *testing.T) {
	cs := kubetest.Client(t)
	ctx := context.Background()
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
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: "data"},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
				},
			}},
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
	kubetest.RequireIsolatedNetwork(t)
	for _, addr := range []string{"10.96.0.1:443", "10.244.0.5:8080", "10.0.0.10:10250", "8.8.8.8:53"} {
		if unreachable, err := kubetest.DialUnreachable(addr); !unreachable {
			t.Errorf("dial %s: want 'network unreachable', got %v", addr, err)
		}
	}
}
