//go:build cluster

package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/lab5/k8s-networking/infra/netpoltable"
	"github.com/lab5/k8s-networking/internal/kubetest"
	"github.com/lab5/k8s-networking/internal/stacktest"
)

// The NetworkPolicy truth table (infra/netpoltable, whose verdicts infra's
// unit test proves equal to np-guard's evaluation of the program's
// policies) replayed as real connections on the real node, where
// kube-router enforces the policies: for every row, a client pod carrying
// the labels of the row's source workload, in its namespace, connects to
// the row's real destination, and the outcome must be the row's verdict.
// First with the stack as deployed, then with productionLockdown=false
// (pulumi up, restored afterwards).
func TestNetworkPolicyTableWithRealPackets(t *testing.T) {
	cs := requireStack(t)
	stack, ok := stacktest.Deployed(t)
	if !ok {
		msg := "no deployed stack named by " + stacktest.EnvStack + ": the table's second configuration needs pulumi up"
		if os.Getenv("LAB5_RUNTIME_REQUIRED") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	asDeployed, withoutLockdown := replayModes(t, stack)
	start := time.Now()
	lap := func() time.Duration {
		d := time.Since(start).Round(100 * time.Millisecond)
		start = time.Now()
		return d
	}
	r := newReplay(t, cs, asDeployed, withoutLockdown)
	setup := lap()
	r.check(asDeployed)
	first := lap()

	// The second configuration: the lockdown's policies go, MinIO's and
	// echoserver's stay. Restored (before the pods go) for the tests that
	// follow, and waited for, so that they see the lockdown enforced again.
	stack.SetConfig("productionLockdown", "false")
	t.Cleanup(func() {
		lap()
		stack.SetConfig("productionLockdown", "true")
		stack.Up()
		r.waitEngine(true)
		t.Logf("productionLockdown=true restored by pulumi up and enforced by the engine in %s", lap())
	})
	stack.Up()
	r.waitEngine(false)
	switchOff := lap()
	r.check(withoutLockdown)
	t.Logf("replay timings: %d clients and stand-ins running and in the engine's rules %s; table as deployed %s; "+
		"productionLockdown=false by pulumi up and the engine synced %s; table without lockdown %s",
		len(r.clients)+2, setup, first, switchOff, lap())
}

// replayModes are the table's modes of the deployed stack, as deployed and
// without the lockdown; the stack's other settings must be those the table
// assumes.
func replayModes(t *testing.T, stack *stacktest.Stack) (asDeployed, withoutLockdown int) {
	t.Helper()
	var config map[string]struct {
		Value string `json:"value"`
	}
	out := stack.Pulumi(stack.WithConfig("config", "--json")...)
	if err := json.Unmarshal([]byte(out), &config); err != nil {
		t.Fatalf("pulumi config --json: %v\n%s", err, out)
	}
	for key, want := range map[string]string{"productionLockdown": "true", "labTestResources": "true", "minioReplicas": "1"} {
		if got := config["lab5:"+key].Value; got != want {
			t.Fatalf("the deployed stack has %s=%q; the replay expects %q, as the table's columns it uses", key, got, want)
		}
	}
	asDeployed, withoutLockdown = netpoltable.ModeIndex(netpoltable.DefaultMode), netpoltable.ModeIndex(netpoltable.NoLockdownMode)
	if config["lab5:ingressController"].Value == "traefik" {
		asDeployed, withoutLockdown = netpoltable.ModeIndex(netpoltable.TraefikMode), netpoltable.ModeIndex(netpoltable.TraefikNoLockdownMode)
	}
	return asDeployed, withoutLockdown
}

// replayLabel marks this test's pods and Services.
const replayLabel = "lab5.io/netpol-replay"

// A client resolves names through the cluster's DNS unless it has its own
// nameserver (a stand-in's Service, or an address outside the cluster).
type clientKey struct{ src, nameserver string }

type replay struct {
	t        *testing.T
	cs       kubernetes.Interface
	ctx      context.Context
	id       string
	netcheck string
	clients  map[clientKey]string // the client pod's name, in the source's namespace
	// Stand-ins where the destination is no pod of the stack and the
	// cluster's own pod does not serve the row's port.
	metricsStub  string // port 9153 with CoreDNS's labels
	standinDNSIP string // a DNS server with metrics-server's labels, behind a Service
	// sentinel is a destination that no policy protects (a pod of test):
	// the production clients reach it exactly when no lockdown applies.
	sentinel string
}

// newReplay creates the clients of every row replayed in the modes (they
// share them) and the stand-in servers, and waits until kube-router has
// every one of them in its rules.
func newReplay(t *testing.T, cs kubernetes.Interface, modes ...int) *replay {
	t.Helper()
	r := &replay{t: t, cs: cs, ctx: context.Background(), id: fmt.Sprint(time.Now().UnixNano() % 1_000_000),
		netcheck: kubetest.PushGoImage(t, "./test/cluster/netcheck", "netcheck"), clients: map[clientKey]string{}}

	// The stand-ins: a netcheck server on CoreDNS's port 9153 (this
	// cluster's CoreDNS has no metrics endpoint), labelled k8s-app=kube-dns
	// but kept out of the kube-dns Service; a copy of CoreDNS labelled
	// k8s-app=metrics-server, behind a Service of its own so that a client
	// can name it as its resolver before it runs.
	r.metricsStub = "np-kube-dns-9153-" + r.id
	r.create(netpoltable.KubeSystem, r.clientPod(r.metricsStub, netpoltable.KubeDNSPod.Labels, "", "serve", "-addr", ":9153"))
	dns, err := cs.AppsV1().Deployments(netpoltable.KubeSystem).Get(r.ctx, "coredns", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the cluster's CoreDNS, copied as the metrics-server stand-in: %v", err)
	}
	standinLabels := map[string]string{replayLabel: r.id}
	for k, v := range netpoltable.OtherKubeSystemPod.Labels {
		standinLabels[k] = v
	}
	standin := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "np-metrics-server-" + r.id, Labels: standinLabels},
		Spec: *dns.Spec.Template.Spec.DeepCopy()}
	r.create(netpoltable.KubeSystem, standin)
	svc, err := cs.CoreV1().Services(netpoltable.KubeSystem).Create(r.ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: standin.Name, Labels: map[string]string{replayLabel: r.id}},
		Spec: corev1.ServiceSpec{Selector: standinLabels, Ports: []corev1.ServicePort{
			{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromInt32(53)},
		}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cs.CoreV1().Services(netpoltable.KubeSystem).Delete(context.Background(), svc.Name, metav1.DeleteOptions{})
	})
	r.standinDNSIP = svc.Spec.ClusterIP

	// The clients: one per source (and resolver). Those of production
	// come last, once all others have their address: the sync of the
	// policy engine that puts them in its rules has every other client
	// too (kube-router syncs every pod at once).
	var prod []clientKey
	for _, row := range netpoltable.Rows {
		if !strings.Contains(row.Src, "/") || !slices.ContainsFunc(modes, func(m int) bool { return row.VerdictIn(m) != netpoltable.Skip }) {
			continue
		}
		key := clientKey{src: row.Src}
		if row.Proto == "UDP" {
			key.nameserver = r.nameserver(row.Dst)
		}
		if _, done := r.clients[key]; done {
			continue
		}
		ns, _, _ := strings.Cut(row.Src, "/")
		r.clients[key] = fmt.Sprintf("np-%d-%s", len(r.clients), r.id)
		if ns == netpoltable.Production {
			prod = append(prod, key)
			continue
		}
		r.createClient(key)
	}
	r.waitRunning(r.metricsStub, standin.Name)
	kubetest.WaitReady(t, cs, netpoltable.KubeSystem, standin.Name)
	for key, name := range r.clients {
		if !strings.HasPrefix(key.src, netpoltable.Production+"/") {
			r.waitRunning(name)
		}
	}
	for _, key := range prod {
		r.createClient(key)
	}
	for _, key := range prod {
		r.waitRunning(r.clients[key])
	}
	r.sentinel = r.podAddr(netpoltable.TestNginx, 80)
	r.waitEngine(true)
	return r
}

// nameserver is the resolver a client needs for a UDP (DNS) row to dst.
func (r *replay) nameserver(dst string) string {
	switch {
	case dst == netpoltable.MetricsServer:
		return r.standinDNSIP
	case !strings.Contains(dst, "/"):
		return dst // an address outside the cluster
	}
	return "" // CoreDNS through the kube-dns Service, as every pod resolves
}

// clientPod is a netcheck pod with the given labels and this test's mark,
// kept out of every Service by a readiness gate nobody sets (a client with
// a workload's labels must not receive that workload's traffic).
func (r *replay) clientPod(name string, podLabels map[string]string, nameserver string, args ...string) *corev1.Pod {
	l := map[string]string{replayLabel: r.id}
	for k, v := range podLabels {
		l[k] = v
	}
	p := kubetest.RestrictedPod(name, r.netcheck, l, args...)
	p.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "lab5.io/never-in-a-service"}}
	if nameserver != "" {
		p.Spec.DNSPolicy = corev1.DNSNone
		p.Spec.DNSConfig = &corev1.PodDNSConfig{Nameservers: []string{nameserver}}
	}
	return p
}

func (r *replay) createClient(key clientKey) {
	ns, _, _ := strings.Cut(key.src, "/")
	r.create(ns, r.clientPod(r.clients[key], r.sourceLabels(key.src), key.nameserver, "serve", "-addr", ":8081"))
}

func (r *replay) create(ns string, p *corev1.Pod) {
	r.t.Helper()
	if _, err := r.cs.CoreV1().Pods(ns).Create(r.ctx, p, metav1.CreateOptions{}); err != nil {
		r.t.Fatalf("pod %s/%s: %v", ns, p.Name, err)
	}
	r.t.Cleanup(func() { _ = r.cs.CoreV1().Pods(ns).Delete(context.Background(), p.Name, metav1.DeleteOptions{}) })
}

// waitRunning waits for the named pods (of any namespace) to have an
// address and running containers; clients are never Ready (see clientPod).
func (r *replay) waitRunning(names ...string) {
	r.t.Helper()
	for _, name := range names {
		kubetest.Eventually(r.t, 2*time.Minute, "pod "+name+" running", func(ctx context.Context) (bool, error) {
			pods, err := r.cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
			if err != nil || len(pods.Items) != 1 {
				return false, err
			}
			p := pods.Items[0]
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.ContainersReady && c.Status == corev1.ConditionTrue && p.Status.PodIP != "" {
					return true, nil
				}
			}
			return false, fmt.Errorf("phase %s", p.Status.Phase)
		})
	}
}

// waitEngine waits until kube-router enforces (lockdown) or no longer
// enforces production's lockdown for every production client: each of
// them reaches a pod of test, which no policy protects, exactly when the
// lockdown is off.
func (r *replay) waitEngine(lockdown bool) {
	r.t.Helper()
	for key, name := range r.clients {
		if !strings.HasPrefix(key.src, netpoltable.Production+"/") {
			continue
		}
		kubetest.Eventually(r.t, 90*time.Second, fmt.Sprintf("%s (labels of %s) reaching %s %s", name, key.src, r.sentinel,
			map[bool]string{true: "denied (lockdown enforced)", false: "allowed (no lockdown)"}[lockdown]),
			func(context.Context) (bool, error) {
				out, err := kubetest.Netcheck(netpoltable.Production, name, "dial", r.sentinel)
				return (err != nil) == lockdown, errors.New(strings.TrimSpace(out))
			})
	}
}

// sourceLabels are the labels of the row source's pods: its workload's pod
// template (a Deployment, StatefulSet, CronJob or bare Pod of the stack;
// "name-1" is a second member of StatefulSet "name"), or the table's own
// description of a pod the stack does not declare.
func (r *replay) sourceLabels(src string) map[string]string {
	r.t.Helper()
	for _, p := range netpoltable.OtherPods {
		if p.Namespace+"/"+p.Name == src {
			return p.Labels
		}
	}
	ns, name, _ := strings.Cut(src, "/")
	if d, err := r.cs.AppsV1().Deployments(ns).Get(r.ctx, name, metav1.GetOptions{}); err == nil {
		return d.Spec.Template.Labels
	}
	sts := strings.TrimSuffix(name, "-1")
	if s, err := r.cs.AppsV1().StatefulSets(ns).Get(r.ctx, sts, metav1.GetOptions{}); err == nil {
		return s.Spec.Template.Labels
	}
	if c, err := r.cs.BatchV1().CronJobs(ns).Get(r.ctx, name, metav1.GetOptions{}); err == nil {
		return c.Spec.JobTemplate.Spec.Template.Labels
	}
	if p, err := r.cs.CoreV1().Pods(ns).Get(r.ctx, name, metav1.GetOptions{}); err == nil {
		return p.Labels
	}
	r.t.Fatalf("row source %s: no workload of the stack by that name", src)
	return nil
}

// podAddr is the address of a running pod of the destination workload
// (a Deployment, StatefulSet or bare Pod of the stack, "ns/name") on port.
func (r *replay) podAddr(dst string, port int) string {
	r.t.Helper()
	ns, name, _ := strings.Cut(dst, "/")
	var sel labels.Selector
	if d, err := r.cs.AppsV1().Deployments(ns).Get(r.ctx, name, metav1.GetOptions{}); err == nil {
		sel, _ = metav1.LabelSelectorAsSelector(d.Spec.Selector)
	} else if s, err := r.cs.AppsV1().StatefulSets(ns).Get(r.ctx, name, metav1.GetOptions{}); err == nil {
		sel, _ = metav1.LabelSelectorAsSelector(s.Spec.Selector)
	} else if p, err := r.cs.CoreV1().Pods(ns).Get(r.ctx, name, metav1.GetOptions{}); err == nil && p.Status.PodIP != "" {
		return net.JoinHostPort(p.Status.PodIP, strconv.Itoa(port))
	} else {
		r.t.Fatalf("row destination %s: no workload of the stack by that name (%v)", dst, err)
	}
	return r.selectedAddr(ns, sel, port, dst)
}

// selectedAddr is the address of the first running pod of ns that sel
// selects, this test's pods excepted.
func (r *replay) selectedAddr(ns string, sel labels.Selector, port int, what string) string {
	r.t.Helper()
	pods, err := r.cs.CoreV1().Pods(ns).List(r.ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		r.t.Fatal(err)
	}
	var ips []string
	for _, p := range pods.Items {
		if p.Labels[replayLabel] == "" && p.Status.Phase == corev1.PodRunning && p.Status.PodIP != "" {
			ips = append(ips, p.Status.PodIP)
		}
	}
	if len(ips) == 0 {
		r.t.Fatalf("%s: no running pod", what)
	}
	sort.Strings(ips)
	return net.JoinHostPort(ips[0], strconv.Itoa(port))
}

// target is where a row's connection goes on this cluster, and what a
// refusal there means.
type target struct {
	addr string // host:port the client dials, or the name it resolves
	note string // a stand-in, a DNAT, or why the row is not a policy check
	// outside: no route leaves the namespace, so the connection is
	// dropped by routing before any policy sees it.
	outside bool
	// listens: something answers there when the policy lets it (the node
	// itself, which kube-router always lets in, connected); a refusal of
	// an address where nothing listens proves no policy.
	listens bool
}

// resolve finds the row's destination on this cluster.
func (r *replay) resolve(row netpoltable.Row) target {
	r.t.Helper()
	if row.Proto == "UDP" { // DNS: netcheck resolves a name through the client's resolver
		tg := target{addr: "kubernetes.default.svc.cluster.local.", listens: true}
		switch row.Dst {
		case netpoltable.CoreDNS:
			tg.note = "the cluster's CoreDNS, through the kube-dns Service"
		case netpoltable.MetricsServer:
			tg.note = "stand-in: a copy of CoreDNS labelled like metrics-server, through a Service"
		default:
			tg.outside, tg.note = true, "resolver "+row.Dst+": "+outsideNote
		}
		return tg
	}
	var tg target
	switch {
	case strings.HasPrefix(row.Dst, "svc:"):
		ns, name, _ := strings.Cut(strings.TrimPrefix(row.Dst, "svc:"), "/")
		svc, err := r.cs.CoreV1().Services(ns).Get(r.ctx, name, metav1.GetOptions{})
		if err != nil {
			r.t.Fatalf("row destination %s: %v", row.Dst, err)
		}
		if svc.Spec.ClusterIP != corev1.ClusterIPNone {
			tg.addr = net.JoinHostPort(svc.Spec.ClusterIP, strconv.Itoa(row.Port))
			break
		}
		// Headless: clients connect to the pods its name resolves to.
		tg.addr = r.selectedAddr(ns, labels.SelectorFromSet(svc.Spec.Selector), row.Port, row.Dst)
		tg.note = "headless Service: a pod of it"
	case row.Dst == netpoltable.CoreDNS && row.Port != 53:
		tg.addr = r.podAddr(netpoltable.KubeSystem+"/"+r.metricsStub, row.Port)
		tg.note = "stand-in labelled k8s-app=kube-dns (this cluster's CoreDNS serves no metrics)"
	case row.Dst == netpoltable.CoreDNS:
		tg.addr = r.selectedAddr(netpoltable.KubeSystem, labels.SelectorFromSet(netpoltable.KubeDNSPod.Labels), row.Port, row.Dst)
		tg.note = "the cluster's CoreDNS pod"
	case strings.Contains(row.Dst, "/"):
		tg.addr = r.podAddr(row.Dst, row.Port)
	case row.Dst == netpoltable.ServiceIP:
		tg.addr = net.JoinHostPort(row.Dst, strconv.Itoa(row.Port))
		tg.note = r.serviceNote(row.Dst)
	default:
		return target{addr: net.JoinHostPort(row.Dst, strconv.Itoa(row.Port)), outside: true, note: outsideNote}
	}
	// Whether anything listens there: the node itself may connect to any
	// pod (kube-router lets the node's own addresses in, for the kubelet's
	// probes).
	if c, err := net.DialTimeout("tcp", tg.addr, 2*time.Second); err == nil {
		c.Close()
		tg.listens = true
	} else if tg.note == "" {
		tg.note = "nothing listens on " + tg.addr + ": a refusal is not the policy's (not a policy check)"
	}
	return tg
}

// outsideNote explains the rows to addresses outside the cluster: the
// namespace has no route out, and a forwarded packet is routed before the
// filter hook where kube-router's rules are, so no policy ever sees it. The
// node answers with ICMP unreachable, an error the kernel rate-limits:
// some attempts only time out.
const outsideNote = "no route out of the namespace: dropped by routing before any policy (not a policy check)"

// serviceNote says which Service an address of the Service range is here.
func (r *replay) serviceNote(ip string) string {
	svcs, err := r.cs.CoreV1().Services("").List(r.ctx, metav1.ListOptions{})
	if err != nil {
		r.t.Fatal(err)
	}
	for _, s := range svcs.Items {
		if s.Spec.ClusterIP == ip {
			return "Service " + s.Namespace + "/" + s.Name + " here: the policy sees its endpoint after DNAT"
		}
	}
	return "an unused address of the Service range"
}

// observation is one replayed row.
type observation struct {
	row      netpoltable.Row
	want     netpoltable.Verdict
	observed string // allowed, denied, unroutable, or why not replayed
	checked  bool   // observed is a policy verdict compared with want
	note     string
	output   string
}

// check replays every row of mode i and prints the table.
func (r *replay) check(i int) {
	r.t.Helper()
	mode := netpoltable.Modes[i]
	obs := make([]observation, len(netpoltable.Rows))
	var wg sync.WaitGroup
	limit := make(chan struct{}, 6) // kubectl execs at once
	for n, row := range netpoltable.Rows {
		o := &obs[n]
		o.row, o.want = row, row.VerdictIn(i)
		switch {
		case o.want == netpoltable.Skip:
			o.observed, o.note = "-", "a peer does not exist in this configuration"
			continue
		case !strings.Contains(row.Src, "/"):
			o.observed = "not replayed"
			o.note = "source outside the cluster: none exists here (the node's own address is let in to every pod, for the kubelet's probes)"
			continue
		}
		tg := r.resolve(row)
		key := clientKey{src: row.Src}
		if row.Proto == "UDP" {
			key.nameserver = r.nameserver(row.Dst)
		}
		ns, _, _ := strings.Cut(row.Src, "/")
		args := []string{"dial", tg.addr}
		if row.Proto == "UDP" {
			args = []string{"resolve", tg.addr}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			limit <- struct{}{}
			defer func() { <-limit }()
			o.note = tg.note
			// One retry for an allowed row: the engine may sync a moment
			// after a change.
			for attempt := 0; ; attempt++ {
				out, err := kubetest.Netcheck(ns, r.clients[key], args...)
				o.output = strings.TrimSpace(out)
				o.observed = classify(err, o.output, tg.outside)
				if o.observed == "allowed" || o.want != netpoltable.Allow || attempt == 1 || tg.outside {
					break
				}
				time.Sleep(time.Second)
			}
			o.checked = !tg.outside && (tg.listens || o.observed == "allowed")
		}()
	}
	wg.Wait()

	checked, mismatched, replayable := 0, 0, 0
	var table strings.Builder
	fmt.Fprintf(&table, "NetworkPolicy truth table with real packets, stack config %s (clients: netcheck pods with the labels of the source's workload, in its namespace)\n", mode.Name)
	fmt.Fprintf(&table, "%-3s %-44s %-36s %-9s %-8s %-12s %s\n", "#", "from", "to", "port", "engine", "observed", "note")
	for n, o := range obs {
		mark := ""
		if o.want != netpoltable.Skip {
			replayable++
		}
		if o.checked {
			checked++
			if o.observed != o.want.String() {
				mismatched++
				mark = "  <-- MISMATCH: " + o.output
			}
		}
		fmt.Fprintf(&table, "%-3d %-44s %-36s %-9s %-8s %-12s %s%s\n", n+1, o.row.Src, o.row.Dst,
			fmt.Sprintf("%s/%d", o.row.Proto, o.row.Port), o.want, o.observed, o.note, mark)
		switch {
		case o.checked && o.observed != o.want.String():
			r.t.Errorf("row %d %s -> %s %s/%d (%s): the engine says %s, the real packets %s: %s",
				n+1, o.row.Src, o.row.Dst, o.row.Proto, o.row.Port, mode.Name, o.want, o.observed, o.output)
		case strings.HasSuffix(o.note, outsideNote):
			if o.observed != "unroutable" && o.observed != "no answer" {
				r.t.Errorf("row %d %s -> %s: an address outside the namespace was %s: %s", n+1, o.row.Src, o.row.Dst, o.observed, o.output)
			}
		}
	}
	fmt.Fprintf(&table, "%d of the %d rows of this configuration replayed as policy checks, %d equal to the engine's verdict", checked, replayable, checked-mismatched)
	r.t.Log("\n" + table.String())
	if checked < replayable/2 {
		r.t.Errorf("only %d of %d rows were policy checks", checked, replayable)
	}
}

// classify names netcheck's outcome: connected (or resolved) is allowed;
// kube-router rejects with ICMP port unreachable (connection refused) and a
// resolver then fails; no route to an address outside is unroutable (or
// no answer, see outsideNote); a failure that is not netcheck's own
// (kubectl exec's) is an error.
func classify(err error, out string, outside bool) string {
	switch {
	case err == nil:
		return "allowed"
	case !strings.Contains(out, "netcheck: "):
		return "error"
	case strings.Contains(out, "no route to host") || strings.Contains(out, "network is unreachable"):
		return "unroutable"
	case outside && strings.Contains(out, "timeout"):
		return "no answer"
	}
	return "denied"
}
