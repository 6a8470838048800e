package infra

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/np-guard/netpol-analyzer/pkg/netpol/eval"

	"github.com/lab5/k8s-networking/infra/netpoltable"
	corev1 "k8s.io/api/core/v1"
	netv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// The NetworkPolicy truth table (package netpoltable): every NetworkPolicy
// the program declares, every namespace it declares (with the labels the
// API server adds) and one representative pod per declared workload (its
// pod template's real labels and container ports) are converted to
// k8s.io/api objects and loaded into a NetworkPolicy evaluation engine
// (np-guard/netpol-analyzer's eval package, which implements the
// Kubernetes NetworkPolicy semantics: isolation per direction, OR-ed
// peers, AND-ed selectors within one peer, ipBlock except, ports of the
// destination pod). Each row is then asked of the engine, in each of the
// table's configurations (netpoltable.Modes).

// nodeIP is the host IP of every representative pod. No packet is sent
// anywhere: it only feeds the engine.
const nodeIP = "192.168.49.2"

// netpolWorld is one configuration's objects, loaded into an engine.
type netpolWorld struct {
	t          *testing.T
	r          *labRun
	engine     *eval.PolicyEngine
	namespaces map[string]*corev1.Namespace
	pods       map[string]*corev1.Pod // "ns/name"
	policies   []*netv1.NetworkPolicy
}

// jsonValue turns recorded inputs into plain JSON values: secrets are
// unwrapped; unknown values (none in a mock update) become null.
func jsonValue(v any) any {
	switch x := v.(type) {
	case secretValue:
		return jsonValue(x.V)
	case unknownValue:
		return nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonValue(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonValue(e)
		}
		return out
	}
	return v
}

// decodeStrict decodes recorded inputs into a k8s.io/api type, rejecting
// fields the type does not have (a misspelt field would be silently ignored
// by the API server's non-strict decoding, and by this test otherwise).
func decodeStrict(t *testing.T, what string, v any, into any) {
	t.Helper()
	b, err := json.Marshal(jsonValue(v))
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		t.Fatalf("%s does not decode as %T: %v\n%s", what, into, err, b)
	}
}

// newNetpolWorld runs the program with config and loads its objects.
func newNetpolWorld(t *testing.T, config map[string]string) *netpolWorld {
	t.Helper()
	w := &netpolWorld{
		t:          t,
		r:          mustRun(t, config),
		engine:     eval.NewPolicyEngine(),
		namespaces: map[string]*corev1.Namespace{},
		pods:       map[string]*corev1.Pod{},
	}

	// Namespaces: the declared ones with their labels, plus default and
	// kube-system, which every cluster has. The API server labels each
	// with kubernetes.io/metadata.name = its name.
	addNS := func(name string, l map[string]string) {
		nsLabels := map[string]string{labelNamespaceName: name}
		for k, v := range l {
			nsLabels[k] = v
		}
		w.namespaces[name] = &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: nsLabels}}
	}
	addNS(NamespaceDefault, nil)
	addNS(kubeSystemNamespace, nil)
	for _, o := range w.r.ofKind("Namespace") {
		var ns corev1.Namespace
		decodeStrict(t, o.key(), o.Obj, &ns)
		addNS(ns.Name, ns.Labels)
	}

	// One representative pod per workload: its template's labels and
	// containers, scheduled (host and pod IP set, as the engine requires).
	// A StatefulSet of several pods gets a second one, <name>-1, for the
	// traffic between its members (distributed MinIO). MinIO's pods are
	// named "minio" and "minio-1" whatever the layout's StatefulSet is
	// called, so that the rows hold for every layout.
	for _, o := range w.r.objects {
		if !workloadKinds[o.Kind] {
			continue
		}
		name := o.Name
		if o.Kind == "StatefulSet" && o.labels(podLabelsPath(o.Kind))["app"] == MinioName {
			name = MinioName
		}
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: o.Namespace, Labels: o.labels(podLabelsPath(o.Kind)),
		}}
		decodeStrict(t, o.key()+" pod spec", o.dig(podSpecPath(o.Kind)), &pod.Spec)
		w.addPod(pod)
		if o.Kind == "StatefulSet" && o.num("spec.replicas") > 1 {
			peer := pod.DeepCopy()
			peer.Name = name + "-1"
			w.addPod(peer)
		}
	}
	for _, p := range netpoltable.OtherPods {
		w.addPod(p.DeepCopy())
	}

	for _, o := range w.r.ofKind("NetworkPolicy") {
		np := &netv1.NetworkPolicy{}
		decodeStrict(t, o.key(), o.Obj, np)
		w.policies = append(w.policies, np)
	}

	for _, ns := range w.namespaces {
		w.insert(ns)
	}
	for _, p := range w.pods {
		if _, ok := w.namespaces[p.Namespace]; !ok {
			t.Fatalf("pod %s/%s is in namespace %q, which neither the stack nor the cluster has", p.Namespace, p.Name, p.Namespace)
		}
		w.insert(p)
	}
	for _, np := range w.policies {
		w.insert(np)
	}
	return w
}

func (w *netpolWorld) addPod(p *corev1.Pod) {
	key := p.Namespace + "/" + p.Name
	if _, dup := w.pods[key]; dup {
		w.t.Fatalf("two representative pods named %s", key)
	}
	p.Status = corev1.PodStatus{
		Phase:  corev1.PodRunning,
		HostIP: nodeIP,
		PodIPs: []corev1.PodIP{{IP: fmt.Sprintf("10.244.%d.%d", len(w.pods)/200, 10+len(w.pods)%200)}},
	}
	p.Status.PodIP = p.Status.PodIPs[0].IP
	w.pods[key] = p
}

func (w *netpolWorld) insert(obj interface {
	runtime.Object
	metav1.Object
}) {
	w.t.Helper()
	if err := w.engine.InsertObject(obj); err != nil {
		w.t.Fatalf("engine rejects %s/%s: %v", obj.GetNamespace(), obj.GetName(), err)
	}
}

// endpoint is where a row's connection really lands: a pod and its port,
// or an IP address.
type endpoint struct {
	peer string // "ns/pod" or an IP address
	port int    // the port the destination pod (or address) receives on
	pod  *corev1.Pod
}

// resolve turns a row's destination into an endpoint. "svc:ns/name" is a
// Service, resolved the way kube-proxy does: the Service port to its
// targetPort (a number, or a container port name looked up in the pod),
// and the selector to the pod. "ns/name" is a pod; anything else is an IP.
func (w *netpolWorld) resolve(dst string, port int) (endpoint, bool) {
	w.t.Helper()
	if strings.HasPrefix(dst, "svc:") {
		ns, name, _ := strings.Cut(strings.TrimPrefix(dst, "svc:"), "/")
		svc, ok := w.r.find("Service", ns, name)
		if !ok {
			return endpoint{}, false
		}
		var s corev1.Service
		decodeStrict(w.t, svc.key(), svc.Obj, &s)
		var pod *corev1.Pod
		for _, p := range w.podsIn(ns) {
			if len(s.Spec.Selector) > 0 && labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(p.Labels)) {
				pod = p
				break
			}
		}
		if pod == nil {
			w.t.Fatalf("Service %s selects no pod", dst)
		}
		for _, sp := range s.Spec.Ports {
			if int(sp.Port) != port {
				continue
			}
			target := sp.TargetPort.IntValue()
			if sp.TargetPort.Type == intstr.String { // a container port name
				target = 0
				for _, c := range pod.Spec.Containers {
					for _, cp := range c.Ports {
						if cp.Name == sp.TargetPort.StrVal {
							target = int(cp.ContainerPort)
						}
					}
				}
			}
			if target == 0 {
				target = port // targetPort defaults to port
			}
			return endpoint{peer: pod.Namespace + "/" + pod.Name, port: target, pod: pod}, true
		}
		w.t.Fatalf("Service %s has no port %d", dst, port)
	}
	if strings.Contains(dst, "/") {
		p, ok := w.pods[dst]
		return endpoint{peer: dst, port: port, pod: p}, ok
	}
	return endpoint{peer: dst, port: port}, true
}

func (w *netpolWorld) podsIn(ns string) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range w.pods {
		if p.Namespace == ns {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// exists reports whether a row's source exists in this world.
func (w *netpolWorld) exists(peer string) bool {
	if !strings.Contains(peer, "/") || strings.HasPrefix(peer, "svc:") {
		return true
	}
	_, ok := w.pods[peer]
	return ok
}

// allowed asks the engine.
func (w *netpolWorld) allowed(src string, dst endpoint, proto string) bool {
	w.t.Helper()
	ok, err := w.engine.CheckIfAllowed(src, dst.peer, proto, strconv.Itoa(dst.port))
	if err != nil {
		w.t.Fatalf("engine: %s -> %s %s/%d: %v", src, dst.peer, proto, dst.port, err)
	}
	return ok
}

// listens reports whether the pod declares that container port.
func listens(p *corev1.Pod, proto string, port int) bool {
	for _, c := range p.Spec.Containers {
		for _, cp := range c.Ports {
			cpProto := string(cp.Protocol)
			if cpProto == "" {
				cpProto = "TCP"
			}
			if int(cp.ContainerPort) == port && cpProto == proto {
				return true
			}
		}
	}
	return false
}

// TestNetworkPolicyTruthTable evaluates netpoltable.Rows with the engine, and
// checks that MinIO's API is denied to every pod outside production.
func TestNetworkPolicyTruthTable(t *testing.T) {
	t.Parallel()
	for i, mode := range netpoltable.Modes {
		t.Run(mode.Name, func(t *testing.T) {
			t.Parallel()
			w := newNetpolWorld(t, with(mode.Config...))
			var lines []string
			for _, row := range netpoltable.Rows {
				want := row.VerdictIn(i)
				if want == netpoltable.Inherit {
					t.Fatalf("%s -> %s: no verdict for %s", row.Src, row.Dst, mode.Name)
				}
				if want == netpoltable.Skip {
					if w.exists(row.Src) && w.existsDst(row.Dst) {
						t.Errorf("%s -> %s: marked skip, but both exist in this configuration", row.Src, row.Dst)
					}
					continue
				}
				if !w.exists(row.Src) {
					t.Errorf("row source %s does not exist", row.Src)
					continue
				}
				dst, ok := w.resolve(row.Dst, row.Port)
				if !ok {
					t.Errorf("row destination %s does not exist", row.Dst)
					continue
				}
				got := w.allowed(row.Src, dst, row.Proto)
				if (want == netpoltable.Allow) != got {
					t.Errorf("%s -> %s %s/%d (pod port %d): %v, want %v (%s)", row.Src, row.Dst, row.Proto, row.Port, dst.port, netpoltable.VerdictOf(got), want, row.Why)
				}
				// An allowed row must be a real service: the pod listens
				// there.
				if (i == 0 || mode.Base == 0) && want == netpoltable.Allow && dst.pod != nil && !listens(dst.pod, row.Proto, dst.port) {
					t.Errorf("%s -> %s: allowed on %s/%d, where the pod does not listen", row.Src, row.Dst, row.Proto, dst.port)
				}
				lines = append(lines, fmt.Sprintf("%-40s %-36s %s/%-5d -> %-30s %s", row.Src, row.Dst, row.Proto, row.Port, dst.peer+":"+strconv.Itoa(dst.port), netpoltable.VerdictOf(got)))
			}

			// No pod outside production, nor price-fetcher, reaches MinIO.
			minio, _ := w.resolve(netpoltable.MinioSvc, MinioAPIPort)
			n := 0
			for key, p := range w.pods {
				if p.Namespace == NamespaceProduction && key != netpoltable.PriceFetcher {
					continue
				}
				n++
				if w.allowed(key, minio, "TCP") {
					t.Errorf("%s reaches MinIO's API", key)
				}
			}
			if n < 8 {
				t.Errorf("only %d pods checked against MinIO", n)
			}
			if testing.Verbose() {
				t.Logf("truth table (%s):\n%s", mode.Name, strings.Join(lines, "\n"))
			}
		})
	}
}

func (w *netpolWorld) existsDst(dst string) bool {
	if strings.HasPrefix(dst, "svc:") {
		ns, name, _ := strings.Cut(strings.TrimPrefix(dst, "svc:"), "/")
		_, ok := w.r.find("Service", ns, name)
		return ok
	}
	return w.exists(dst)
}

// TestNetworkPolicyWorld: the evaluation above stands on real objects: the
// representative pods are every declared workload, every policy and every
// peer selector selects at least one of them, and the policies are exactly
// the expected set for each configuration.
func TestNetworkPolicyWorld(t *testing.T) {
	t.Parallel()
	wantPolicies := map[string][]string{
		"default": {
			"default/" + EchoserverAllowIngressControllerName, "default/" + EchoserverNetworkPolicyName,
			"production/" + AllowDNSEgressName, "production/" + DefaultDenyAllName,
			"production/" + HistoryServerNetworkPolicyName, "production/" + MinioNetworkPolicyName,
			"production/" + PriceFetcherNetworkPolicyName,
		},
		"productionLockdown=false": {
			"default/" + EchoserverAllowIngressControllerName, "default/" + EchoserverNetworkPolicyName,
			"production/" + MinioNetworkPolicyName,
		},
		"labTestResources=false": {
			"production/" + AllowDNSEgressName, "production/" + DefaultDenyAllName,
			"production/" + HistoryServerNetworkPolicyName, "production/" + MinioNetworkPolicyName,
			"production/" + PriceFetcherNetworkPolicyName,
		},
		"minioReplicas=4": {
			"default/" + EchoserverAllowIngressControllerName, "default/" + EchoserverNetworkPolicyName,
			"production/" + AllowDNSEgressName, "production/" + DefaultDenyAllName,
			"production/" + HistoryServerNetworkPolicyName, "production/" + MinioNetworkPolicyName,
			"production/" + MinioPeerEgressName, "production/" + PriceFetcherNetworkPolicyName,
		},
		"minioReplicas=4,productionLockdown=false": {
			"default/" + EchoserverAllowIngressControllerName, "default/" + EchoserverNetworkPolicyName,
			"production/" + MinioNetworkPolicyName,
		},
		netpoltable.TraefikMode: {
			"default/" + EchoserverAllowIngressControllerName, "default/" + EchoserverNetworkPolicyName,
			"production/" + AllowDNSEgressName, "production/" + DefaultDenyAllName,
			"production/" + HistoryServerNetworkPolicyName, "production/" + MinioNetworkPolicyName,
			"production/" + PriceFetcherNetworkPolicyName,
		},
		netpoltable.TraefikNoLockdownMode: {
			"default/" + EchoserverAllowIngressControllerName, "default/" + EchoserverNetworkPolicyName,
			"production/" + MinioNetworkPolicyName,
		},
	}
	for _, mode := range netpoltable.Modes {
		t.Run(mode.Name, func(t *testing.T) {
			t.Parallel()
			w := newNetpolWorld(t, with(mode.Config...))
			var got []string
			for _, np := range w.policies {
				got = append(got, np.Namespace+"/"+np.Name)
			}
			sort.Strings(got)
			if strings.Join(got, " ") != strings.Join(wantPolicies[mode.Name], " ") {
				t.Errorf("policies:\n got %v\nwant %v", got, wantPolicies[mode.Name])
			}

			// The representative pods include the lab's workloads and
			// the mode's ingress controller (and not the other one).
			ctl, ctlKey, ctlValue, other := netpoltable.IngressNginx, labelComponent, "controller", netpoltable.TraefikPod
			if mode.Setting("ingressController") == "traefik" {
				ctl, ctlKey, ctlValue, other = netpoltable.TraefikPod, "app", "traefik", netpoltable.IngressNginx
			}
			for _, p := range []string{netpoltable.PriceFetcher, netpoltable.HistoryServer, netpoltable.MinioPod, netpoltable.TestNginx, ctl, NamespaceDefault + "/" + EchoserverName} {
				if _, ok := w.pods[p]; !ok {
					t.Fatalf("no representative pod %s", p)
				}
			}
			if _, ok := w.pods[other]; ok {
				t.Errorf("both controllers' pods exist: %s", other)
			}
			if w.pods[netpoltable.PriceFetcher].Labels["microservice"] != "price-fetcher" || w.pods[ctl].Labels[ctlKey] != ctlValue {
				t.Errorf("representative pods lack their template labels: %v %v", w.pods[netpoltable.PriceFetcher].Labels, w.pods[ctl].Labels)
			}

			for _, np := range w.policies {
				if len(w.selectedPods(np.Namespace, nil, &np.Spec.PodSelector)) == 0 {
					t.Errorf("%s/%s selects no pod", np.Namespace, np.Name)
				}
				var peers []netv1.NetworkPolicyPeer
				for _, r := range np.Spec.Ingress {
					peers = append(peers, r.From...)
				}
				for _, r := range np.Spec.Egress {
					peers = append(peers, r.To...)
				}
				for _, peer := range peers {
					if peer.IPBlock != nil {
						continue
					}
					if len(w.selectedPods(np.Namespace, peer.NamespaceSelector, peer.PodSelector)) == 0 {
						t.Errorf("%s/%s: peer %+v selects no pod", np.Namespace, np.Name, peer)
					}
				}
			}
		})
	}
}

// selectedPods are the pods a (namespaceSelector, podSelector) pair
// selects, NetworkPolicy-style: no namespaceSelector means the policy's
// own namespace; no podSelector means every pod.
func (w *netpolWorld) selectedPods(policyNS string, nsSel, podSel *metav1.LabelSelector) []string {
	w.t.Helper()
	toSelector := func(s *metav1.LabelSelector) labels.Selector {
		if s == nil {
			return labels.Everything()
		}
		sel, err := metav1.LabelSelectorAsSelector(s)
		if err != nil {
			w.t.Fatalf("selector %v: %v", s, err)
		}
		return sel
	}
	var out []string
	for key, p := range w.pods {
		if nsSel == nil {
			if p.Namespace != policyNS {
				continue
			}
		} else if !toSelector(nsSel).Matches(labels.Set(w.namespaces[p.Namespace].Labels)) {
			continue
		}
		if toSelector(podSel).Matches(labels.Set(p.Labels)) {
			out = append(out, key)
		}
	}
	return out
}
