package infra

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	k8smeta "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// ingressRoute=gateway: the echoserver route as Gateway API objects served
// by Traefik, and the Gateway API CRDs of the pinned release.

func gatewayConfig(kv ...string) map[string]string {
	return traefikConfig(append([]string{"ingressRoute", "gateway"}, kv...)...)
}

func TestGatewayRouteObjects(t *testing.T) {
	t.Parallel()
	r := mustRun(t, gatewayConfig())
	want := []string{"Gateway traefik/" + LabGatewayName, "GatewayClass /traefik", "HTTPRoute default/" + EchoserverRouteName}
	if got := r.componentObjects("lab5:infra:EchoserverGateway"); !reflect.DeepEqual(got, want) {
		t.Errorf("route objects\n got %v\nwant %v", got, want)
	}
	var crds []string
	for _, p := range gatewayAPICRDs {
		crds = append(crds, "CustomResourceDefinition /"+p+"."+gatewayAPIGroup)
	}
	sort.Strings(crds)
	if got := r.componentObjects("lab5:infra:GatewayAPICRDs"); !reflect.DeepEqual(got, crds) {
		t.Errorf("CRDs\n got %v\nwant %v", got, crds)
	}
	// The HTTPRoute replaces the Ingress.
	if _, ok := r.find("Ingress", NamespaceDefault, EchoserverIngressName); ok {
		t.Error("the Ingress is declared beside the HTTPRoute")
	}
	// And with ingressRoute=ingress there is no Gateway API at all.
	for _, cfg := range []map[string]string{traefikConfig(), baseConfig()} {
		r := mustRun(t, cfg)
		for _, o := range r.objects {
			if strings.HasPrefix(o.APIVersion, gatewayAPIGroup) || o.Kind == "CustomResourceDefinition" {
				t.Errorf("%v: %s declared with ingressRoute=ingress", cfg, o.key())
			}
		}
	}
}

// decodeGatewayObjects decodes the recorded Gateway API objects into the
// upstream types (strictly: a field the API does not have fails).
func decodeGatewayObjects(t *testing.T, r *labRun) (*gatewayv1.GatewayClass, *gatewayv1.Gateway, *gatewayv1.HTTPRoute) {
	t.Helper()
	class, gw, route := &gatewayv1.GatewayClass{}, &gatewayv1.Gateway{}, &gatewayv1.HTTPRoute{}
	decodeStrict(t, "GatewayClass", r.get("GatewayClass", "", TraefikGatewayClassName).Obj, class)
	decodeStrict(t, "Gateway", r.get("Gateway", TraefikNamespace, LabGatewayName).Obj, gw)
	decodeStrict(t, "HTTPRoute", r.get("HTTPRoute", NamespaceDefault, EchoserverRouteName).Obj, route)
	for _, o := range []k8smeta.TypeMeta{class.TypeMeta, gw.TypeMeta, route.TypeMeta} {
		if o.APIVersion != "gateway.networking.k8s.io/v1" {
			t.Errorf("%s apiVersion %q", o.Kind, o.APIVersion)
		}
	}
	return class, gw, route
}

// TestGatewayRouteIsServedByTraefik follows the chain Traefik follows:
// GatewayClass claimed by Traefik's controller name -> Gateway of that
// class with a listener on Traefik's web entry point, admitting routes of
// default -> HTTPRoute attached to that listener -> echoserver:80.
func TestGatewayRouteIsServedByTraefik(t *testing.T) {
	t.Parallel()
	r := mustRun(t, gatewayConfig("publicNodeIP", "192.0.2.10"))
	class, gw, route := decodeGatewayObjects(t, r)
	args, _ := traefikArgsOf(r)

	if class.Spec.ControllerName != "traefik.io/gateway-controller" {
		t.Errorf("GatewayClass controllerName %q", class.Spec.ControllerName)
	}
	if string(gw.Spec.GatewayClassName) != class.Name || len(gw.Spec.Listeners) != 1 {
		t.Fatalf("Gateway class %q listeners %+v", gw.Spec.GatewayClassName, gw.Spec.Listeners)
	}
	l := gw.Spec.Listeners[0]
	if ":"+strconv.Itoa(int(l.Port)) != args["--entryPoints.web.address"] || l.Protocol != gatewayv1.HTTPProtocolType {
		t.Errorf("listener %s %d, Traefik's web entry point %q", l.Protocol, l.Port, args["--entryPoints.web.address"])
	}
	// The listener admits HTTPRoutes from default, and only from there.
	sel, err := k8smeta.LabelSelectorAsSelector(l.AllowedRoutes.Namespaces.Selector)
	if err != nil || *l.AllowedRoutes.Namespaces.From != gatewayv1.NamespacesFromSelector {
		t.Fatalf("allowedRoutes %+v: %v", l.AllowedRoutes, err)
	}
	nsLabels := func(ns string) labels.Set { return labels.Set{labelNamespaceName: ns} }
	if !sel.Matches(nsLabels(route.Namespace)) || sel.Matches(nsLabels(NamespaceProduction)) {
		t.Errorf("allowedRoutes selector %v: admits default %v, production %v", sel, sel.Matches(nsLabels(route.Namespace)), sel.Matches(nsLabels(NamespaceProduction)))
	}

	if len(route.Spec.ParentRefs) != 1 {
		t.Fatalf("parentRefs %+v", route.Spec.ParentRefs)
	}
	p := route.Spec.ParentRefs[0]
	if string(p.Name) != gw.Name || p.Namespace == nil || string(*p.Namespace) != gw.Namespace || p.SectionName == nil || *p.SectionName != l.Name {
		t.Errorf("parentRef %+v does not name Gateway %s/%s listener %s", p, gw.Namespace, gw.Name, l.Name)
	}
	if !reflect.DeepEqual(route.Spec.Hostnames, []gatewayv1.Hostname{"echoserver.192.0.2.10.nip.io"}) {
		t.Errorf("hostnames %v", route.Spec.Hostnames)
	}
	// Traefik publishes the node's address on the Gateway.
	if args["--providers.kubernetesGateway.statusAddress.ip"] != "192.0.2.10" {
		t.Errorf("Gateway status address %q", args["--providers.kubernetesGateway.statusAddress.ip"])
	}
	if r.outputs["ingressUrl"] != "http://echoserver.192.0.2.10.nip.io:"+strconv.Itoa(r.allocated["traefik/traefik/http"]) {
		t.Errorf("ingressUrl %v", r.outputs["ingressUrl"])
	}
}

// TestGatewayRouteMatchesIngress: the HTTPRoute routes exactly what the
// lab's Ingress routes: the same host, every path under /, echoserver:80.
func TestGatewayRouteMatchesIngress(t *testing.T) {
	t.Parallel()
	ing := mustRun(t, traefikConfig()).get("Ingress", NamespaceDefault, EchoserverIngressName)
	r := mustRun(t, gatewayConfig())
	_, _, route := decodeGatewayObjects(t, r)
	if len(route.Spec.Rules) != 1 || len(route.Spec.Rules[0].Matches) != 1 || len(route.Spec.Rules[0].BackendRefs) != 1 {
		t.Fatalf("rules %+v", route.Spec.Rules)
	}
	m := route.Spec.Rules[0].Matches[0].Path
	b := route.Spec.Rules[0].BackendRefs[0]
	got := []any{string(route.Spec.Hostnames[0]), *m.Value, string(*m.Type), string(b.Name), float64(*b.Port), route.Namespace}
	want := []any{ing.str("spec.rules[0].host"), ing.str("spec.rules[0].http.paths[0].path"), "PathPrefix",
		ing.str("spec.rules[0].http.paths[0].backend.service.name"), ing.dig("spec.rules[0].http.paths[0].backend.service.port.number"), ing.Namespace}
	if !reflect.DeepEqual(got, want) || ing.str("spec.rules[0].http.paths[0].pathType") != "Prefix" {
		t.Errorf("HTTPRoute (host, path, type, service, port, namespace) = %v, Ingress = %v", got, want)
	}
	// The backend is a declared Service with that port.
	svc := r.get("Service", route.Namespace, string(b.Name))
	if dig(svc.dig("spec.ports[0]"), "port") != float64(*b.Port) {
		t.Errorf("Service %s ports %v", svc.key(), svc.dig("spec.ports"))
	}
}

// TestGatewayAPIOrdering: the CRDs exist before Traefik starts (its
// informers wait for every watched kind) and before any object of theirs;
// the route objects come after Traefik and echoserver's Service.
func TestGatewayAPIOrdering(t *testing.T) {
	t.Parallel()
	r := mustRun(t, gatewayConfig())
	crds := r.ofKind("CustomResourceDefinition")
	if len(crds) != len(gatewayAPICRDs) {
		t.Fatalf("%d CRDs", len(crds))
	}
	traefik := r.get("Deployment", TraefikNamespace, TraefikName)
	route := r.get("HTTPRoute", NamespaceDefault, EchoserverRouteName)
	gw := r.get("Gateway", TraefikNamespace, LabGatewayName)
	class := r.get("GatewayClass", "", TraefikGatewayClassName)
	for _, crd := range crds {
		for _, o := range []*k8sObject{traefik, route, gw, class} {
			if !dependsOn(o, crd) {
				t.Errorf("%s does not wait for %s", o.key(), crd.key())
			}
		}
	}
	for _, dep := range []*k8sObject{gw, traefik, r.get("Service", TraefikNamespace, TraefikName), r.get("Service", NamespaceDefault, EchoserverName)} {
		if !dependsOn(route, dep) {
			t.Errorf("the HTTPRoute does not wait for %s", dep.key())
		}
	}
	if !dependsOn(gw, class) {
		t.Error("the Gateway does not wait for its GatewayClass")
	}
}

// TestGatewayAPICRDsAreUpstreams: the CRDs the stack declares are the
// release's manifests: the same spec and annotations as the embedded files,
// which are byte for byte the files of the sigs.k8s.io/gateway-api module
// version go.mod requires; and they cover every kind Traefik's provider
// watches without its experimental channel.
func TestGatewayAPICRDsAreUpstreams(t *testing.T) {
	t.Parallel()
	r := mustRun(t, gatewayConfig())
	for _, plural := range gatewayAPICRDs {
		want, err := loadGatewayAPICRD(plural)
		if err != nil {
			t.Fatal(err)
		}
		var got apiextv1.CustomResourceDefinition
		o := r.get("CustomResourceDefinition", "", plural+"."+gatewayAPIGroup)
		decodeStrict(t, o.key(), o.Obj, &got)
		if !reflect.DeepEqual(got.Spec, want.Spec) {
			t.Errorf("%s: the declared spec differs from the release's", o.key())
		}
		for k, v := range want.Annotations {
			if got.Annotations[k] != v {
				t.Errorf("%s: annotation %s = %q, want %q", o.key(), k, got.Annotations[k], v)
			}
		}
		if o.Token != "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition" {
			t.Errorf("%s registered as %s", o.key(), o.Token)
		}
	}

	// The kinds the objects use have their CRD, served at v1.
	served := map[string]bool{}
	for _, plural := range gatewayAPICRDs {
		crd, _ := loadGatewayAPICRD(plural)
		for _, v := range crd.Spec.Versions {
			if v.Served {
				served[crd.Spec.Names.Kind+"/"+v.Name] = true
			}
		}
	}
	for _, kind := range []string{"GatewayClass", "Gateway", "HTTPRoute", "GRPCRoute", "BackendTLSPolicy"} {
		if !served[kind+"/v1"] {
			t.Errorf("%s v1 is not served by the installed CRDs", kind)
		}
	}
	// Traefik v3.6 reads ReferenceGrants as v1beta1.
	if !served["ReferenceGrant/v1beta1"] {
		t.Error("ReferenceGrant v1beta1 is not served")
	}

	// Every gateway.networking.k8s.io resource Traefik's RBAC names is
	// installed, but for the experimental-channel routes.
	role, _ := upstreamRBAC(t, "kubernetes-gateway-rbac.yml")
	installed := map[string]bool{"tcproutes": true, "tlsroutes": true} // v1alpha2, experimental channel only
	for _, p := range gatewayAPICRDs {
		installed[p] = true
	}
	for _, rule := range role.Rules {
		if len(rule.APIGroups) != 1 || rule.APIGroups[0] != gatewayAPIGroup {
			continue
		}
		for _, res := range rule.Resources {
			if !installed[strings.TrimSuffix(res, "/status")] {
				t.Errorf("Traefik watches %s, whose CRD is not installed", res)
			}
		}
	}
}

func TestEmbeddedCRDsAreTheModulesFiles(t *testing.T) {
	t.Parallel()
	// The module as go.mod requires it, from the module cache the build
	// used.
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}} {{.Dir}}", "sigs.k8s.io/gateway-api").Output()
	if err != nil {
		t.Fatalf("go list -m sigs.k8s.io/gateway-api: %v", err)
	}
	version, modDir, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	if version != GatewayAPIVersion || modDir == "" {
		t.Fatalf("go.mod requires sigs.k8s.io/gateway-api %q (in %q), the CRDs are %s's: bump both together", version, modDir, GatewayAPIVersion)
	}
	dir := filepath.Join(modDir, "config", "crd", "standard")
	for _, plural := range gatewayAPICRDs {
		name := filepath.Base(gatewayAPICRDFile(plural))
		upstream, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		embedded, err := gatewayAPICRDFiles.ReadFile(gatewayAPICRDFile(plural))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(upstream, embedded) {
			t.Errorf("%s differs from the module's %s", gatewayAPICRDFile(plural), name)
		}
	}
}

func TestTypedCustomResourceDropsNulls(t *testing.T) {
	t.Parallel()
	v, err := plainJSON(gatewayv1.GatewaySpec{GatewayClassName: "c", Listeners: []gatewayv1.Listener{{Name: "l", Port: 80, Protocol: "HTTP"}}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"gatewayClassName": "c", "listeners": []any{map[string]any{"name": "l", "port": float64(80), "protocol": "HTTP"}}}
	if !reflect.DeepEqual(v, want) {
		t.Errorf("got %#v\nwant %#v", v, want)
	}
}
