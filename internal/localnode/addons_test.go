package localnode

import (
	"os"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"sigs.k8s.io/yaml"
)

func dnsObjects(t *testing.T) (map[string][]byte, *Node) {
	t.Helper()
	n := testNode(t)
	out, err := n.DNSAddon("localhost:5000/lab5-node/coredns@sha256:abc")
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string][]byte{}
	for _, d := range manifestDocs(t, out) {
		docs[d.Kind] = d.YAML
	}
	return docs, n
}

// manifestDoc is one document of a rendered manifest.
type manifestDoc struct {
	Kind string
	YAML []byte
}

// manifestDocs splits a rendered manifest into its documents, in order.
func manifestDocs(t *testing.T, out []byte) []manifestDoc {
	t.Helper()
	var docs []manifestDoc
	for _, doc := range strings.Split(string(out), "---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatal(err)
		}
		docs = append(docs, manifestDoc{Kind: meta.Kind, YAML: []byte(doc)})
	}
	return docs
}

func TestDNSAddonServesKubeDNSAtTheKubeletsClusterDNSAddress(t *testing.T) {
	docs, n := dnsObjects(t)
	for _, kind := range []string{"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ConfigMap", "Deployment", "Service"} {
		if docs[kind] == nil {
			t.Errorf("no %s", kind)
		}
	}
	var svc corev1.Service
	if err := yaml.UnmarshalStrict(docs["Service"], &svc); err != nil {
		t.Fatal(err)
	}
	if svc.Namespace != "kube-system" || svc.Name != "kube-dns" || svc.Spec.ClusterIP != n.DNS.String() {
		t.Errorf("service %s/%s at %s, want kube-system/kube-dns at %s", svc.Namespace, svc.Name, svc.Spec.ClusterIP, n.DNS)
	}
	protos := map[corev1.Protocol]bool{}
	for _, p := range svc.Spec.Ports {
		if p.Port == 53 {
			protos[p.Protocol] = true
		}
	}
	if !protos[corev1.ProtocolUDP] || !protos[corev1.ProtocolTCP] {
		t.Errorf("ports %v, want 53/UDP and 53/TCP", svc.Spec.Ports)
	}
	var d appsv1.Deployment
	if err := yaml.UnmarshalStrict(docs["Deployment"], &d); err != nil {
		t.Fatal(err)
	}
	for k, v := range svc.Spec.Selector {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("the Service selects %s=%s, the pods are labelled %v", k, v, d.Spec.Template.Labels)
		}
	}
	if img := d.Spec.Template.Spec.Containers[0].Image; img != "localhost:5000/lab5-node/coredns@sha256:abc" {
		t.Errorf("image %s", img)
	}
	if d.Spec.Template.Spec.Containers[0].ReadinessProbe == nil {
		t.Error("no readiness probe: the Service would route to a CoreDNS that is not serving yet")
	}
}

func TestCorefileServesTheClusterDomainAndForwardsNowhere(t *testing.T) {
	docs, n := dnsObjects(t)
	var cm corev1.ConfigMap
	if err := yaml.UnmarshalStrict(docs["ConfigMap"], &cm); err != nil {
		t.Fatal(err)
	}
	cf := cm.Data["Corefile"]
	if cf != n.Corefile() {
		t.Error("the ConfigMap does not carry the Corefile")
	}
	if !strings.Contains(cf, "kubernetes cluster.local ") {
		t.Errorf("cluster.local not served:\n%s", cf)
	}
	for _, plugin := range []string{"forward", "proxy", "/etc/resolv.conf"} {
		if strings.Contains(cf, plugin) {
			t.Errorf("Corefile mentions %q: names outside the cluster must fail at once, not be sent upstream", plugin)
		}
	}
	// The plugins it uses must be in tools/coredns's build.
	main, err := os.ReadFile("../../tools/coredns/main.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(cf, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] == "}" || strings.HasPrefix(f[0], ".:") || f[0] == "lameduck" || f[0] == "pods" || f[0] == "ttl" {
			continue
		}
		if !strings.Contains(string(main), `"github.com/coredns/coredns/plugin/`+f[0]+`"`) {
			t.Errorf("Corefile uses plugin %q, which tools/coredns/main.go does not build in", f[0])
		}
	}
}

// CoreDNS runs as pods of the restricted level would: a cluster that
// enforces it on kube-system still gets DNS.
func TestCoreDNSPodMeetsPodSecurityRestricted(t *testing.T) {
	docs, _ := dnsObjects(t)
	var d appsv1.Deployment
	if err := yaml.UnmarshalStrict(docs["Deployment"], &d); err != nil {
		t.Fatal(err)
	}
	e, err := policy.NewEvaluator(policy.DefaultChecks())
	if err != nil {
		t.Fatal(err)
	}
	lv := psaapi.LevelVersion{Level: psaapi.LevelRestricted, Version: psaapi.MajorMinorVersion(1, 34)}
	for _, r := range e.EvaluatePod(lv, &d.Spec.Template.ObjectMeta, &d.Spec.Template.Spec) {
		if !r.Allowed {
			t.Errorf("restricted: %s: %s", r.ForbiddenReason, r.ForbiddenDetail)
		}
	}
}
