package infra

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// Structure of the production lockdown policies; their effect is proven by
// netpol_table_test.go.

var lockdownPolicies = []string{
	"NetworkPolicy production/" + AllowDNSEgressName,
	"NetworkPolicy production/" + DefaultDenyAllName,
	"NetworkPolicy production/" + HistoryServerNetworkPolicyName,
	"NetworkPolicy production/" + PriceFetcherNetworkPolicyName,
}

// TestProductionLockdownSwitch: productionLockdown=false removes exactly the
// four lockdown policies, whatever the other switches.
func TestProductionLockdownSwitch(t *testing.T) {
	t.Parallel()
	for _, lab := range []string{"true", "false"} {
		on := mustRun(t, with("labTestResources", lab))
		off := mustRun(t, with("labTestResources", lab, "productionLockdown", "false"))
		missing, added := keyDiff(on, off)
		if !reflect.DeepEqual(missing, lockdownPolicies) {
			t.Errorf("lab=%s: missing with productionLockdown=false:\n got %v\nwant %v", lab, missing, lockdownPolicies)
		}
		if len(added) != 0 {
			t.Errorf("lab=%s: objects only with productionLockdown=false: %v", lab, added)
		}
	}
}

// TestLabPoliciesUnchangedByLockdown: the lab's two policies are the same
// objects with and without the lockdown (the additions never edit them).
func TestLabPoliciesUnchangedByLockdown(t *testing.T) {
	t.Parallel()
	on := mustRun(t, baseConfig())
	off := mustRun(t, with("productionLockdown", "false"))
	for _, k := range []struct{ ns, name string }{
		{NamespaceDefault, EchoserverNetworkPolicyName},
		{NamespaceProduction, MinioNetworkPolicyName},
	} {
		a, b := on.get("NetworkPolicy", k.ns, k.name), off.get("NetworkPolicy", k.ns, k.name)
		if !reflect.DeepEqual(a.Obj, b.Obj) || a.URNName != b.URNName {
			t.Errorf("%s/%s differs with productionLockdown:\n on %v\noff %v", k.ns, k.name, a.Obj, b.Obj)
		}
	}
}

func TestDefaultDenyAll(t *testing.T) {
	t.Parallel()
	r := mustRun(t, baseConfig())
	np := r.get("NetworkPolicy", NamespaceProduction, DefaultDenyAllName)
	if sel := np.dig("spec.podSelector"); !reflect.DeepEqual(sel, map[string]any{}) {
		t.Errorf("podSelector = %v, want {} (every pod)", sel)
	}
	if got := toStrings(np.dig("spec.policyTypes")); !reflect.DeepEqual(got, []string{"Ingress", "Egress"}) {
		t.Errorf("policyTypes = %v", got)
	}
	if np.dig("spec.ingress") != nil || np.dig("spec.egress") != nil {
		t.Errorf("default-deny has rules: %v", np.dig("spec"))
	}
	// Created after (deleted before) every allow policy.
	for _, name := range []string{AllowDNSEgressName, HistoryServerNetworkPolicyName, PriceFetcherNetworkPolicyName} {
		if !dependsOn(np, r.get("NetworkPolicy", NamespaceProduction, name)) {
			t.Errorf("%s does not depend on %s", DefaultDenyAllName, name)
		}
	}
}

// TestHistoryServerPolicyPort: the policies admit the pod port behind the
// Service port that HISTORY_SERVER_URI names, not the Service port.
func TestHistoryServerPolicyPort(t *testing.T) {
	t.Parallel()
	r := mustRun(t, baseConfig())
	svc := r.get("Service", NamespaceProduction, HistoryServerName)
	if svc.num("spec.ports[0].port") != 80 {
		t.Fatalf("Service port = %v", svc.dig("spec.ports"))
	}
	target := svc.str("spec.ports[0].targetPort")
	podPort := -1
	for _, p := range toSlice(r.container(r.get("Deployment", NamespaceProduction, HistoryServerName), HistoryServerName)["ports"]) {
		if dig(p, "name") == target {
			podPort = int(dig(p, "containerPort").(float64))
		}
	}
	if podPort != 8080 {
		t.Fatalf("targetPort %q resolves to container port %d", target, podPort)
	}
	hs := r.get("NetworkPolicy", NamespaceProduction, HistoryServerNetworkPolicyName)
	if got := hs.num("spec.ingress[0].ports[0].port"); got != podPort || len(toSlice(hs.dig("spec.ingress[0].ports"))) != 1 {
		t.Errorf("history-server ingress ports = %v, want TCP %d", hs.dig("spec.ingress[0].ports"), podPort)
	}
	pf := r.get("NetworkPolicy", NamespaceProduction, PriceFetcherNetworkPolicyName)
	if got := pf.num("spec.egress[0].ports[0].port"); got != podPort {
		t.Errorf("price-fetcher egress to history-server port = %d, want %d", got, podPort)
	}
	if uri := envOf(r.container(r.get("CronJob", NamespaceProduction, PriceFetcherName), PriceFetcherName))["HISTORY_SERVER_URI"].Value; !strings.HasSuffix(uri, ":80") {
		t.Errorf("HISTORY_SERVER_URI = %q: the comments assume Service port 80", uri)
	}
}

func TestPriceFetcherInternetEgress(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		except string
		want   []string
	}{
		{"", []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"}},
		{"10.0.0.0/8, 169.254.0.0/16", []string{"10.0.0.0/8", "169.254.0.0/16"}},
	} {
		r := mustRun(t, with("internetEgressExcept", c.except))
		np := r.get("NetworkPolicy", NamespaceProduction, PriceFetcherNetworkPolicyName)
		rule := np.dig("spec.egress[1]")
		if dig(rule, "to[0].ipBlock.cidr") != "0.0.0.0/0" || len(toSlice(dig(rule, "to"))) != 1 {
			t.Errorf("internet rule peers = %v", dig(rule, "to"))
		}
		if got := toStrings(dig(rule, "to[0].ipBlock.except")); !reflect.DeepEqual(got, c.want) {
			t.Errorf("except = %v, want %v", got, c.want)
		}
		if ports := toSlice(dig(rule, "ports")); len(ports) != 1 || dig(ports[0], "port") != float64(443) || dig(ports[0], "protocol") != "TCP" {
			t.Errorf("internet ports = %v, want TCP 443 only", ports)
		}
		if np.dig("spec.ingress") != nil || !reflect.DeepEqual(toStrings(np.dig("spec.policyTypes")), []string{"Ingress", "Egress"}) {
			t.Errorf("price-fetcher must be isolated for ingress with no rules: %v", np.dig("spec"))
		}
	}
}

// TestDNSEgressPeer: one peer with BOTH selectors (AND), UDP and TCP 53,
// for every production pod.
func TestDNSEgressPeer(t *testing.T) {
	t.Parallel()
	np := mustRun(t, baseConfig()).get("NetworkPolicy", NamespaceProduction, AllowDNSEgressName)
	if sel := np.dig("spec.podSelector"); !reflect.DeepEqual(sel, map[string]any{}) {
		t.Errorf("podSelector = %v, want {}", sel)
	}
	to := toSlice(np.dig("spec.egress[0].to"))
	if len(to) != 1 ||
		!reflect.DeepEqual(toStringMap(dig(to[0], "namespaceSelector.matchLabels")), map[string]string{"kubernetes.io/metadata.name": "kube-system"}) ||
		!reflect.DeepEqual(toStringMap(dig(to[0], "podSelector.matchLabels")), map[string]string{"k8s-app": "kube-dns"}) {
		t.Errorf("to = %v", to)
	}
	var ports []string
	for _, p := range toSlice(np.dig("spec.egress[0].ports")) {
		ports = append(ports, fmt.Sprintf("%v/%v", dig(p, "protocol"), dig(p, "port")))
	}
	sort.Strings(ports)
	if !reflect.DeepEqual(ports, []string{"TCP/53", "UDP/53"}) {
		t.Errorf("ports = %v", ports)
	}
}

// TestEchoserverAllowIngressController: exists exactly with the lab's
// echoserver policy, and admits only the controller pods of ingress-nginx
// (one peer, both selectors) on the echoserver port.
func TestEchoserverAllowIngressController(t *testing.T) {
	t.Parallel()
	for _, lab := range []bool{true, false} {
		r := mustRun(t, with("labTestResources", fmt.Sprint(lab)))
		np, ok := r.find("NetworkPolicy", NamespaceDefault, EchoserverAllowIngressControllerName)
		_, labOK := r.find("NetworkPolicy", NamespaceDefault, EchoserverNetworkPolicyName)
		if ok != lab || labOK != lab {
			t.Fatalf("labTestResources=%v: allow-ingress-controller %v, echoserver-network-policy %v", lab, ok, labOK)
		}
		if !lab {
			continue
		}
		if got := np.labels("spec.podSelector.matchLabels"); !reflect.DeepEqual(got, map[string]string{"app": "echoserver"}) {
			t.Errorf("podSelector = %v", got)
		}
		from := toSlice(np.dig("spec.ingress[0].from"))
		ctrl := r.get("Deployment", IngressNginxNamespace, IngressNginxControllerName)
		if len(from) != 1 ||
			!reflect.DeepEqual(toStringMap(dig(from[0], "namespaceSelector.matchLabels")), map[string]string{"kubernetes.io/metadata.name": "ingress-nginx"}) ||
			!reflect.DeepEqual(toStringMap(dig(from[0], "podSelector.matchLabels")), ctrl.labels("spec.selector.matchLabels")) {
			t.Errorf("from = %v, want the controller Deployment's selector %v in ingress-nginx", from, ctrl.labels("spec.selector.matchLabels"))
		}
		if ports := toSlice(np.dig("spec.ingress[0].ports")); len(ports) != 1 || dig(ports[0], "port") != float64(80) {
			t.Errorf("ports = %v", ports)
		}
	}
}
