//go:build cluster

// Package e2e runs the user's loop for real: pulumi up, preview, the
// test-only switch, destroy, against the local kube-apiserver, and checks
// with client-go what the API server holds after each step.
package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/lab5/k8s-networking/internal/kubetest"
	"github.com/lab5/k8s-networking/internal/stacktest"
)

const readyTimeout = 3 * time.Minute

// stackNamespaces are the namespaces the stack owns.
var stackNamespaces = []string{"production", "test", "k8s-lab5", "ingress-nginx"}

// cleanupList is seed 000's list of test-only resources.
var cleanupList = []object{
	{"Service", "default", "echoserver-service-nodeport"},
	{"StatefulSet", "test", "postgresql-hl-test"},
	{"Service", "test", "postgresql-hl"},
	{"NetworkPolicy", "default", "echoserver-network-policy"},
	{"Deployment", "default", "nginx"},
	{"Namespace", "", "k8s-lab5"},
}

// kept are lab objects that stay when the test-only resources are removed.
var kept = []object{
	{"Namespace", "", "production"},
	{"Namespace", "", "test"},
	{"Secret", "production", "minio-secret"},
	{"StatefulSet", "production", "minio"},
	{"Service", "production", "minio"},
	{"Deployment", "production", "history-server"},
	{"Service", "production", "history-server"},
	{"CronJob", "production", "price-fetcher"},
	{"Pod", "default", "echoserver"},
	{"Service", "default", "echoserver"},
	{"Deployment", "test", "nginx"},
	{"Deployment", "ingress-nginx", "ingress-nginx-controller"},
	{"Service", "ingress-nginx", "ingress-nginx-controller"},
	{"Ingress", "default", "echoserver-ingress"},
	{"NetworkPolicy", "production", "minio-network-policy"},
}

type object struct{ kind, namespace, name string }

func (o object) String() string { return fmt.Sprintf("%s %s/%s", o.kind, o.namespace, o.name) }

// newStack creates a private copy of the dev stack (stacktest.New); unset
// names environment variables pulumi must not see.
func newStack(t *testing.T, unset ...string) *stacktest.Stack {
	return stacktest.New(t, "dev", unset...)
}

// timed runs a pulumi command and logs its wall time for the closing report.
func timed(t *testing.T, s *stacktest.Stack, label string, args ...string) string {
	t.Helper()
	start := time.Now()
	out := s.Pulumi(args...)
	recordTiming(t, label, time.Since(start))
	return out
}

// timedDestroy runs pulumi destroy as make destroy does and logs its wall
// time for the closing report.
func timedDestroy(t *testing.T, s *stacktest.Stack, label string) {
	t.Helper()
	start := time.Now()
	if out, err := s.Destroy(); err != nil {
		t.Fatalf("pulumi destroy: %v\n%s", err, out)
	}
	recordTiming(t, label, time.Since(start))
}

func TestPulumiLifecycle(t *testing.T) {
	cs := kubetest.Client(t)
	ctx := context.Background()
	for _, ns := range stackNamespaces {
		if _, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("namespace %s exists before the test: the control plane is not empty (%v)", ns, err)
		}
	}
	defaultNS, err := cs.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}

	s := newStack(t)
	s.DestroyOnFailure()

	timed(t, s, timingUp, s.WithConfig("up", "--yes", "--skip-preview")...)
	for _, o := range append(append([]object{}, kept...), cleanupList...) {
		requireExists(t, cs, o)
	}
	checkLabRequirements(t, cs)
	checkPodSecurityAdmission(t, cs)
	checkStackOutputs(t, s)
	checkOwnedByNamespace(t, cs)
	for _, svc := range []string{"history-server", "minio"} {
		kubetest.Eventually(t, readyTimeout, "ready endpoints of Service production/"+svc, func(ctx context.Context) (bool, error) {
			return kubetest.ReadyEndpoints(ctx, cs, "production", svc) > 0, nil
		})
	}

	timed(t, s, timingPreview, s.WithConfig("preview", "--expect-no-changes")...)
	checkDriftRepaired(t, cs, s)

	s.SetConfig("labTestResources", "false")
	timed(t, s, "pulumi up (test-only off)", s.WithConfig("up", "--yes", "--skip-preview")...)
	for _, o := range cleanupList {
		requireGone(t, cs, o)
	}
	for _, o := range kept {
		requireExists(t, cs, o)
	}

	timedDestroy(t, s, timingDestroy)
	for _, ns := range stackNamespaces {
		requireGone(t, cs, object{"Namespace", "", ns})
	}
	for _, o := range []object{{"Pod", "default", "echoserver"}, {"Service", "default", "echoserver"}, {"Ingress", "default", "echoserver-ingress"}} {
		requireGone(t, cs, o)
	}
	after, err := cs.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("namespace default after destroy: %v", err)
	}
	if after.UID != defaultNS.UID || after.DeletionTimestamp != nil {
		t.Fatalf("namespace default was replaced or is being deleted (uid %s -> %s)", defaultNS.UID, after.UID)
	}
	if !strings.Contains(s.Pulumi("stack", "--stack", "dev", "--show-urns"), "Current stack resources (0)") {
		t.Error("the stack still holds resources after destroy")
	}
}

// checkLabRequirements reads back the fields seed 000 prescribes.
func checkLabRequirements(t *testing.T, cs *kubernetes.Clientset) {
	ctx := context.Background()

	hs, err := cs.AppsV1().Deployments("production").Get(ctx, "history-server", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for where, labels := range map[string]map[string]string{"metadata": hs.Labels, "pod template": hs.Spec.Template.Labels} {
		if labels["app"] != "electricity-calculator" || labels["microservice"] != "history-server" {
			t.Errorf("history-server %s labels = %v; want app=electricity-calculator, microservice=history-server", where, labels)
		}
	}
	env := envOf(hs.Spec.Template.Spec.Containers[0].Env)
	if env["MINIO_URI"].Value != "minio:9000" || env["MINIO_BUCKET"].Value != "price-data" {
		t.Errorf("history-server MINIO_URI/MINIO_BUCKET = %q/%q", env["MINIO_URI"].Value, env["MINIO_BUCKET"].Value)
	}
	for _, name := range []string{"MINIO_ACCESS_KEY", "MINIO_SECRET_KEY"} {
		ref := env[name].ValueFrom
		if ref == nil || ref.SecretKeyRef == nil || ref.SecretKeyRef.Name != "minio-secret" {
			t.Errorf("history-server %s does not come from secret minio-secret: %+v", name, ref)
		}
	}

	svc := getService(t, cs, "production", "history-server")
	if svc.Spec.Type != corev1.ServiceTypeClusterIP || svc.Spec.Ports[0].Port != 80 {
		t.Errorf("Service history-server: type %s port %d; want ClusterIP 80", svc.Spec.Type, svc.Spec.Ports[0].Port)
	}
	minio := getService(t, cs, "production", "minio")
	if minio.Spec.Type != corev1.ServiceTypeClusterIP || minio.Spec.Ports[0].Port != 9000 || minio.Spec.Ports[0].TargetPort.IntValue() != 9000 || minio.Spec.Selector["app"] != "minio" {
		t.Errorf("Service minio = %+v; want ClusterIP 9000->9000 selecting app=minio", minio.Spec)
	}

	cj, err := cs.BatchV1().CronJobs("production").Get(ctx, "price-fetcher", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cjEnv := envOf(cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Env)
	if got := cjEnv["HISTORY_SERVER_URI"].Value; got != "http://history-server.production.svc.cluster.local:80" {
		t.Errorf("price-fetcher HISTORY_SERVER_URI = %q", got)
	}

	np := getService(t, cs, "default", "echoserver-service-nodeport")
	if np.Spec.Type != corev1.ServiceTypeNodePort || np.Spec.Ports[0].Port != 80 || np.Spec.Ports[0].NodePort != 30001 || np.Spec.Selector["app"] != "echoserver" {
		t.Errorf("Service echoserver-service-nodeport = %+v; want NodePort 80 nodePort 30001 selecting app=echoserver", np.Spec)
	}
	for _, ns := range []string{"default", "k8s-lab5"} {
		if s := getService(t, cs, ns, "echoserver"); s.Spec.Type != corev1.ServiceTypeClusterIP || s.Spec.Ports[0].Port != 80 {
			t.Errorf("Service %s/echoserver: %s %d; want ClusterIP 80", ns, s.Spec.Type, s.Spec.Ports[0].Port)
		}
	}
	if hl := getService(t, cs, "test", "postgresql-hl"); hl.Spec.ClusterIP != corev1.ClusterIPNone || hl.Spec.Ports[0].Port != 5432 {
		t.Errorf("Service postgresql-hl: clusterIP %q port %d; want None 5432", hl.Spec.ClusterIP, hl.Spec.Ports[0].Port)
	}
	pg, err := cs.AppsV1().StatefulSets("test").Get(ctx, "postgresql-hl-test", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pg.Spec.ServiceName != "postgresql-hl" || *pg.Spec.Replicas != 2 || pg.Spec.Template.Spec.Containers[0].Image != "bitnami/postgresql:15.4.0" {
		t.Errorf("StatefulSet postgresql-hl-test: serviceName %q replicas %d image %q", pg.Spec.ServiceName, *pg.Spec.Replicas, pg.Spec.Template.Spec.Containers[0].Image)
	}

	ing, err := cs.NetworkingV1().Ingresses("default").Get(ctx, "echoserver-ingress", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkIngress(t, ing)

	echoPolicy, err := cs.NetworkingV1().NetworkPolicies("default").Get(ctx, "echoserver-network-policy", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkEchoserverPolicy(t, echoPolicy)
	minioPolicy, err := cs.NetworkingV1().NetworkPolicies("production").Get(ctx, "minio-network-policy", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if minioPolicy.Spec.PodSelector.MatchLabels["app"] != "minio" || len(minioPolicy.Spec.Ingress) != 1 ||
		minioPolicy.Spec.Ingress[0].From[0].PodSelector.MatchLabels["microservice"] != "history-server" {
		t.Errorf("minio-network-policy admits more than history-server pods: %+v", minioPolicy.Spec)
	}
}

func checkIngress(t *testing.T, ing *networkingv1.Ingress) {
	t.Helper()
	if ing.Labels["name"] != "echoserver-ingress" || ing.Spec.IngressClassName == nil || *ing.Spec.IngressClassName != "nginx" || len(ing.Spec.Rules) != 1 {
		t.Fatalf("Ingress echoserver-ingress: labels %v class %v rules %d", ing.Labels, ing.Spec.IngressClassName, len(ing.Spec.Rules))
	}
	rule := ing.Spec.Rules[0]
	if !strings.HasPrefix(rule.Host, "echoserver.") || !strings.HasSuffix(rule.Host, ".nip.io") {
		t.Errorf("Ingress host %q; want echoserver.<PUBLIC_NODE_IP>.nip.io", rule.Host)
	}
	p := rule.HTTP.Paths[0]
	if p.Path != "/" || *p.PathType != networkingv1.PathTypePrefix || p.Backend.Service.Name != "echoserver" || p.Backend.Service.Port.Number != 80 {
		t.Errorf("Ingress path = %+v; want / Prefix -> echoserver:80", p)
	}
}

func checkEchoserverPolicy(t *testing.T, np *networkingv1.NetworkPolicy) {
	t.Helper()
	spec := np.Spec
	if spec.PodSelector.MatchLabels["app"] != "echoserver" || len(spec.PolicyTypes) != 1 || spec.PolicyTypes[0] != networkingv1.PolicyTypeIngress || len(spec.Ingress) != 1 {
		t.Fatalf("echoserver-network-policy spec = %+v", spec)
	}
	rule := spec.Ingress[0]
	if len(rule.From) != 2 ||
		rule.From[0].NamespaceSelector == nil || rule.From[0].NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "k8s-lab5" || rule.From[0].PodSelector != nil ||
		rule.From[1].PodSelector == nil || rule.From[1].PodSelector.MatchLabels["name"] != "nginx" || rule.From[1].NamespaceSelector != nil {
		t.Errorf("echoserver-network-policy peers = %+v; want namespace k8s-lab5 OR pods name=nginx", rule.From)
	}
	if len(rule.Ports) != 1 || *rule.Ports[0].Protocol != corev1.ProtocolTCP || rule.Ports[0].Port.IntValue() != 80 {
		t.Errorf("echoserver-network-policy ports = %+v; want TCP 80", rule.Ports)
	}
}

func envOf(vars []corev1.EnvVar) map[string]corev1.EnvVar {
	m := map[string]corev1.EnvVar{}
	for _, v := range vars {
		m[v.Name] = v
	}
	return m
}

func getService(t *testing.T, cs *kubernetes.Clientset, ns, name string) *corev1.Service {
	t.Helper()
	s, err := cs.CoreV1().Services(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("Service %s/%s: %v", ns, name, err)
	}
	return s
}

func get(ctx context.Context, cs *kubernetes.Clientset, o object) (metav1.Object, error) {
	switch o.kind {
	case "Namespace":
		return cs.CoreV1().Namespaces().Get(ctx, o.name, metav1.GetOptions{})
	case "Service":
		return cs.CoreV1().Services(o.namespace).Get(ctx, o.name, metav1.GetOptions{})
	case "Secret":
		return cs.CoreV1().Secrets(o.namespace).Get(ctx, o.name, metav1.GetOptions{})
	case "Pod":
		return cs.CoreV1().Pods(o.namespace).Get(ctx, o.name, metav1.GetOptions{})
	case "Deployment":
		return cs.AppsV1().Deployments(o.namespace).Get(ctx, o.name, metav1.GetOptions{})
	case "StatefulSet":
		return cs.AppsV1().StatefulSets(o.namespace).Get(ctx, o.name, metav1.GetOptions{})
	case "PersistentVolumeClaim":
		return cs.CoreV1().PersistentVolumeClaims(o.namespace).Get(ctx, o.name, metav1.GetOptions{})
	case "Job":
		return cs.BatchV1().Jobs(o.namespace).Get(ctx, o.name, metav1.GetOptions{})
	case "CronJob":
		return cs.BatchV1().CronJobs(o.namespace).Get(ctx, o.name, metav1.GetOptions{})
	case "Ingress":
		return cs.NetworkingV1().Ingresses(o.namespace).Get(ctx, o.name, metav1.GetOptions{})
	case "NetworkPolicy":
		return cs.NetworkingV1().NetworkPolicies(o.namespace).Get(ctx, o.name, metav1.GetOptions{})
	}
	return nil, fmt.Errorf("unknown kind %s", o.kind)
}

func requireExists(t *testing.T, cs *kubernetes.Clientset, o object) {
	t.Helper()
	if _, err := get(context.Background(), cs, o); err != nil {
		t.Errorf("%s: %v", o, err)
	}
}

// requireGone waits for an object to disappear (namespaces take a moment
// to finalize after pulumi returns).
func requireGone(t *testing.T, cs *kubernetes.Clientset, o object) {
	t.Helper()
	kubetest.Eventually(t, readyTimeout, o.String()+" gone", func(ctx context.Context) (bool, error) {
		_, err := get(ctx, cs, o)
		return apierrors.IsNotFound(err), err
	})
}

// TestKubectlApplyBaseline times the same objects the other way: rendered to
// YAML by the provider (renderYamlToDirectory), applied with kubectl, and
// waited for until the workloads are ready, for comparison with pulumi up.
func TestKubectlApplyBaseline(t *testing.T) {
	cs := kubetest.Client(t)
	kubeconfig := os.Getenv("KUBECONFIG")
	dir := filepath.Join(t.TempDir(), "manifests")
	// The provider refuses to render while KUBECONFIG is set.
	s := newStack(t, "KUBECONFIG")
	s.Pulumi(s.WithConfig("config", "set", "kubernetes:renderYamlToDirectory", dir)...)
	timed(t, s, "pulumi up (render YAML only)", s.WithConfig("up", "--yes", "--skip-preview")...)

	kubectl := func(args ...string) {
		t.Helper()
		cmd := exec.Command("kubectl", append([]string{"--kubeconfig", kubeconfig}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	// The stack declares no volume claim of its own: what the renderer
	// writes for claims are the patches that make MinIO's claims (created
	// by its StatefulSet) owned by their namespace, whose uid exists only
	// on a live cluster. kubectl gets the objects the stack creates.
	patches, err := filepath.Glob(filepath.Join(dir, "1-manifest", "*persistentvolumeclaim*"))
	if err != nil || len(patches) == 0 {
		t.Fatalf("no rendered claim patches in %s (%v)", dir, err)
	}
	for _, f := range patches {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	namespaces, err := filepath.Glob(filepath.Join(dir, "1-manifest", "*namespace*"))
	if err != nil || len(namespaces) == 0 {
		t.Fatalf("no rendered namespaces in %s (%v)", dir, err)
	}
	start := time.Now()
	for _, f := range namespaces {
		kubectl("apply", "-f", f)
	}
	kubectl("apply", "-R", "-f", dir)
	kubetest.Eventually(t, readyTimeout, "rendered workloads ready", func(ctx context.Context) (bool, error) {
		return workloadsReady(ctx, cs)
	})
	recordTiming(t, timingKubectlApply, time.Since(start))

	start = time.Now()
	kubectl("delete", "-R", "-f", dir, "--ignore-not-found", "--wait")
	for _, ns := range stackNamespaces {
		requireGone(t, cs, object{"Namespace", "", ns})
	}
	recordTiming(t, timingKubectlDelete, time.Since(start))
}

// workloadsReady: every Deployment and StatefulSet of the lab namespaces has
// all its replicas ready, and the echoserver Pod is Ready.
func workloadsReady(ctx context.Context, cs *kubernetes.Clientset) (bool, error) {
	for _, ns := range append([]string{"default"}, stackNamespaces...) {
		deps, err := cs.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, d := range deps.Items {
			if d.Spec.Replicas == nil || d.Status.AvailableReplicas != *d.Spec.Replicas {
				return false, fmt.Errorf("deployment %s/%s: %d available", ns, d.Name, d.Status.AvailableReplicas)
			}
		}
		sets, err := cs.AppsV1().StatefulSets(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, st := range sets.Items {
			if st.Spec.Replicas == nil || st.Status.ReadyReplicas != *st.Spec.Replicas {
				return false, fmt.Errorf("statefulset %s/%s: %d ready", ns, st.Name, st.Status.ReadyReplicas)
			}
		}
	}
	pod, err := cs.CoreV1().Pods("default").Get(ctx, "echoserver", metav1.GetOptions{})
	if err != nil {
		return false, err
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			return true, nil
		}
	}
	return false, errors.New("pod default/echoserver not ready")
}

// checkOwnedByNamespace: what destroy leaves to the garbage collector is
// owned by its Namespace itself (its live uid, blocking the namespace's
// foreground deletion): the objects the stack creates in its namespaces and
// MinIO's volume claim, which its StatefulSet created. The history-server,
// whose pods keep serving 5 s after their deletion, is deleted by pulumi
// ahead of its namespace instead, and owned by nothing.
func checkOwnedByNamespace(t *testing.T, cs *kubernetes.Clientset) {
	t.Helper()
	ctx := context.Background()
	namespaces, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	uids := map[string]types.UID{}
	for _, ns := range namespaces.Items {
		uids[ns.Name] = ns.UID
	}
	for o, wantOwned := range map[object]bool{
		{"PersistentVolumeClaim", "production", "data-minio-0"}: true,
		{"Secret", "production", "minio-secret"}:                true,
		{"Service", "production", "minio"}:                      true,
		{"NetworkPolicy", "production", "minio-network-policy"}: true,
		{"StatefulSet", "production", "minio"}:                  true,
		{"CronJob", "production", "price-fetcher"}:              true,
		{"StatefulSet", "test", "postgresql-hl-test"}:           true,
		{"Deployment", "test", "nginx"}:                         true,
		{"Pod", "k8s-lab5", "echoserver"}:                       true,
		{"Deployment", "production", "history-server"}:          false,
	} {
		uid, ok := uids[o.namespace]
		if !ok {
			t.Fatalf("no namespace %s", o.namespace)
		}
		live, err := get(ctx, cs, o)
		if err != nil {
			t.Fatal(err)
		}
		owned := false
		for _, ref := range live.GetOwnerReferences() {
			owned = owned || ref.APIVersion == "v1" && ref.Kind == "Namespace" && ref.Name == o.namespace && ref.UID == uid &&
				ref.BlockOwnerDeletion != nil && *ref.BlockOwnerDeletion
		}
		if owned != wantOwned {
			t.Errorf("%s: owners %+v; blocking reference to Namespace %s (uid %s) wanted: %v", o, live.GetOwnerReferences(), o.namespace, uid, wantOwned)
		}
	}
}

// checkPodSecurityAdmission proves on the real API server that the
// namespaces enforce Pod Security levels and that every production workload
// is admitted under "restricted": the Deployment's and StatefulSet's pods
// exist, and a Job made from the CronJob's template gets its pod created.
func checkPodSecurityAdmission(t *testing.T, cs *kubernetes.Clientset) {
	t.Helper()
	ctx := context.Background()
	for ns, level := range map[string]string{"production": "restricted", "test": "baseline", "ingress-nginx": "restricted"} {
		n, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := n.Labels["pod-security.kubernetes.io/enforce"]; got != level {
			t.Errorf("namespace %s enforces Pod Security %q; want %q", ns, got, level)
		}
	}
	for selector, want := range map[string]int{"microservice=history-server": 1, "app=minio": 1} {
		kubetest.Eventually(t, readyTimeout, "production pods "+selector+" admitted", func(ctx context.Context) (bool, error) {
			pods, err := cs.CoreV1().Pods("production").List(ctx, metav1.ListOptions{LabelSelector: selector})
			return err == nil && len(pods.Items) >= want, err
		})
	}
	cj, err := cs.BatchV1().CronJobs("production").Get(ctx, "price-fetcher", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "price-fetcher-admission-probe", Namespace: "production"},
		Spec:       *cj.Spec.JobTemplate.Spec.DeepCopy(),
	}
	if _, err := cs.BatchV1().Jobs("production").Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatalf("job from the price-fetcher CronJob template: %v", err)
	}
	defer func() {
		policy := metav1.DeletePropagationForeground
		_ = cs.BatchV1().Jobs("production").Delete(ctx, job.Name, metav1.DeleteOptions{PropagationPolicy: &policy})
		requireGone(t, cs, object{"Job", "production", job.Name})
	}()
	kubetest.Eventually(t, readyTimeout, "price-fetcher job pod admitted under restricted", func(ctx context.Context) (bool, error) {
		pods, err := cs.CoreV1().Pods("production").List(ctx, metav1.ListOptions{LabelSelector: "job-name=" + job.Name})
		return err == nil && len(pods.Items) == 1, err
	})
}

// checkStackOutputs: the stack exports the URLs the README promises, with the
// lab's names and ports (the dev stack's node address is loopback).
func checkStackOutputs(t *testing.T, s *stacktest.Stack) {
	t.Helper()
	var out map[string]any
	if err := json.Unmarshal([]byte(s.Pulumi("stack", "output", "--json", "--stack", "dev")), &out); err != nil {
		t.Fatalf("stack outputs: %v", err)
	}
	want := map[string]string{
		"historyServerUrl":      "http://history-server.production.svc.cluster.local:80",
		"minioUrl":              "http://minio.production.svc.cluster.local:9000",
		"echoserverNodePortUrl": "http://127.0.0.1:30001",
	}
	for k, v := range want {
		if out[k] != v {
			t.Errorf("stack output %s = %v, want %s", k, out[k], v)
		}
	}
	for _, k := range []string{"ingressUrl", "ingressHttpNodePort", "namespaces"} {
		if _, ok := out[k]; !ok {
			t.Errorf("stack output %s missing (have %v)", k, out)
		}
	}
}
