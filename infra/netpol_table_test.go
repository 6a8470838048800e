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
	corev1 "k8s.io/api/core/v1"
	netv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// The NetworkPolicy truth table: every NetworkPolicy the program declares,
// every namespace it declares (with the labels the API server adds) and one
// representative pod per declared workload (its pod template's real labels
// and container ports) are converted to k8s.io/api objects and loaded into
// a NetworkPolicy evaluation engine (np-guard/netpol-analyzer's eval
// package, which implements the Kubernetes NetworkPolicy semantics:
// isolation per direction, OR-ed peers, AND-ed selectors within one peer,
// ipBlock except, ports of the destination pod). Each row is then asked of
// the engine, for three configurations: the default (lab test resources and
// production lockdown on), productionLockdown=false and
// labTestResources=false; for distributed MinIO (minioReplicas=4) with
// and without the lockdown; and with Traefik as the ingress controller.

// verdict is a row's expected outcome in one configuration.
type verdict int

const (
	inherit verdict = iota // distributed MinIO: as in the mode it extends
	skip                   // a peer does not exist in that configuration
	allow                  // the connection is allowed
	deny                   // the connection is denied
)

func (v verdict) String() string {
	return [...]string{"(inherit)", "-", "allowed", "denied"}[v]
}

// netpolModes are the configurations the table is evaluated in, in the
// order of a row's verdicts. A distributed mode extends the standalone mode
// `base`: where a row leaves its verdict out (inherit), it expects what it
// expects there.
var netpolModes = []struct {
	name   string
	config map[string]string
	base   int
}{
	{"default", baseConfig(), -1},
	{"productionLockdown=false", with("productionLockdown", "false"), -1},
	{"labTestResources=false", with("labTestResources", "false"), -1},
	{"minioReplicas=4", with("minioReplicas", "4"), 0},
	{"minioReplicas=4,productionLockdown=false", with("minioReplicas", "4", "productionLockdown", "false"), 1},
	{traefikMode, with("ingressController", "traefik"), 0},
}

// traefikMode is the default with Traefik as the ingress controller: every
// row holds as in the default, except those whose source is a controller
// pod (ingress-nginx's do not exist; Traefik's get rows of their own).
const traefikMode = "ingressController=traefik"

// verdicts are a row's verdicts, one per netpolModes entry; rows that are
// no different with distributed MinIO or Traefik list only the first three.
type verdicts [6]verdict

// Addresses for the rows and for the representative pods. No packet is
// sent anywhere: they only feed the engine.
const (
	// internetIP is a public address (TEST-NET-3, outside every excepted
	// range): "the internet" for ipBlock 0.0.0.0/0.
	internetIP = "203.0.113.10"
	// serviceIP is in a typical Service range (10.96.0.0/12): cluster
	// address space.
	serviceIP = "10.96.0.1"
	// nodeIP is the host IP of every representative pod.
	nodeIP = "192.168.49.2"
)

// Pods that are not declared by the program but exist in any cluster the
// stack runs on (kube-system), or stand for a user's client (default).
var (
	kubeDNSPod = &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "coredns", Namespace: kubeSystemNamespace, Labels: kubeDNSLabels},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "coredns", Ports: []corev1.ContainerPort{
			{Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP},
			{Name: "dns-tcp", ContainerPort: 53, Protocol: corev1.ProtocolTCP},
			{Name: "metrics", ContainerPort: 9153, Protocol: corev1.ProtocolTCP},
		}}}},
	}
	// otherKubeSystemPod has no k8s-app=kube-dns: the DNS egress peer (a
	// namespace AND a pod selector) must not match it.
	otherKubeSystemPod = &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "metrics-server", Namespace: kubeSystemNamespace, Labels: map[string]string{"k8s-app": "metrics-server"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "metrics-server", Ports: []corev1.ContainerPort{
			{Name: "https", ContainerPort: 10250, Protocol: corev1.ProtocolTCP},
		}}}},
	}
	// historyClientPod is a user's curl pod carrying the opt-in label.
	historyClientPod = &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "history-client", Namespace: NamespaceDefault, Labels: map[string]string{HistoryServerClientLabel: "true", "run": "curl"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "curl"}}},
	}
)

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
	for _, p := range []*corev1.Pod{kubeDNSPod, otherKubeSystemPod, historyClientPod} {
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

// netpolRow is one connection and its verdict in each of netpolModes.
type netpolRow struct {
	src, dst string // "ns/pod", "svc:ns/name" (dst only) or an IP
	proto    string
	port     int // a Service port for svc: destinations, else the pod's
	want     verdicts
	why      string
}

// verdictIn is the row's expected verdict in netpolModes[i].
func (row netpolRow) verdictIn(i int) verdict {
	if v := row.want[i]; v != inherit || netpolModes[i].base < 0 {
		return v
	}
	return row.want[netpolModes[i].base]
}

var (
	pricefetcher  = NamespaceProduction + "/" + PriceFetcherName
	historyserver = NamespaceProduction + "/" + HistoryServerName
	minioPod      = NamespaceProduction + "/" + MinioName
	minioPeer     = NamespaceProduction + "/" + MinioName + "-1" // distributed MinIO only
	postgresPeer  = NamespaceTest + "/" + PostgresStatefulSetName + "-1"
	historySvc    = "svc:" + NamespaceProduction + "/" + HistoryServerName
	minioSvc      = "svc:" + NamespaceProduction + "/" + MinioName
	echoSvc       = "svc:" + NamespaceDefault + "/" + EchoserverName
	coredns       = kubeSystemNamespace + "/coredns"
	controller    = IngressNginxNamespace + "/" + IngressNginxControllerName
	traefikPod    = TraefikNamespace + "/" + TraefikName // ingressController=traefik only
	admissionJob  = IngressNginxNamespace + "/ingress-nginx-admission-create"
	testNginx     = NamespaceTest + "/" + NginxName
	defaultNginx  = NamespaceDefault + "/" + NginxName
	lab5Echo      = NamespaceK8sLab5 + "/" + EchoserverName
	postgresPod   = NamespaceTest + "/" + PostgresStatefulSetName
	historyClient = NamespaceDefault + "/" + historyClientPod.Name
)

// netpolTable: verdicts for {default, productionLockdown=false,
// labTestResources=false, minioReplicas=4, minioReplicas=4 with
// productionLockdown=false, ingressController=traefik}. Service destinations go through the Service's
// port mapping (history-server's port 80 lands on pod port 8080).
var netpolTable = []netpolRow{
	// The lab's echoserver-network-policy (default namespace).
	{lab5Echo, echoSvc, "TCP", 80, verdicts{allow, allow, skip}, "lab: any pod of k8s-lab5"},
	{defaultNginx, echoSvc, "TCP", 80, verdicts{allow, allow, skip}, "lab: name=nginx in default"},
	{testNginx, echoSvc, "TCP", 80, verdicts{deny, deny, allow}, "lab: name=nginx of another namespace is not admitted"},
	{postgresPod, echoSvc, "TCP", 80, verdicts{deny, deny, skip}, "not a listed peer"},
	{controller, echoSvc, "TCP", 80, verdicts{allow, allow, allow, inherit, inherit, skip}, "echoserver-allow-ingress-controller: the Ingress keeps working"},
	{admissionJob, echoSvc, "TCP", 80, verdicts{deny, deny, allow, inherit, inherit, skip}, "only the controller pods of ingress-nginx"},
	// With Traefik (the last verdict) the policy admits Traefik's pods
	// instead: the same Ingress keeps working after the switch.
	{traefikPod, echoSvc, "TCP", 80, verdicts{skip, skip, skip, skip, skip, allow}, "echoserver-allow-ingress-controller follows the controller: Traefik"},
	{traefikPod, historySvc, "TCP", 80, verdicts{skip, skip, skip, skip, skip, deny}, "no route goes to history-server"},
	{traefikPod, "svc:" + NamespaceK8sLab5 + "/" + EchoserverName, "TCP", 80, verdicts{skip, skip, skip, skip, skip, allow}, "k8s-lab5 has no policies"},
	{traefikPod, minioSvc, "TCP", 9000, verdicts{skip, skip, skip, skip, skip, deny}, "lab: only history-server"},
	{historyserver, echoSvc, "TCP", 80, verdicts{deny, deny, deny}, "lockdown egress, or not a listed peer"},
	{pricefetcher, echoSvc, "TCP", 80, verdicts{deny, deny, deny}, "lockdown egress, or not a listed peer"},

	// The lab's minio-network-policy (production).
	{historyserver, minioSvc, "TCP", 9000, verdicts{allow, allow, allow}, "lab: history-server -> MinIO API"},
	{pricefetcher, minioSvc, "TCP", 9000, verdicts{deny, deny, deny}, "lab: only history-server"},
	{historyserver, minioPod, "TCP", 9001, verdicts{deny, deny, deny}, "MinIO console: no rule admits it"},
	{internetIP, minioPod, "TCP", 9000, verdicts{deny, deny, deny}, "outside the cluster"},

	// Distributed MinIO (the last two verdicts: minioReplicas=4 with, then
	// without, the lockdown): the servers call each other on the API port;
	// every other row holds unchanged in those modes.
	{minioPeer, minioPod, "TCP", 9000, verdicts{skip, skip, skip, allow, allow}, "distributed MinIO: server to server"},
	{minioPod, minioPeer, "TCP", 9000, verdicts{skip, skip, skip, allow, allow}, "distributed MinIO: both directions"},
	{minioPeer, "svc:" + NamespaceProduction + "/" + MinioHeadlessServiceName, "TCP", 9000, verdicts{skip, skip, skip, allow, allow}, "through the headless Service"},
	{minioPeer, minioPod, "TCP", 9001, verdicts{skip, skip, skip, deny, deny}, "peers: the API port only, not the console"},
	{historyserver, minioPeer, "TCP", 9000, verdicts{skip, skip, skip, allow, allow}, "history-server reaches every server"},
	{pricefetcher, minioPeer, "TCP", 9000, verdicts{skip, skip, skip, deny, deny}, "still only history-server and MinIO"},
	{testNginx, minioPeer, "TCP", 9000, verdicts{skip, skip, skip, deny, deny}, "outside production"},
	{minioPeer, historyserver, "TCP", 8080, verdicts{skip, skip, skip, deny, allow}, "MinIO's egress is MinIO only"},
	{minioPeer, internetIP, "TCP", 443, verdicts{skip, skip, skip, deny, allow}, "MinIO needs no internet"},
	{minioPeer, coredns, "UDP", 53, verdicts{skip, skip, skip, allow, allow}, "DNS: the servers resolve each other's names"},
	{minioPeer, serviceIP, "TCP", 9000, verdicts{skip, skip, skip, deny, allow}, "MinIO's port on an address that is no MinIO pod"},

	// price-fetcher -> history-server (Service port 80 -> pod port 8080).
	{pricefetcher, historySvc, "TCP", 80, verdicts{allow, allow, allow}, "the lab's data flow (pod port 8080)"},
	{pricefetcher, historyserver, "TCP", 80, verdicts{deny, allow, deny}, "policy ports are pod ports: 80 is the Service's"},
	{historyClient, historySvc, "TCP", 80, verdicts{allow, allow, allow}, "pods labelled " + HistoryServerClientLabel + "=true, any namespace"},
	{testNginx, historySvc, "TCP", 80, verdicts{deny, allow, deny}, "unlabelled client"},
	{defaultNginx, historySvc, "TCP", 80, verdicts{deny, allow, skip}, "unlabelled client"},
	{lab5Echo, historySvc, "TCP", 80, verdicts{deny, allow, skip}, "unlabelled client"},
	{controller, historySvc, "TCP", 80, verdicts{deny, allow, deny, inherit, inherit, skip}, "no Ingress routes to history-server"},
	{minioPod, historySvc, "TCP", 80, verdicts{deny, allow, deny}, "MinIO never calls history-server"},
	{internetIP, historyserver, "TCP", 8080, verdicts{deny, allow, deny}, "outside the cluster"},

	// DNS: kube-system's kube-dns pods, UDP and TCP 53.
	{pricefetcher, coredns, "UDP", 53, verdicts{allow, allow, allow}, "DNS"},
	{pricefetcher, coredns, "TCP", 53, verdicts{allow, allow, allow}, "DNS over TCP"},
	{historyserver, coredns, "UDP", 53, verdicts{allow, allow, allow}, "DNS"},
	{historyserver, coredns, "TCP", 53, verdicts{allow, allow, allow}, "DNS over TCP"},
	{minioPod, coredns, "UDP", 53, verdicts{allow, allow, allow}, "DNS"},
	{pricefetcher, coredns, "TCP", 9153, verdicts{deny, allow, deny}, "only port 53 of the DNS pods"},
	{pricefetcher, kubeSystemNamespace + "/metrics-server", "UDP", 53, verdicts{deny, allow, deny}, "only k8s-app=kube-dns pods of kube-system"},
	{pricefetcher, "8.8.8.8", "UDP", 53, verdicts{deny, allow, deny}, "no DNS server outside the cluster"},

	// price-fetcher -> internet: TCP 443 only, not to cluster ranges.
	{pricefetcher, internetIP, "TCP", 443, verdicts{allow, allow, allow}, "Elering API over HTTPS"},
	{pricefetcher, internetIP, "TCP", 80, verdicts{deny, allow, deny}, "plain HTTP"},
	{pricefetcher, serviceIP, "TCP", 443, verdicts{deny, allow, deny}, "10.0.0.0/8 excepted"},
	{pricefetcher, "172.20.0.5", "TCP", 443, verdicts{deny, allow, deny}, "172.16.0.0/12 excepted"},
	{pricefetcher, "192.168.1.1", "TCP", 443, verdicts{deny, allow, deny}, "192.168.0.0/16 excepted"},
	{pricefetcher, minioPod, "TCP", 443, verdicts{deny, deny, deny}, "a pod, not the internet"},
	{historyserver, internetIP, "TCP", 443, verdicts{deny, allow, deny}, "history-server needs no internet"},
	{minioPod, internetIP, "TCP", 443, verdicts{deny, allow, deny}, "MinIO needs no internet"},
	{minioPod, historyserver, "TCP", 8080, verdicts{deny, allow, deny}, "not a listed peer"},

	// Namespaces without policies are unaffected.
	{testNginx, "svc:" + NamespaceTest + "/" + PostgresServiceName, "TCP", 5432, verdicts{allow, allow, skip}, "test has no policies"},
	{postgresPeer, NamespaceTest + "/" + PostgresStatefulSetName, "TCP", 5432, verdicts{allow, allow, skip}, "test has no policies"},
	{defaultNginx, "svc:" + NamespaceK8sLab5 + "/" + EchoserverName, "TCP", 80, verdicts{allow, allow, skip}, "k8s-lab5 has no policies"},
	{controller, "svc:" + NamespaceK8sLab5 + "/" + EchoserverName, "TCP", 80, verdicts{allow, allow, skip, inherit, inherit, skip}, "k8s-lab5 has no policies"},
	{testNginx, internetIP, "TCP", 443, verdicts{allow, allow, allow}, "test has no policies"},
}

// TestNetworkPolicyTruthTable evaluates netpolTable with the engine, and
// checks that MinIO's API is denied to every pod outside production.
func TestNetworkPolicyTruthTable(t *testing.T) {
	t.Parallel()
	for i, mode := range netpolModes {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			w := newNetpolWorld(t, mode.config)
			var lines []string
			for _, row := range netpolTable {
				want := row.verdictIn(i)
				if want == inherit {
					t.Fatalf("%s -> %s: no verdict for %s", row.src, row.dst, mode.name)
				}
				if want == skip {
					if w.exists(row.src) && w.existsDst(row.dst) {
						t.Errorf("%s -> %s: marked skip, but both exist in this configuration", row.src, row.dst)
					}
					continue
				}
				if !w.exists(row.src) {
					t.Errorf("row source %s does not exist", row.src)
					continue
				}
				dst, ok := w.resolve(row.dst, row.port)
				if !ok {
					t.Errorf("row destination %s does not exist", row.dst)
					continue
				}
				got := w.allowed(row.src, dst, row.proto)
				if (want == allow) != got {
					t.Errorf("%s -> %s %s/%d (pod port %d): %v, want %v (%s)", row.src, row.dst, row.proto, row.port, dst.port, verdictOf(got), want, row.why)
				}
				// An allowed row must be a real service: the pod listens
				// there.
				if (i == 0 || netpolModes[i].base == 0) && want == allow && dst.pod != nil && !listens(dst.pod, row.proto, dst.port) {
					t.Errorf("%s -> %s: allowed on %s/%d, where the pod does not listen", row.src, row.dst, row.proto, dst.port)
				}
				lines = append(lines, fmt.Sprintf("%-40s %-36s %s/%-5d -> %-30s %s", row.src, row.dst, row.proto, row.port, dst.peer+":"+strconv.Itoa(dst.port), verdictOf(got)))
			}

			// No pod outside production, nor price-fetcher, reaches MinIO.
			minio, _ := w.resolve(minioSvc, MinioAPIPort)
			n := 0
			for key, p := range w.pods {
				if p.Namespace == NamespaceProduction && key != pricefetcher {
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
				t.Logf("truth table (%s):\n%s", mode.name, strings.Join(lines, "\n"))
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

func verdictOf(allowed bool) verdict {
	if allowed {
		return allow
	}
	return deny
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
		traefikMode: {
			"default/" + EchoserverAllowIngressControllerName, "default/" + EchoserverNetworkPolicyName,
			"production/" + AllowDNSEgressName, "production/" + DefaultDenyAllName,
			"production/" + HistoryServerNetworkPolicyName, "production/" + MinioNetworkPolicyName,
			"production/" + PriceFetcherNetworkPolicyName,
		},
	}
	for _, mode := range netpolModes {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			w := newNetpolWorld(t, mode.config)
			var got []string
			for _, np := range w.policies {
				got = append(got, np.Namespace+"/"+np.Name)
			}
			sort.Strings(got)
			if strings.Join(got, " ") != strings.Join(wantPolicies[mode.name], " ") {
				t.Errorf("policies:\n got %v\nwant %v", got, wantPolicies[mode.name])
			}

			// The representative pods include the lab's workloads and
			// the mode's ingress controller (and not the other one).
			ctl, ctlKey, ctlValue, other := controller, labelComponent, "controller", traefikPod
			if mode.name == traefikMode {
				ctl, ctlKey, ctlValue, other = traefikPod, "app", "traefik", controller
			}
			for _, p := range []string{pricefetcher, historyserver, minioPod, testNginx, ctl, NamespaceDefault + "/" + EchoserverName} {
				if _, ok := w.pods[p]; !ok {
					t.Fatalf("no representative pod %s", p)
				}
			}
			if _, ok := w.pods[other]; ok {
				t.Errorf("both controllers' pods exist: %s", other)
			}
			if w.pods[pricefetcher].Labels["microservice"] != "price-fetcher" || w.pods[ctl].Labels[ctlKey] != ctlValue {
				t.Errorf("representative pods lack their template labels: %v %v", w.pods[pricefetcher].Labels, w.pods[ctl].Labels)
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
