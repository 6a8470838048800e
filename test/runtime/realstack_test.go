//go:build cluster

// Package runtime checks the lab's stack as it runs on the local real node
// (stack "local", `make up REAL_NODE=1`): pods that are Ready because their
// probes passed, and the lab's data path with real packets. It skips
// unless the cluster of $KUBECONFIG has a real node running the stack.
//
//	make up REAL_NODE=1
//	go test -tags cluster -c -o /tmp/runtime.test ./test/runtime
//	(cd test/runtime && ../../hack/cluster.sh exec /tmp/runtime.test -test.v)
package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/lab5/k8s-networking/apps/price-fetcher/eleringtest"
	"github.com/lab5/k8s-networking/internal/kubetest"
)

// The stack's namespaces whose pods must run.
var stackNamespaces = []string{"default", "k8s-lab5", "production", "test", "traefik"}

// requireStack skips unless a real node runs the stack.
func requireStack(t *testing.T) kubernetes.Interface {
	t.Helper()
	cs := kubetest.Client(t)
	nodes, err := cs.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	real := false
	for _, n := range nodes.Items {
		if n.Annotations["kwok.x-k8s.io/node"] == "" && n.Name == "lab5-node" {
			real = true
		}
	}
	if _, err := cs.AppsV1().Deployments("production").Get(context.Background(), "history-server", metav1.GetOptions{}); !real || err != nil {
		if os.Getenv("LAB5_RUNTIME_REQUIRED") == "1" { // make test deployed it: a skip would hide a failure
			t.Fatalf("no real node running the stack (real node found: %v, history-server: %v)", real, err)
		}
		t.Skip("no real node running the stack: make up REAL_NODE=1")
	}
	return cs
}

// Every pod of the stack runs on the real node, is Ready and never
// restarted, and every probe its containers declare (readiness, liveness,
// startup) is one the kubelet executed and saw pass: the kubelet counts
// each probe's results in prober_probe_total (it records no event for a
// success), read through the API server's node proxy. Every Deployment and
// StatefulSet has all its replicas ready.
func TestStackPodsReadyBecauseProbesPassed(t *testing.T) {
	cs := requireStack(t)
	ctx := context.Background()
	var probed []probedContainer
	for _, ns := range stackNamespaces {
		pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodSucceeded || p.Labels["batch.kubernetes.io/job-name"] != "" {
				continue
			}
			if p.Spec.NodeName != "lab5-node" || p.Status.Phase != corev1.PodRunning {
				t.Errorf("%s/%s: phase %s on node %q", ns, p.Name, p.Status.Phase, p.Spec.NodeName)
				continue
			}
			started := map[string]time.Time{}
			for _, c := range p.Status.ContainerStatuses {
				if !c.Ready || c.RestartCount != 0 {
					t.Errorf("%s/%s container %s: ready=%v restarts=%d", ns, p.Name, c.Name, c.Ready, c.RestartCount)
				}
				if c.State.Running != nil {
					started[c.Name] = c.State.Running.StartedAt.Time
				}
			}
			for _, c := range p.Spec.Containers {
				pc := probedContainer{pod: p.Namespace + "/" + p.Name, uid: string(p.UID), container: c.Name}
				// When each probe type's first result is due at the latest:
				// the kubelet runs it initialDelaySeconds after the start,
				// then every periodSeconds, each run up to timeoutSeconds.
				for _, d := range []struct {
					kind  string
					probe *corev1.Probe
				}{{"Startup", c.StartupProbe}, {"Readiness", c.ReadinessProbe}, {"Liveness", c.LivenessProbe}} {
					if d.probe == nil {
						continue
					}
					pc.types = append(pc.types, d.kind)
					due := started[c.Name].Add(time.Duration(d.probe.InitialDelaySeconds+max(d.probe.PeriodSeconds, 10)+max(d.probe.TimeoutSeconds, 1)) * time.Second)
					if due.After(pc.due) {
						pc.due = due
					}
				}
				if len(pc.types) > 0 {
					probed = append(probed, pc)
				}
			}
		}
		deps, err := cs.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range deps.Items {
			if d.Status.ReadyReplicas != *d.Spec.Replicas {
				t.Errorf("deployment %s/%s: %d/%d ready", ns, d.Name, d.Status.ReadyReplicas, *d.Spec.Replicas)
			}
		}
		sts, err := cs.AppsV1().StatefulSets(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range sts.Items {
			if s.Status.ReadyReplicas != *s.Spec.Replicas {
				t.Errorf("statefulset %s/%s: %d/%d ready", ns, s.Name, s.Status.ReadyReplicas, *s.Spec.Replicas)
			}
		}
	}
	if len(probed) == 0 {
		t.Fatal("no container with a probe found: the stack declares them for history-server, MinIO and Traefik")
	}

	// A liveness probe with an initial delay may not have run yet when the
	// stack has just become Ready: poll the kubelet's counters until every
	// declared probe type has a success, or its first run is long overdue.
	var successes map[probeKey]float64
	for {
		raw, err := cs.CoreV1().RESTClient().Get().AbsPath("/api/v1/nodes/lab5-node/proxy/metrics/probes").DoRaw(ctx)
		if err != nil {
			t.Fatalf("the kubelet's probe metrics through the API server's node proxy: %v", err)
		}
		successes = probeSuccesses(string(raw))
		missing, overdue := 0, true
		for _, pc := range probed {
			for _, kind := range pc.types {
				if successes[probeKey{pc.uid, pc.container, kind}] == 0 {
					missing++
					overdue = overdue && time.Since(pc.due) > 30*time.Second
				}
			}
		}
		if missing == 0 || overdue {
			break
		}
		time.Sleep(2 * time.Second)
	}

	t.Logf("%-50s %-20s %s", "pod", "container", "successful probes (kubelet's prober_probe_total)")
	for _, pc := range probed {
		var counts []string
		for _, kind := range pc.types {
			n := successes[probeKey{pc.uid, pc.container, kind}]
			counts = append(counts, fmt.Sprintf("%s %.0f", kind, n))
			if n == 0 {
				t.Errorf("%s container %s: the kubelet counted no successful %s probe", pc.pod, pc.container, kind)
			}
		}
		t.Logf("%-50s %-20s %s", pc.pod, pc.container, strings.Join(counts, ", "))
	}
}

// probedContainer is a container of the stack that declares probes: their
// types, and when the last of them should have run at least once.
type probedContainer struct {
	pod, uid, container string
	types               []string
	due                 time.Time
}

// probeKey names one probe of one container of one pod instance.
type probeKey struct{ podUID, container, probeType string }

// probeSuccesses reads the successful results of prober_probe_total from the
// kubelet's /metrics/probes (Prometheus text format), per pod instance,
// container and probe type.
func probeSuccesses(metrics string) map[probeKey]float64 {
	out := map[probeKey]float64{}
	for _, line := range strings.Split(metrics, "\n") {
		rest, ok := strings.CutPrefix(line, "prober_probe_total{")
		if !ok {
			continue
		}
		labelText, value, ok := strings.Cut(rest, "} ")
		if !ok {
			continue
		}
		l := map[string]string{}
		for _, kv := range strings.Split(labelText, ",") {
			k, v, _ := strings.Cut(kv, "=")
			l[k] = strings.Trim(v, `"`)
		}
		n, err := strconv.ParseFloat(strings.Fields(value)[0], 64)
		if err != nil || l["result"] != "successful" {
			continue
		}
		out[probeKey{l["pod_uid"], l["container"], l["probe_type"]}] += n
	}
	return out
}

func TestProbeSuccessesReadsTheKubeletsCounters(t *testing.T) {
	const metrics = `# HELP prober_probe_total [ALPHA] Cumulative number of a liveness, readiness or startup probe for a container by result.
# TYPE prober_probe_total counter
prober_probe_total{container="minio",namespace="production",pod="minio-0",pod_uid="u1",probe_type="Liveness",result="successful"} 4
prober_probe_total{container="minio",namespace="production",pod="minio-0",pod_uid="u1",probe_type="Readiness",result="failed"} 2
prober_probe_total{container="minio",namespace="production",pod="minio-0",pod_uid="u1",probe_type="Readiness",result="successful"} 7
prober_probe_total{container="minio",namespace="production",pod="minio-0",pod_uid="u0",probe_type="Readiness",result="successful"} 30
`
	got := probeSuccesses(metrics)
	want := map[probeKey]float64{
		{"u1", "minio", "Liveness"}:  4,
		{"u1", "minio", "Readiness"}: 7, // failures are not successes
		{"u0", "minio", "Readiness"}: 30,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("probeSuccesses = %v, want %v", got, want)
	}
}

// The lab's data path with real packets: a Job from the price-fetcher
// CronJob's template, pointed at a fixture Elering inside the cluster,
// posts tomorrow's prices to history-server, which stores them in MinIO; a
// client pod labelled as a history-server client reads exactly the
// fixture's prices back through the Service name.
func TestPriceFetcherJobDataReadableThroughHistoryServer(t *testing.T) {
	cs := requireStack(t)
	ctx := context.Background()
	fixture := kubetest.PushGoImage(t, "./test/images/elering-fixture", "elering-fixture")
	netcheck := kubetest.PushGoImage(t, "./test/cluster/netcheck", "netcheck")
	ns := kubetest.RestrictedNamespace(t, cs, "runtime")

	for _, p := range []*corev1.Pod{
		kubetest.RestrictedPod("elering", fixture, map[string]string{"app": "elering"}),
		kubetest.RestrictedPod("client", netcheck, map[string]string{"lab5.io/history-server-client": "true"}, "serve", "-addr", ":8081"),
	} {
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cs.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "elering"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "elering"},
			Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	kubetest.WaitReady(t, cs, ns, "elering", "client")

	// production's lockdown lets price-fetcher reach only history-server
	// and the internet on 443 outside 10/8: the fixture lives in the
	// cluster, so this test's Job gets one more egress allowance, removed
	// afterwards.
	tcp := corev1.ProtocolTCP
	port := intstr.FromInt32(8080)
	np := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "runtime-test-elering-fixture"},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"lab5.io/runtime-test": ns}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
			Egress: []networkingv1.NetworkPolicyEgressRule{{
				To: []networkingv1.NetworkPolicyPeer{{
					NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}},
					PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"app": "elering"}},
				}},
				Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &port}},
			}},
		},
	}
	if _, err := cs.NetworkingV1().NetworkPolicies("production").Create(ctx, np, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cs.NetworkingV1().NetworkPolicies("production").Delete(context.Background(), np.Name, metav1.DeleteOptions{})
	})

	cj, err := cs.BatchV1().CronJobs("production").Get(ctx, "price-fetcher", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "price-fetcher-" + ns},
		Spec:       *cj.Spec.JobTemplate.Spec.DeepCopy(),
	}
	tmpl := &job.Spec.Template
	if tmpl.Labels == nil {
		tmpl.Labels = map[string]string{}
	}
	tmpl.Labels["lab5.io/runtime-test"] = ns
	c := &tmpl.Spec.Containers[0]
	url := "http://elering." + ns + ".svc.cluster.local"
	set := false
	for i := range c.Env {
		if c.Env[i].Name == "ELERING_API_URL" {
			c.Env[i].Value, c.Env[i].ValueFrom, set = url, nil, true
		}
	}
	if !set {
		c.Env = append(c.Env, corev1.EnvVar{Name: "ELERING_API_URL", Value: url})
	}
	if _, err := cs.BatchV1().Jobs("production").Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	bg := metav1.DeletePropagationBackground
	t.Cleanup(func() {
		_ = cs.BatchV1().Jobs("production").Delete(context.Background(), job.Name, metav1.DeleteOptions{PropagationPolicy: &bg})
	})
	deadline := time.Now().Add(2 * time.Minute)
	for {
		j, err := cs.BatchV1().Jobs("production").Get(ctx, job.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if j.Status.Succeeded > 0 {
			break
		}
		if j.Status.Failed > 0 || time.Now().After(deadline) {
			out, _ := exec.Command("kubectl", "-n", "production", "logs", "job/"+job.Name).CombinedOutput()
			t.Fatalf("job %s did not complete (failed %d):\n%s", job.Name, j.Status.Failed, out)
		}
		time.Sleep(time.Second)
	}

	// Tomorrow in the CronJob's time zone: the day price-fetcher fetched.
	tz, err := time.LoadLocation("Europe/Tallinn")
	if err != nil {
		t.Fatal(err)
	}
	day := time.Now().In(tz).AddDate(0, 0, 1).Format("2006-01-02")
	out, err := kubetest.Netcheck(ns, "client", "get", "http://history-server.production.svc.cluster.local/api/prices/?day="+day)
	if err != nil || !strings.HasPrefix(out, "200 ") {
		t.Fatalf("GET prices of %s from the client pod: %v\n%s", day, err, out)
	}
	var recs []struct {
		Timestamp int64   `json:"timestamp"`
		Price     float64 `json:"price"`
	}
	if err := json.Unmarshal([]byte(strings.TrimPrefix(strings.TrimSpace(out), "200 ")), &recs); err != nil {
		t.Fatalf("history-server's answer: %v\n%s", err, out)
	}
	// A day has 92–100 quarter hours (24 hours before October 2025).
	if len(recs) < 23 {
		t.Fatalf("history-server has %d records for %s", len(recs), day)
	}
	for _, r := range recs {
		if r.Price != eleringtest.Price(r.Timestamp) {
			t.Fatalf("record %+v: not the fixture's price %v", r, eleringtest.Price(r.Timestamp))
		}
	}
	t.Logf("%d prices of %s: fixture Elering -> price-fetcher Job -> history-server -> MinIO -> client pod", len(recs), day)

	// MinIO keeps them on its PersistentVolume: a new MinIO pod serves
	// the same answer.
	old, err := cs.CoreV1().Pods("production").Get(ctx, "minio-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.CoreV1().Pods("production").Delete(ctx, "minio-0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(2 * time.Minute); ; time.Sleep(time.Second) {
		p, err := cs.CoreV1().Pods("production").Get(ctx, "minio-0", metav1.GetOptions{})
		if err == nil && p.UID != old.UID && kubetest.IsReady(p) {
			break
		}
		if time.Now().After(end) {
			t.Fatal("no new minio-0 Ready within 2 minutes")
		}
	}
	var again string
	for end := time.Now().Add(30 * time.Second); ; time.Sleep(time.Second) {
		again, err = kubetest.Netcheck(ns, "client", "get", "http://history-server.production.svc.cluster.local/api/prices/?day="+day)
		if (err == nil && again == out) || time.Now().After(end) {
			break
		}
	}
	if again != out {
		t.Fatalf("after MinIO's restart history-server answers\n%s\ninstead of\n%s", again, out)
	}
}

// The lab's own curl checks, as the lab makes them, from pods (kubectl
// exec), with echoserver-network-policy enforced by real packets: a pod
// labelled name=nginx in default and any pod in k8s-lab5 reach echoserver,
// an unlabelled pod in default does not; the postgresql-hl headless name
// resolves to that pod; NodePort 30001 answers on the node address.
// Each row prints the expected and the observed outcome.
func TestLabCurlChecksWithRealPackets(t *testing.T) {
	cs := requireStack(t)
	ctx := context.Background()
	netcheck := kubetest.PushGoImage(t, "./test/cluster/netcheck", "netcheck")
	suffix := fmt.Sprint(time.Now().UnixNano() % 1_000_000)
	clients := []struct{ ns, name string }{
		{"default", "rt-nginx-" + suffix}, {"default", "rt-plain-" + suffix}, {"k8s-lab5", "rt-lab5-" + suffix},
	}
	for i, c := range clients {
		labels := map[string]string{"lab5.io/runtime-test": "client"}
		if i == 0 {
			labels["name"] = "nginx" // the lab's nginx label, admitted by the policy
		}
		p := kubetest.RestrictedPod(c.name, netcheck, labels, "serve", "-addr", ":8081")
		if _, err := cs.CoreV1().Pods(c.ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cs.CoreV1().Pods(c.ns).Delete(context.Background(), c.name, metav1.DeleteOptions{}) })
	}
	for _, c := range clients {
		kubetest.WaitReady(t, cs, c.ns, c.name)
	}
	pg, err := cs.CoreV1().Pods("test").Get(ctx, "postgresql-hl-test-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rows := []struct {
		from   int
		what   []string
		allow  bool
		expect string
	}{
		{0, []string{"get", "http://echoserver"}, true, `"method":"GET"`},
		{1, []string{"get", "http://echoserver"}, false, ""},
		{2, []string{"get", "http://echoserver.default.svc.cluster.local"}, true, `"hostname":"echoserver.default.svc.cluster.local"`},
		{2, []string{"resolve", "postgresql-hl-test-0.postgresql-hl.test.svc.cluster.local"}, true, pg.Status.PodIP},
		{2, []string{"get", "http://10.0.0.2:30001/"}, true, `"originalUrl":"/"`},
	}
	t.Logf("%-22s %-70s %-8s %-8s", "from", "check", "expected", "observed")
	for _, r := range rows {
		c := clients[r.from]
		out, err := kubetest.Netcheck(c.ns, c.name, r.what...)
		got := err == nil && strings.Contains(out, r.expect)
		verdict := map[bool]string{true: "allowed", false: "denied"}
		t.Logf("%-22s %-70s %-8s %-8s", c.ns+"/"+strings.TrimSuffix(c.name, "-"+suffix), strings.Join(r.what, " "), verdict[r.allow], verdict[got])
		if got != r.allow {
			t.Errorf("%s %v from %s/%s: expected %s, observed %s: %s", r.what[0], r.what[1:], c.ns, c.name, verdict[r.allow], verdict[got], out)
		}
	}
}

// production's lockdown with real packets (productionLockdown=true, the
// stack's setting): a pod of production that no allowance names still
// resolves names (DNS is allowed to every pod there) but reaches neither
// history-server nor MinIO; from outside, only a pod labelled as a
// history-server client reaches history-server, and not MinIO. Expected
// values are the lab's README rules, not yet the np-guard table's rows.
func TestProductionLockdownWithRealPackets(t *testing.T) {
	cs := requireStack(t)
	ctx := context.Background()
	netcheck := kubetest.PushGoImage(t, "./test/cluster/netcheck", "netcheck")
	suffix := fmt.Sprint(time.Now().UnixNano() % 1_000_000)
	clients := []struct {
		ns, name string
		labels   map[string]string
	}{
		{"production", "rt-prod-" + suffix, map[string]string{"lab5.io/runtime-test": "client"}},
		{"k8s-lab5", "rt-hsc-" + suffix, map[string]string{"lab5.io/history-server-client": "true"}},
		{"k8s-lab5", "rt-other-" + suffix, map[string]string{"lab5.io/runtime-test": "client"}},
	}
	for _, c := range clients {
		if _, err := cs.CoreV1().Pods(c.ns).Create(ctx, kubetest.RestrictedPod(c.name, netcheck, c.labels, "serve", "-addr", ":8081"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cs.CoreV1().Pods(c.ns).Delete(context.Background(), c.name, metav1.DeleteOptions{}) })
	}
	for _, c := range clients {
		kubetest.WaitReady(t, cs, c.ns, c.name)
	}
	const hs, minio = "history-server.production.svc.cluster.local", "minio.production.svc.cluster.local:9000"
	rows := []struct {
		from  int
		what  []string
		allow bool
	}{
		{0, []string{"resolve", hs}, true},
		{0, []string{"get", "http://" + hs + "/api/prices/?day=2024-01-01"}, false},
		{0, []string{"dial", minio}, false},
		{1, []string{"get", "http://" + hs + "/api/prices/?day=2024-01-01"}, true},
		{1, []string{"dial", minio}, false},
		{2, []string{"get", "http://" + hs + "/api/prices/?day=2024-01-01"}, false},
	}
	verdict := map[bool]string{true: "allowed", false: "denied"}
	t.Logf("%-22s %-80s %-8s %-8s", "from", "check", "expected", "observed")
	for _, r := range rows {
		c := clients[r.from]
		out, err := kubetest.Netcheck(c.ns, c.name, r.what...)
		// Any HTTP answer (even 404 for a day without data) is a connection.
		got := err == nil
		t.Logf("%-22s %-80s %-8s %-8s", c.ns+"/"+strings.TrimSuffix(c.name, "-"+suffix), strings.Join(r.what, " "), verdict[r.allow], verdict[got])
		if got != r.allow {
			t.Errorf("%v from %s/%s: expected %s, observed %s: %s", r.what, c.ns, c.name, verdict[r.allow], verdict[got], out)
		}
	}
}

// pulumi destroy of the stack leaves nothing of it on the node: no pod in
// its namespaces (which are gone), no container of it in containerd, no
// pod IP allocated but CoreDNS's, no nft rule naming its Services. It
// destroys the stack, so it runs only with LAB5_RUNTIME_DESTROY=1 (and
// CLUSTER_STATE set, as hack/cluster.sh exec has it); `make up
// REAL_NODE=1` deploys it again.
func TestDestroyLeavesNothingOnTheNode(t *testing.T) {
	if os.Getenv("LAB5_RUNTIME_DESTROY") != "1" {
		t.Skip("destroys the stack: set LAB5_RUNTIME_DESTROY=1")
	}
	cs := requireStack(t)
	state := os.Getenv("CLUSTER_STATE")
	if state == "" {
		state = filepath.Join(kubetest.RepoRoot(), ".cluster")
	}
	cmd := exec.Command(filepath.Join(kubetest.RepoRoot(), "hack", "stack.sh"), "destroy", "--skip-preview")
	cmd.Dir = kubetest.RepoRoot()
	cmd.Env = append(os.Environ(), "STACK=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("destroy: %v\n%s", err, out)
	}
	ctx := context.Background()
	deadline := time.Now().Add(90 * time.Second)
	for _, ns := range stackNamespaces {
		if ns == "default" {
			continue
		}
		for {
			_, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
			if err != nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("namespace %s still exists", ns)
			}
			time.Sleep(time.Second)
		}
	}
	pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		t.Errorf("pod default/%s left", p.Name)
	}
	// The kubelet removes containers of deleted pods within seconds.
	sock := filepath.Join(state, "node/containerd/containerd.sock")
	left := stillLeftAfter(60*time.Second, func() []string {
		out, err := exec.Command("ctr", "--address", sock, "-n", "k8s.io", "containers", "ls", "-q").Output()
		if err != nil {
			t.Fatal(err)
		}
		var left []string
		for _, id := range strings.Fields(string(out)) {
			// The image reference only: the info's paths contain the
			// checkout's directory, which may well be named lab5.
			var info struct{ Image string }
			raw, _ := exec.Command("ctr", "--address", sock, "-n", "k8s.io", "containers", "info", id).Output()
			if err := json.Unmarshal(raw, &info); err != nil {
				continue // removed between ls and info
			}
			if strings.Contains(info.Image, "/lab5-local/") || strings.Contains(info.Image, "/lab5/") {
				left = append(left, id+" ("+info.Image+")")
			}
		}
		return left
	})
	if len(left) > 0 {
		t.Errorf("containers of the stack's images left in containerd: %v", left)
	}
	// Every pod IP still allocated belongs to a pod that still exists
	// (CoreDNS; a volume helper of local-path-provisioner removing a
	// deleted claim's folder lives for a moment): none was leaked.
	if leaked := stillLeftAfter(60*time.Second, func() []string {
		return leakedPodIPs(t, cs, filepath.Join(state, "node/cni/ipam"))
	}); len(leaked) > 0 {
		t.Errorf("pod IPs allocated to no pod: %v", leaked)
	}
	// kube-proxy flushes a deleted Service's chains at once but deletes the
	// empty chains only at its next sync, which may be an hour away when
	// nothing else changes: an empty chain forwards nothing, so what must
	// be gone is every rule and map element naming the Service.
	if nftLeft := stillLeftAfter(60*time.Second, func() []string {
		nft, err := exec.Command("nft", "list", "ruleset").Output()
		if err != nil {
			t.Fatal(err)
		}
		return nftRulesNaming(string(nft), "production/history-server", "production/minio", "default/echoserver", "test/postgresql-hl", "traefik/traefik")
	}); len(nftLeft) > 0 {
		t.Errorf("nft rules of the stack's Services left:\n%s", strings.Join(nftLeft, "\n"))
	}
	t.Logf("destroyed: no namespace, pod, container, pod IP or nft rule of the stack left")
}

// nftRulesNaming lists the rules and map elements of an `nft list ruleset`
// listing that name one of the Services (namespace/name), and the rules of
// chains named after them; empty chains are not listed.
func nftRulesNaming(ruleset string, services ...string) []string {
	var found []string
	names := func(line string) bool {
		for _, svc := range services {
			if strings.Contains(line, svc) {
				return true
			}
		}
		return false
	}
	inServiceChain := false
	for _, line := range strings.Split(ruleset, "\n") {
		l := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(l, "chain ") && strings.HasSuffix(l, "{"):
			inServiceChain = names(l)
		case l == "}" || l == "":
			inServiceChain = false
		case inServiceChain || names(l):
			found = append(found, l)
		}
	}
	return found
}

func TestNftRulesNamingIgnoresFlushedChains(t *testing.T) {
	const ruleset = `table ip kube-proxy {
	map service-ips {
		type ipv4_addr . inet_proto . inet_service : verdict
		elements = { 10.96.153.115 . tcp . 80 : goto service-S6GSOURV-default/echoserver/tcp/,
			     10.96.0.10 . udp . 53 : goto service-AAAAAAAA-kube-system/kube-dns/dns/ }
	}
	chain service-S6GSOURV-default/echoserver/tcp/ {
		ip daddr 10.96.153.115 ip saddr != 10.244.0.0/16 jump mark-for-masquerade
	}
	chain service-ZZZZZZZZ-production/minio/api/ {
	}
}`
	got := nftRulesNaming(ruleset, "default/echoserver", "production/minio")
	want := []string{
		"elements = { 10.96.153.115 . tcp . 80 : goto service-S6GSOURV-default/echoserver/tcp/,",
		"ip daddr 10.96.153.115 ip saddr != 10.244.0.0/16 jump mark-for-masquerade",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("nftRulesNaming = %q, want %q (the flushed minio chain is not a rule)", got, want)
	}
}

// leakedPodIPs lists the IPs host-local IPAM has allocated (a file per IP
// under dir/<network>/) that no pod of the cluster has.
func leakedPodIPs(t *testing.T, cs kubernetes.Interface, dir string) []string {
	t.Helper()
	pods, err := cs.CoreV1().Pods("").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	inUse := map[string]bool{}
	for _, p := range pods.Items {
		for _, ip := range p.Status.PodIPs {
			inUse[ip.IP] = true
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*", "10.*"))
	var leaked []string
	for _, f := range files {
		if ip := filepath.Base(f); !inUse[ip] {
			leaked = append(leaked, ip)
		}
	}
	return leaked
}

// stillLeftAfter asks look every 2 s until it lists nothing or within has
// passed, and returns its last answer: what the node still had left.
func stillLeftAfter(within time.Duration, look func() []string) []string {
	for end := time.Now().Add(within); ; time.Sleep(2 * time.Second) {
		if left := look(); len(left) == 0 || time.Now().After(end) {
			return left
		}
	}
}
