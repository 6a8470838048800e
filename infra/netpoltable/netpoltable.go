// Package netpoltable is the lab's NetworkPolicy truth table: connections
// between the stack's pods (and the few pods any cluster has beside them),
// each with its expected verdict in several configurations of the stack.
//
// Two tests read it: infra's unit test asks a NetworkPolicy evaluation
// engine (np-guard) every row against the policies the program declares,
// and test/runtime replays the rows as real connections between real pods
// on the local real node. Names are the ones the program gives its
// namespaces and workloads; the unit test fails on a row whose pod the
// program does not declare, so they cannot drift apart silently.
package netpoltable

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Verdict is a row's expected outcome in one configuration.
type Verdict int

const (
	Inherit Verdict = iota // a mode with a Base: as in that mode
	Skip                   // a peer does not exist in that configuration
	Allow                  // the connection is allowed
	Deny                   // the connection is denied
)

func (v Verdict) String() string {
	return [...]string{"(inherit)", "-", "allowed", "denied"}[v]
}

// VerdictOf is the verdict of an observed or evaluated connection.
func VerdictOf(allowed bool) Verdict {
	if allowed {
		return Allow
	}
	return Deny
}

// Mode is a configuration of the stack the table is evaluated in.
type Mode struct {
	Name string
	// Config are the stack config keys (namespace lab5) that differ from
	// the defaults, as key, value pairs.
	Config []string
	// Base is the mode this one extends (-1: none): where a row leaves
	// this mode's verdict out (Inherit), it expects what it expects there.
	Base int
}

// Setting is the mode's value of a config key, "" when it keeps the default.
func (m Mode) Setting(key string) string {
	for i := 0; i+1 < len(m.Config); i += 2 {
		if m.Config[i] == key {
			return m.Config[i+1]
		}
	}
	return ""
}

// Names of the modes a test looks up.
const (
	DefaultMode              = "default"
	NoLockdownMode           = "productionLockdown=false"
	TraefikMode              = "ingressController=traefik"
	TraefikNoLockdownMode    = "ingressController=traefik,productionLockdown=false"
	ingressControllerKey     = "ingressController"
	productionLockdownKey    = "productionLockdown"
	traefikControllerSetting = "traefik"
)

// Modes are the configurations, in the order of a row's verdicts: the
// default (lab test resources and production lockdown on),
// productionLockdown=false, labTestResources=false; distributed MinIO with
// and without the lockdown; Traefik as the ingress controller, with and
// without the lockdown (the local real-node stack runs Traefik). With
// Traefik every row holds as without it, except those whose source is a
// controller pod (ingress-nginx's do not exist; Traefik's get rows of
// their own).
var Modes = []Mode{
	{DefaultMode, nil, -1},
	{NoLockdownMode, []string{productionLockdownKey, "false"}, -1},
	{"labTestResources=false", []string{"labTestResources", "false"}, -1},
	{"minioReplicas=4", []string{"minioReplicas", "4"}, 0},
	{"minioReplicas=4,productionLockdown=false", []string{"minioReplicas", "4", productionLockdownKey, "false"}, 1},
	{TraefikMode, []string{ingressControllerKey, traefikControllerSetting}, 0},
	{TraefikNoLockdownMode, []string{ingressControllerKey, traefikControllerSetting, productionLockdownKey, "false"}, 1},
}

// ModeIndex is the index in Modes of the mode named name, -1 if none.
func ModeIndex(name string) int {
	for i, m := range Modes {
		if m.Name == name {
			return i
		}
	}
	return -1
}

// Verdicts are a row's verdicts, one per Modes entry; rows that are no
// different with distributed MinIO or Traefik list only the first three.
type Verdicts [7]Verdict

// Row is one connection and its verdict in each of Modes.
type Row struct {
	// Src and Dst are "namespace/pod" (a pod of the workload of that name,
	// or one of the Pods below), an IP address, or (Dst only)
	// "svc:namespace/name", a Service, whose Port is a Service port.
	Src, Dst string
	Proto    string // TCP or UDP
	Port     int    // a Service port for svc: destinations, else the pod's
	Want     Verdicts
	Why      string
}

// VerdictIn is the row's expected verdict in Modes[i].
func (r Row) VerdictIn(i int) Verdict {
	if v := r.Want[i]; v != Inherit || Modes[i].Base < 0 {
		return v
	}
	return r.Want[Modes[i].Base]
}

// Addresses outside the pods.
const (
	// InternetIP is a public address (TEST-NET-3, outside every excepted
	// range): "the internet" for ipBlock 0.0.0.0/0.
	InternetIP = "203.0.113.10"
	// ServiceIP is in a typical Service range (10.96.0.0/12): cluster
	// address space.
	ServiceIP = "10.96.0.1"
)

// The namespaces of the program and of every cluster.
const (
	Default    = "default"
	Production = "production"
	Test       = "test"
	K8sLab5    = "k8s-lab5"
	KubeSystem = "kube-system"
)

// HistoryServerClientLabel is the opt-in label of history-server's clients.
const HistoryServerClientLabel = "lab5.io/history-server-client"

// Pods that are not declared by the program but exist in any cluster the
// stack runs on (kube-system), or stand for a user's client (default).
var (
	KubeDNSPod = &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "coredns", Namespace: KubeSystem, Labels: map[string]string{"k8s-app": "kube-dns"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "coredns", Ports: []corev1.ContainerPort{
			{Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP},
			{Name: "dns-tcp", ContainerPort: 53, Protocol: corev1.ProtocolTCP},
			{Name: "metrics", ContainerPort: 9153, Protocol: corev1.ProtocolTCP},
		}}}},
	}
	// OtherKubeSystemPod has no k8s-app=kube-dns: the DNS egress peer (a
	// namespace AND a pod selector) must not match it.
	OtherKubeSystemPod = &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "metrics-server", Namespace: KubeSystem, Labels: map[string]string{"k8s-app": "metrics-server"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "metrics-server", Ports: []corev1.ContainerPort{
			{Name: "https", ContainerPort: 10250, Protocol: corev1.ProtocolTCP},
		}}}},
	}
	// HistoryClientPod is a user's curl pod carrying the opt-in label.
	HistoryClientPod = &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "history-client", Namespace: Default, Labels: map[string]string{HistoryServerClientLabel: "true", "run": "curl"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "curl"}}},
	}
	// OtherPods are the pods above.
	OtherPods = []*corev1.Pod{KubeDNSPod, OtherKubeSystemPod, HistoryClientPod}
)

// The rows' endpoints: a pod of each workload ("namespace/workload"), and
// the Services.
var (
	PriceFetcher  = Production + "/price-fetcher"
	HistoryServer = Production + "/history-server"
	MinioPod      = Production + "/minio"
	MinioPeer     = Production + "/minio-1" // a second server: distributed MinIO only
	PostgresPod   = Test + "/postgresql-hl-test"
	PostgresPeer  = Test + "/postgresql-hl-test-1" // a second member of the StatefulSet
	TestNginx     = Test + "/nginx"
	DefaultNginx  = Default + "/nginx"
	Lab5Echo      = K8sLab5 + "/echoserver"
	IngressNginx  = "ingress-nginx/ingress-nginx-controller" // ingress-nginx only
	AdmissionJob  = "ingress-nginx/ingress-nginx-admission-create"
	TraefikPod    = "traefik/traefik" // ingressController=traefik only
	CoreDNS       = KubeSystem + "/" + KubeDNSPod.Name
	MetricsServer = KubeSystem + "/" + OtherKubeSystemPod.Name
	HistoryClient = Default + "/" + HistoryClientPod.Name

	HistorySvc    = "svc:" + HistoryServer
	MinioSvc      = "svc:" + MinioPod
	MinioHeadless = "svc:" + Production + "/minio-hl"
	EchoSvc       = "svc:" + Default + "/echoserver"
	Lab5EchoSvc   = "svc:" + Lab5Echo
	PostgresSvc   = "svc:" + Test + "/postgresql-hl"
)

// Rows: verdicts for {default, productionLockdown=false,
// labTestResources=false, minioReplicas=4, minioReplicas=4 with
// productionLockdown=false, ingressController=traefik, Traefik with
// productionLockdown=false}. Service destinations go through the Service's
// port mapping (history-server's port 80 lands on pod port 8080).
var Rows = []Row{
	// The lab's echoserver-network-policy (default namespace).
	{Lab5Echo, EchoSvc, "TCP", 80, Verdicts{Allow, Allow, Skip}, "lab: any pod of k8s-lab5"},
	{DefaultNginx, EchoSvc, "TCP", 80, Verdicts{Allow, Allow, Skip}, "lab: name=nginx in default"},
	{TestNginx, EchoSvc, "TCP", 80, Verdicts{Deny, Deny, Allow}, "lab: name=nginx of another namespace is not admitted"},
	{PostgresPod, EchoSvc, "TCP", 80, Verdicts{Deny, Deny, Skip}, "not a listed peer"},
	{IngressNginx, EchoSvc, "TCP", 80, Verdicts{Allow, Allow, Allow, Inherit, Inherit, Skip, Skip}, "echoserver-allow-ingress-controller: the Ingress keeps working"},
	{AdmissionJob, EchoSvc, "TCP", 80, Verdicts{Deny, Deny, Allow, Inherit, Inherit, Skip, Skip}, "only the controller pods of ingress-nginx"},
	// With Traefik (the last two verdicts) the policy admits Traefik's
	// pods instead: the same Ingress keeps working after the switch.
	{TraefikPod, EchoSvc, "TCP", 80, Verdicts{Skip, Skip, Skip, Skip, Skip, Allow, Allow}, "echoserver-allow-ingress-controller follows the controller: Traefik"},
	{TraefikPod, HistorySvc, "TCP", 80, Verdicts{Skip, Skip, Skip, Skip, Skip, Deny, Allow}, "no route goes to history-server"},
	{TraefikPod, Lab5EchoSvc, "TCP", 80, Verdicts{Skip, Skip, Skip, Skip, Skip, Allow, Allow}, "k8s-lab5 has no policies"},
	{TraefikPod, MinioSvc, "TCP", 9000, Verdicts{Skip, Skip, Skip, Skip, Skip, Deny, Deny}, "lab: only history-server"},
	{HistoryServer, EchoSvc, "TCP", 80, Verdicts{Deny, Deny, Deny}, "lockdown egress, or not a listed peer"},
	{PriceFetcher, EchoSvc, "TCP", 80, Verdicts{Deny, Deny, Deny}, "lockdown egress, or not a listed peer"},

	// The lab's minio-network-policy (production).
	{HistoryServer, MinioSvc, "TCP", 9000, Verdicts{Allow, Allow, Allow}, "lab: history-server -> MinIO API"},
	{PriceFetcher, MinioSvc, "TCP", 9000, Verdicts{Deny, Deny, Deny}, "lab: only history-server"},
	{HistoryServer, MinioPod, "TCP", 9001, Verdicts{Deny, Deny, Deny}, "MinIO console: no rule admits it"},
	{InternetIP, MinioPod, "TCP", 9000, Verdicts{Deny, Deny, Deny}, "outside the cluster"},

	// Distributed MinIO (minioReplicas=4 with, then without, the
	// lockdown): the servers call each other on the API port; every other
	// row holds unchanged in those modes.
	{MinioPeer, MinioPod, "TCP", 9000, Verdicts{Skip, Skip, Skip, Allow, Allow}, "distributed MinIO: server to server"},
	{MinioPod, MinioPeer, "TCP", 9000, Verdicts{Skip, Skip, Skip, Allow, Allow}, "distributed MinIO: both directions"},
	{MinioPeer, MinioHeadless, "TCP", 9000, Verdicts{Skip, Skip, Skip, Allow, Allow}, "through the headless Service"},
	{MinioPeer, MinioPod, "TCP", 9001, Verdicts{Skip, Skip, Skip, Deny, Deny}, "peers: the API port only, not the console"},
	{HistoryServer, MinioPeer, "TCP", 9000, Verdicts{Skip, Skip, Skip, Allow, Allow}, "history-server reaches every server"},
	{PriceFetcher, MinioPeer, "TCP", 9000, Verdicts{Skip, Skip, Skip, Deny, Deny}, "still only history-server and MinIO"},
	{TestNginx, MinioPeer, "TCP", 9000, Verdicts{Skip, Skip, Skip, Deny, Deny}, "outside production"},
	{MinioPeer, HistoryServer, "TCP", 8080, Verdicts{Skip, Skip, Skip, Deny, Allow}, "MinIO's egress is MinIO only"},
	{MinioPeer, InternetIP, "TCP", 443, Verdicts{Skip, Skip, Skip, Deny, Allow}, "MinIO needs no internet"},
	{MinioPeer, CoreDNS, "UDP", 53, Verdicts{Skip, Skip, Skip, Allow, Allow}, "DNS: the servers resolve each other's names"},
	{MinioPeer, ServiceIP, "TCP", 9000, Verdicts{Skip, Skip, Skip, Deny, Allow}, "MinIO's port on an address that is no MinIO pod"},

	// price-fetcher -> history-server (Service port 80 -> pod port 8080).
	{PriceFetcher, HistorySvc, "TCP", 80, Verdicts{Allow, Allow, Allow}, "the lab's data flow (pod port 8080)"},
	{PriceFetcher, HistoryServer, "TCP", 80, Verdicts{Deny, Allow, Deny}, "policy ports are pod ports: 80 is the Service's"},
	{HistoryClient, HistorySvc, "TCP", 80, Verdicts{Allow, Allow, Allow}, "pods labelled " + HistoryServerClientLabel + "=true, any namespace"},
	{TestNginx, HistorySvc, "TCP", 80, Verdicts{Deny, Allow, Deny}, "unlabelled client"},
	{DefaultNginx, HistorySvc, "TCP", 80, Verdicts{Deny, Allow, Skip}, "unlabelled client"},
	{Lab5Echo, HistorySvc, "TCP", 80, Verdicts{Deny, Allow, Skip}, "unlabelled client"},
	{IngressNginx, HistorySvc, "TCP", 80, Verdicts{Deny, Allow, Deny, Inherit, Inherit, Skip, Skip}, "no Ingress routes to history-server"},
	{MinioPod, HistorySvc, "TCP", 80, Verdicts{Deny, Allow, Deny}, "MinIO never calls history-server"},
	{InternetIP, HistoryServer, "TCP", 8080, Verdicts{Deny, Allow, Deny}, "outside the cluster"},

	// DNS: kube-system's kube-dns pods, UDP and TCP 53.
	{PriceFetcher, CoreDNS, "UDP", 53, Verdicts{Allow, Allow, Allow}, "DNS"},
	{PriceFetcher, CoreDNS, "TCP", 53, Verdicts{Allow, Allow, Allow}, "DNS over TCP"},
	{HistoryServer, CoreDNS, "UDP", 53, Verdicts{Allow, Allow, Allow}, "DNS"},
	{HistoryServer, CoreDNS, "TCP", 53, Verdicts{Allow, Allow, Allow}, "DNS over TCP"},
	{MinioPod, CoreDNS, "UDP", 53, Verdicts{Allow, Allow, Allow}, "DNS"},
	{PriceFetcher, CoreDNS, "TCP", 9153, Verdicts{Deny, Allow, Deny}, "only port 53 of the DNS pods"},
	{PriceFetcher, MetricsServer, "UDP", 53, Verdicts{Deny, Allow, Deny}, "only k8s-app=kube-dns pods of kube-system"},
	{PriceFetcher, "8.8.8.8", "UDP", 53, Verdicts{Deny, Allow, Deny}, "no DNS server outside the cluster"},

	// price-fetcher -> internet: TCP 443 only, not to cluster ranges.
	{PriceFetcher, InternetIP, "TCP", 443, Verdicts{Allow, Allow, Allow}, "Elering API over HTTPS"},
	{PriceFetcher, InternetIP, "TCP", 80, Verdicts{Deny, Allow, Deny}, "plain HTTP"},
	{PriceFetcher, ServiceIP, "TCP", 443, Verdicts{Deny, Allow, Deny}, "10.0.0.0/8 excepted"},
	{PriceFetcher, "172.20.0.5", "TCP", 443, Verdicts{Deny, Allow, Deny}, "172.16.0.0/12 excepted"},
	{PriceFetcher, "192.168.1.1", "TCP", 443, Verdicts{Deny, Allow, Deny}, "192.168.0.0/16 excepted"},
	{PriceFetcher, MinioPod, "TCP", 443, Verdicts{Deny, Deny, Deny}, "a pod, not the internet"},
	{HistoryServer, InternetIP, "TCP", 443, Verdicts{Deny, Allow, Deny}, "history-server needs no internet"},
	{MinioPod, InternetIP, "TCP", 443, Verdicts{Deny, Allow, Deny}, "MinIO needs no internet"},
	{MinioPod, HistoryServer, "TCP", 8080, Verdicts{Deny, Allow, Deny}, "not a listed peer"},

	// Namespaces without policies are unaffected.
	{TestNginx, PostgresSvc, "TCP", 5432, Verdicts{Allow, Allow, Skip}, "test has no policies"},
	{PostgresPeer, PostgresPod, "TCP", 5432, Verdicts{Allow, Allow, Skip}, "test has no policies"},
	{DefaultNginx, Lab5EchoSvc, "TCP", 80, Verdicts{Allow, Allow, Skip}, "k8s-lab5 has no policies"},
	{IngressNginx, Lab5EchoSvc, "TCP", 80, Verdicts{Allow, Allow, Skip, Inherit, Inherit, Skip, Skip}, "k8s-lab5 has no policies"},
	{TestNginx, InternetIP, "TCP", 443, Verdicts{Allow, Allow, Allow}, "test has no policies"},
}
