//go:build cluster

package e2e

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/lab5/k8s-networking/internal/kubetest"
)

// TestScalingLifecycle: distributed MinIO and the history-server HPA on
// the fake-node control plane. The lab's single MinIO pod, then
// minioReplicas=4 (the preview shows the MinIO StatefulSet replaced, with
// the warning) with the HPA on: four MinIO pods spread over the two fake
// nodes although the old pod still runs while they are scheduled, their
// headless Service, disruption budgets the disruption controller agrees
// with; no changes on preview, also after the HPA took over spec.replicas;
// back to one MinIO pod and fixed replicas; destroy leaves nothing.
func TestScalingLifecycle(t *testing.T) {
	cs := kubetest.Client(t)
	ctx := context.Background()
	for _, ns := range stackNamespaces {
		if _, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("namespace %s exists before the test: the control plane is not empty (%v)", ns, err)
		}
	}
	s := newStack(t)
	s.DestroyOnFailure()

	s.SetConfig("historyServerAutoscale", "true", "historyServerMinReplicas", "2", "historyServerMaxReplicas", "4")
	timed(t, s, "pulumi up (1 MinIO pod, HPA)", s.WithConfig("up", "--yes", "--skip-preview")...)

	s.SetConfig("minioReplicas", "4")
	out := timed(t, s, "pulumi up (minioReplicas 1 -> 4)", s.WithConfig("up", "--yes")...)
	// The warning is the MinIO component's (one on the StatefulSet would
	// wait for it to be Ready, before the peer policies it needs exist).
	if !regexp.MustCompile(`(?m)^.*StatefulSet\s+minio\s+replace`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^.*infra:Minio\s+minio\s+warning: minioReplicas=4: distributed MinIO`).MatchString(out) {
		t.Errorf("the preview of pulumi up does not show the MinIO StatefulSet replaced and MinIO's warning:\n%s", out)
	}
	checkDistributedMinio(t, cs, 4)
	requireGone(t, cs, object{"StatefulSet", "production", "minio"})
	hpa, err := cs.AutoscalingV2().HorizontalPodAutoscalers("production").Get(ctx, "history-server", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ref := hpa.Spec.ScaleTargetRef; ref.Kind != "Deployment" || ref.Name != "history-server" || *hpa.Spec.MinReplicas != 2 || hpa.Spec.MaxReplicas != 4 {
		t.Errorf("HPA targets %s/%s, min %d max %d", ref.Kind, ref.Name, *hpa.Spec.MinReplicas, hpa.Spec.MaxReplicas)
	}
	waitDisruptionsAllowed(t, cs, "history-server", 1)
	timed(t, s, "pulumi preview (no changes)", s.WithConfig("preview", "--expect-no-changes")...)

	// The HPA takes spec.replicas over: below its new minimum it scales
	// the Deployment (no metrics needed for that), and Pulumi neither
	// resets the count nor reports a change.
	s.SetConfig("historyServerMinReplicas", "3")
	timed(t, s, "pulumi up (HPA min 3)", s.WithConfig("up", "--yes", "--skip-preview")...)
	kubetest.Eventually(t, readyTimeout, "the HPA scales history-server to 3", func(ctx context.Context) (bool, error) {
		d, err := cs.AppsV1().Deployments("production").Get(ctx, "history-server", metav1.GetOptions{})
		return err == nil && *d.Spec.Replicas == 3 && d.Status.AvailableReplicas == 3, err
	})
	if owners := replicasOwners(t, cs); !owners["kube-controller-manager (scale)"] || owners["pulumi"] {
		t.Errorf("spec.replicas owned by %v; want the HPA controller's scale update only", owners)
	}
	timed(t, s, "pulumi preview (HPA owns replicas)", s.WithConfig("preview", "--expect-no-changes")...)

	// Back to the standalone layout and fixed replicas. The count equals
	// the HPA's minimum so that the HPA, deleted only at the end of the
	// update, has nothing to correct in between (README: switching the
	// HPA off).
	s.SetConfig("minioReplicas", "1", "historyServerAutoscale", "false", "historyServerReplicas", "3")
	timed(t, s, "pulumi up (back to 1 MinIO pod)", s.WithConfig("up", "--yes", "--skip-preview")...)
	st, err := cs.AppsV1().StatefulSets("production").Get(ctx, "minio", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *st.Spec.Replicas != 1 || st.Spec.ServiceName != "minio" || st.Spec.PodManagementPolicy != appsv1.OrderedReadyPodManagement ||
		st.Spec.VolumeClaimTemplates[0].Name != "data" {
		t.Errorf("StatefulSet minio: replicas %d serviceName %q policy %q volume %q; want the lab's layout",
			*st.Spec.Replicas, st.Spec.ServiceName, st.Spec.PodManagementPolicy, st.Spec.VolumeClaimTemplates[0].Name)
	}
	for _, o := range []object{
		{"StatefulSet", "production", "minio-dist4"},
		{"Service", "production", "minio-hl"},
		{"PodDisruptionBudget", "production", "minio"},
		{"HorizontalPodAutoscaler", "production", "history-server"},
		{"NetworkPolicy", "production", "minio-peer-egress"},
	} {
		requireGoneScaling(t, cs, o)
	}
	kubetest.Eventually(t, readyTimeout, "one MinIO pod", func(ctx context.Context) (bool, error) {
		pods, err := cs.CoreV1().Pods("production").List(ctx, metav1.ListOptions{LabelSelector: "app=minio"})
		return err == nil && len(pods.Items) == 1 && pods.Items[0].Name == "minio-0" && podReady(&pods.Items[0]), err
	})
	d, err := cs.AppsV1().Deployments("production").Get(ctx, "history-server", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *d.Spec.Replicas != 3 || d.Annotations["lab5.io/replicas-managed-by"] != "pulumi" {
		t.Errorf("history-server: replicas %d, managed by %q", *d.Spec.Replicas, d.Annotations["lab5.io/replicas-managed-by"])
	}
	if owners := replicasOwners(t, cs); !owners["pulumi"] {
		t.Errorf("spec.replicas owned by %v; Pulumi did not take it back", owners)
	}
	waitDisruptionsAllowed(t, cs, "history-server", 1)

	timedDestroy(t, s, "pulumi destroy (scaling)")
	for _, ns := range stackNamespaces {
		requireGone(t, cs, object{"Namespace", "", ns})
	}
	if !strings.Contains(s.Pulumi("stack", "--stack", "dev", "--show-urns"), "Current stack resources (0)") {
		t.Error("the stack still holds resources after destroy")
	}
}

// checkDistributedMinio: the StatefulSet, its pods spread evenly over the
// fake nodes, the Services and the PodDisruptionBudget of n servers.
func checkDistributedMinio(t *testing.T, cs *kubernetes.Clientset, n int) {
	t.Helper()
	ctx := context.Background()
	st, err := cs.AppsV1().StatefulSets("production").Get(ctx, fmt.Sprintf("minio-dist%d", n), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *st.Spec.Replicas != int32(n) || st.Status.ReadyReplicas != int32(n) || st.Spec.ServiceName != "minio-hl" ||
		st.Spec.PodManagementPolicy != appsv1.ParallelPodManagement {
		t.Errorf("StatefulSet %s: replicas %d ready %d serviceName %q policy %q", st.Name, *st.Spec.Replicas,
			st.Status.ReadyReplicas, st.Spec.ServiceName, st.Spec.PodManagementPolicy)
	}
	want := fmt.Sprintf("http://minio-dist%d-{0...%d}.minio-hl.production.svc.cluster.local:9000/data", n, n-1)
	if args := st.Spec.Template.Spec.Containers[0].Args; len(args) < 2 || args[1] != want {
		t.Errorf("minio args %v; want %s", args, want)
	}

	pods, err := cs.CoreV1().Pods("production").List(ctx, metav1.ListOptions{LabelSelector: "app=minio"})
	if err != nil {
		t.Fatal(err)
	}
	perNode := map[string]int{}
	var where []string
	for i := range pods.Items {
		p := &pods.Items[i]
		if !podReady(p) {
			t.Errorf("pod %s not ready", p.Name)
		}
		perNode[p.Spec.NodeName]++
		where = append(where, p.Name+"@"+p.Spec.NodeName)
	}
	sort.Strings(where)
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := n, 0
	for _, node := range nodes.Items {
		lo, hi = min(lo, perNode[node.Name]), max(hi, perNode[node.Name])
	}
	if len(pods.Items) != n || len(nodes.Items) < 2 || hi-lo > 1 {
		t.Errorf("%d MinIO pods on %d nodes not spread evenly: %v", len(pods.Items), len(nodes.Items), where)
	}
	t.Logf("MinIO pods: %v", where)

	hl := getService(t, cs, "production", "minio-hl")
	if hl.Spec.ClusterIP != corev1.ClusterIPNone || !hl.Spec.PublishNotReadyAddresses {
		t.Errorf("Service minio-hl: clusterIP %q publishNotReadyAddresses %v", hl.Spec.ClusterIP, hl.Spec.PublishNotReadyAddresses)
	}
	svc := getService(t, cs, "production", "minio")
	if svc.Spec.Type != corev1.ServiceTypeClusterIP || svc.Spec.ClusterIP == corev1.ClusterIPNone || svc.Spec.Ports[0].Port != 9000 {
		t.Errorf("Service minio: %s %q port %d; want the lab's ClusterIP 9000", svc.Spec.Type, svc.Spec.ClusterIP, svc.Spec.Ports[0].Port)
	}
	for _, name := range []string{"minio", "minio-hl"} {
		kubetest.Eventually(t, readyTimeout, fmt.Sprintf("%d endpoints behind Service %s", n, name), func(ctx context.Context) (bool, error) {
			return kubetest.ReadyEndpoints(ctx, cs, "production", name) == n, nil
		})
	}
	// 4 servers, one erasure set of 4 (EC:2, write quorum 3): one pod.
	waitDisruptionsAllowed(t, cs, "minio", 1)
}

// waitDisruptionsAllowed waits until the disruption controller reports the
// named PodDisruptionBudget of production allowing exactly `want` evictions.
func waitDisruptionsAllowed(t *testing.T, cs *kubernetes.Clientset, name string, want int32) {
	t.Helper()
	kubetest.Eventually(t, readyTimeout, fmt.Sprintf("PodDisruptionBudget %s allows %d disruption(s)", name, want), func(ctx context.Context) (bool, error) {
		pdb, err := cs.PolicyV1().PodDisruptionBudgets("production").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if pdb.Status.DisruptionsAllowed != want {
			return false, fmt.Errorf("disruptionsAllowed %d (healthy %d of %d)", pdb.Status.DisruptionsAllowed, pdb.Status.CurrentHealthy, pdb.Status.ExpectedPods)
		}
		return true, nil
	})
}

// replicasOwners names the field managers of the history-server
// Deployment's spec.replicas: "pulumi" for Pulumi's server-side apply,
// else manager (subresource).
func replicasOwners(t *testing.T, cs *kubernetes.Clientset) map[string]bool {
	t.Helper()
	d, err := cs.AppsV1().Deployments("production").Get(context.Background(), "history-server", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	owners := map[string]bool{}
	for _, mf := range d.ManagedFields {
		if mf.FieldsV1 == nil || !strings.Contains(mf.FieldsV1.GetRawString(), `"f:replicas"`) {
			continue
		}
		switch {
		case mf.Operation == metav1.ManagedFieldsOperationApply && strings.HasPrefix(mf.Manager, "pulumi"):
			owners["pulumi"] = true
		default:
			owners[fmt.Sprintf("%s (%s)", mf.Manager, mf.Subresource)] = true
		}
	}
	return owners
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// requireGoneScaling is requireGone for the kinds only this test meets.
func requireGoneScaling(t *testing.T, cs *kubernetes.Clientset, o object) {
	t.Helper()
	kubetest.Eventually(t, readyTimeout, o.String()+" gone", func(ctx context.Context) (bool, error) {
		var err error
		switch o.kind {
		case "PodDisruptionBudget":
			_, err = cs.PolicyV1().PodDisruptionBudgets(o.namespace).Get(ctx, o.name, metav1.GetOptions{})
		case "HorizontalPodAutoscaler":
			_, err = cs.AutoscalingV2().HorizontalPodAutoscalers(o.namespace).Get(ctx, o.name, metav1.GetOptions{})
		default:
			_, err = get(ctx, cs, o)
		}
		return apierrors.IsNotFound(err), err
	})
}
