package infra

import (
	"bytes"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

// Traefik (ingressController=traefik): its objects, its RBAC against
// Traefik's own manifests, and the guarantees a user switching controllers
// relies on: one controller at a time, the same Ingress, one IngressClass
// nginx that moves between the two.

func traefikConfig(kv ...string) map[string]string {
	return with(append([]string{"ingressController", "traefik"}, kv...)...)
}

// componentObjects lists the objects whose parent is a component of that
// type, as "Kind namespace/name", sorted.
func (r *labRun) componentObjects(componentType string) []string {
	var out []string
	for _, o := range r.objects {
		if strings.HasSuffix(parentType(o.Parent), componentType) {
			out = append(out, o.key())
		}
	}
	sort.Strings(out)
	return out
}

// parentType is the type of the resource a URN names (its last type).
func parentType(urn string) string {
	parts := strings.Split(urn, "::")
	if len(parts) != 4 {
		return ""
	}
	chain := parts[2]
	return chain[strings.LastIndex(chain, "$")+1:]
}

// urnOf is the URN the engine gives o: its parent's type chain, its type
// and its logical name.
func urnOf(t *testing.T, o *k8sObject) string {
	t.Helper()
	parts := strings.Split(o.Parent, "::")
	if len(parts) != 4 {
		t.Fatalf("%s: parent URN %q", o.key(), o.Parent)
	}
	return fmt.Sprintf("%s::%s::%s$%s::%s", parts[0], parts[1], parts[2], o.Token, o.URNName)
}

var traefikObjects = []string{
	"ClusterRole /" + TraefikNginxRBACName,
	"ClusterRoleBinding /" + TraefikNginxRBACName,
	"Deployment traefik/traefik",
	"IngressClass /nginx",
	"Namespace /traefik",
	"Service traefik/traefik",
	"ServiceAccount traefik/traefik",
}

func TestTraefikObjects(t *testing.T) {
	t.Parallel()
	for _, route := range []string{IngressRouteIngress, IngressRouteGateway} {
		r := mustRun(t, traefikConfig("ingressRoute", route))
		want := append([]string{}, traefikObjects...)
		if route == IngressRouteGateway {
			want = append(want, "ClusterRole /"+TraefikGatewayRBACName, "ClusterRoleBinding /"+TraefikGatewayRBACName)
		}
		sort.Strings(want)
		if got := r.componentObjects("lab5:infra:Traefik"); !reflect.DeepEqual(got, want) {
			t.Errorf("ingressRoute=%s: Traefik's objects\n got %v\nwant %v", route, got, want)
		}
	}
}

// TestExactlyOneIngressController: each mode declares one controller's
// objects and nothing of the other one's, and one IngressClass.
func TestExactlyOneIngressController(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		config      map[string]string
		have, avoid string // component types
		avoidNS     string
	}{
		{baseConfig(), "lab5:infra:IngressNginx", "lab5:infra:Traefik", TraefikNamespace},
		{with("ingressController", IngressControllerNginx, "ingressAdmissionWebhook", "false"), "lab5:infra:IngressNginx", "lab5:infra:Traefik", TraefikNamespace},
		{traefikConfig(), "lab5:infra:Traefik", "lab5:infra:IngressNginx", IngressNginxNamespace},
		{traefikConfig("ingressRoute", "gateway", "labTestResources", "false"), "lab5:infra:Traefik", "lab5:infra:IngressNginx", IngressNginxNamespace},
	} {
		r := mustRun(t, c.config)
		if len(r.componentObjects(c.have)) == 0 {
			t.Errorf("%v: no %s objects", c.config, c.have)
		}
		if got := r.componentObjects(c.avoid); len(got) != 0 {
			t.Errorf("%v: %s objects declared too: %v", c.config, c.avoid, got)
		}
		for _, comp := range r.components {
			if comp.Token == c.avoid {
				t.Errorf("%v: component %s declared", c.config, comp.Token)
			}
		}
		for _, o := range r.objects {
			if o.Namespace == c.avoidNS || (o.Kind == "Namespace" && o.Name == c.avoidNS) {
				t.Errorf("%v: %s belongs to the other controller", c.config, o.key())
			}
		}
		if n := len(r.ofKind("IngressClass")); n != 1 {
			t.Errorf("%v: %d IngressClasses", c.config, n)
		}
		// One controller Deployment watches IngressClass nginx.
		ctl := 0
		for _, d := range r.ofKind("Deployment") {
			if d.Namespace == IngressNginxNamespace || d.Namespace == TraefikNamespace {
				ctl++
			}
		}
		if ctl != 1 {
			t.Errorf("%v: %d controller Deployments", c.config, ctl)
		}
	}
}

// TestEchoserverIngressSameWithEitherController: the lab's Ingress is the
// same object whichever controller serves it (the migration changes
// nothing a user of the Ingress sees).
func TestEchoserverIngressSameWithEitherController(t *testing.T) {
	t.Parallel()
	for _, extra := range [][]string{nil, {"awaitIngress", "false", "publicNodeIP", "192.0.2.10"}} {
		nginx := mustRun(t, with(extra...)).get("Ingress", NamespaceDefault, EchoserverIngressName)
		traefik := mustRun(t, traefikConfig(extra...)).get("Ingress", NamespaceDefault, EchoserverIngressName)
		if !reflect.DeepEqual(nginx.Obj, traefik.Obj) {
			t.Errorf("%v: the Ingress differs between controllers:\ningress-nginx %v\ntraefik       %v", extra, nginx.Obj, traefik.Obj)
		}
		if nginx.URNName != traefik.URNName || nginx.Parent != traefik.Parent {
			t.Errorf("the Ingress changes identity (URN) between controllers: %s %s / %s %s", nginx.Parent, nginx.URNName, traefik.Parent, traefik.URNName)
		}
	}
}

// TestIngressClassMovesBetweenControllers: each controller's IngressClass
// nginx carries the other's URN as an alias, so that switching controllers
// on a live stack updates the one IngressClass in place rather than
// creating a second one named nginx while the first still exists.
func TestIngressClassMovesBetweenControllers(t *testing.T) {
	t.Parallel()
	nginx := mustRun(t, baseConfig()).get("IngressClass", "", IngressClassNginx)
	traefik := mustRun(t, traefikConfig()).get("IngressClass", "", IngressClassNginx)
	nginxURN, traefikURN := urnOf(t, nginx), urnOf(t, traefik)
	if nginxURN == traefikURN {
		t.Fatalf("both IngressClasses have URN %s", nginxURN)
	}
	if !reflect.DeepEqual(traefik.Aliases, []string{nginxURN}) {
		t.Errorf("Traefik's IngressClass aliases %v, want [%s]", traefik.Aliases, nginxURN)
	}
	if !reflect.DeepEqual(nginx.Aliases, []string{traefikURN}) {
		t.Errorf("ingress-nginx's IngressClass aliases %v, want [%s]", nginx.Aliases, traefikURN)
	}
	// Same cluster object, same controller value: the switch is a
	// metadata update only.
	if nginx.str("spec.controller") != "k8s.io/ingress-nginx" || traefik.str("spec.controller") != nginx.str("spec.controller") {
		t.Errorf("controllers: ingress-nginx %q, traefik %q", nginx.str("spec.controller"), traefik.str("spec.controller"))
	}
}

func TestSiblingChildURN(t *testing.T) {
	t.Parallel()
	got, err := siblingChildURN("urn:pulumi:dev::lab5::lab5:infra:Lab$lab5:infra:Traefik::traefik",
		"lab5:infra:IngressNginx", "ingress-nginx", ingressClassType, "ingress-nginx-nginx")
	want := "urn:pulumi:dev::lab5::lab5:infra:Lab$lab5:infra:IngressNginx$kubernetes:networking.k8s.io/v1:IngressClass::ingress-nginx-nginx"
	if err != nil || string(got) != want {
		t.Errorf("got %q, %v\nwant %q", got, err, want)
	}
	got, err = siblingChildURN("urn:pulumi:s::p::a:b:C::c", "a:b:D", "d", "x:y:Z", "z")
	if err != nil || got != "urn:pulumi:s::p::a:b:D$x:y:Z::z" {
		t.Errorf("top-level sibling: %q, %v", got, err)
	}
	if _, err := siblingChildURN("not-a-urn", "a", "b", "c", "d"); err == nil {
		t.Error("a malformed URN is accepted")
	}
}

// upstreamRBAC reads one of Traefik's vendored RBAC manifests.
func upstreamRBAC(t *testing.T, file string) (*rbacv1.ClusterRole, *rbacv1.ClusterRoleBinding) {
	t.Helper()
	b, err := os.ReadFile("testdata/traefik-v" + TraefikVersion + "/" + file)
	if err != nil {
		t.Fatal(err)
	}
	var role *rbacv1.ClusterRole
	var binding *rbacv1.ClusterRoleBinding
	for _, doc := range bytes.Split(b, []byte("\n---")) {
		var meta struct{ Kind string }
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		switch meta.Kind {
		case "ClusterRole":
			role = &rbacv1.ClusterRole{}
			if err := yaml.UnmarshalStrict(doc, role); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
		case "ClusterRoleBinding":
			binding = &rbacv1.ClusterRoleBinding{}
			if err := yaml.UnmarshalStrict(doc, binding); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
		}
	}
	if role == nil || binding == nil || len(role.Rules) == 0 {
		t.Fatalf("%s: no ClusterRole with rules and ClusterRoleBinding", file)
	}
	return role, binding
}

// TestTraefikRBACIsUpstreams: each provider's ClusterRole grants exactly the
// rules Traefik documents for it (the manifests of the pinned version,
// vendored under testdata/), and is bound the way upstream binds it: to
// Traefik's ServiceAccount.
func TestTraefikRBACIsUpstreams(t *testing.T) {
	t.Parallel()
	r := mustRun(t, traefikConfig("ingressRoute", "gateway"))
	for _, c := range []struct{ file, name string }{
		{"kubernetes-ingress-nginx-rbac.yml", TraefikNginxRBACName},
		{"kubernetes-gateway-rbac.yml", TraefikGatewayRBACName},
	} {
		upRole, upBinding := upstreamRBAC(t, c.file)
		var role rbacv1.ClusterRole
		decodeStrict(t, c.name, r.get("ClusterRole", "", c.name).Obj, &role)
		if !reflect.DeepEqual(role.Rules, upRole.Rules) {
			t.Errorf("ClusterRole %s rules differ from Traefik's %s:\n got %+v\nwant %+v", c.name, c.file, role.Rules, upRole.Rules)
		}
		var binding rbacv1.ClusterRoleBinding
		decodeStrict(t, c.name, r.get("ClusterRoleBinding", "", c.name).Obj, &binding)
		if binding.RoleRef.Kind != upBinding.RoleRef.Kind || binding.RoleRef.APIGroup != upBinding.RoleRef.APIGroup || binding.RoleRef.Name != c.name {
			t.Errorf("ClusterRoleBinding %s roleRef %+v", c.name, binding.RoleRef)
		}
		if len(binding.Subjects) != 1 || binding.Subjects[0].Kind != upBinding.Subjects[0].Kind ||
			binding.Subjects[0].Name != TraefikName || binding.Subjects[0].Namespace != TraefikNamespace {
			t.Errorf("ClusterRoleBinding %s subjects %+v, want ServiceAccount traefik/traefik", c.name, binding.Subjects)
		}
	}
	d := r.get("Deployment", TraefikNamespace, TraefikName)
	if got := d.str("spec.template.spec.serviceAccountName"); got != TraefikName {
		t.Errorf("Traefik runs as ServiceAccount %q", got)
	}
	for _, crb := range r.ofKind("ClusterRoleBinding") {
		if strings.HasPrefix(crb.Name, "traefik") && !dependsOn(d, crb) {
			t.Errorf("the Deployment does not wait for %s", crb.key())
		}
	}

	// Without Gateway API the gateway rules are not granted.
	r = mustRun(t, traefikConfig())
	if _, ok := r.find("ClusterRole", "", TraefikGatewayRBACName); ok {
		t.Error("Gateway API rules granted with ingressRoute=ingress")
	}
}

// traefikArgsOf is the Traefik container's args as a set of key=value.
func traefikArgsOf(r *labRun) (map[string]string, map[string]any) {
	c := r.container(r.get("Deployment", TraefikNamespace, TraefikName), "traefik")
	args := map[string]string{}
	for _, a := range toStrings(c["args"]) {
		k, v, _ := strings.Cut(a, "=")
		args[k] = v
	}
	return args, c
}

func TestTraefikDeployment(t *testing.T) {
	t.Parallel()
	r := mustRun(t, traefikConfig("publicNodeIP", "192.0.2.10"))
	d := r.get("Deployment", TraefikNamespace, TraefikName)
	args, c := traefikArgsOf(r)

	if c["image"] != "traefik:v3.6.7@sha256:a9890c898f379c1905ee5b28342f6b408dc863f08db2dab20e46c267d1ff463a" || r.cfg.Ingress.TraefikImage != DefaultTraefikImage {
		t.Errorf("image = %v", c["image"])
	}
	want := map[string]string{
		"--providers.kubernetesIngressNGINX":                      "true",
		"--providers.kubernetesIngressNGINX.ingressClass":         "nginx",
		"--providers.kubernetesIngressNGINX.controllerClass":      "k8s.io/ingress-nginx",
		"--providers.kubernetesIngressNGINX.publishStatusAddress": "192.0.2.10",
		"--ping":                           "true",
		"--ping.entryPoint":                "traefik",
		"--entryPoints.web.address":        ":8000",
		"--entryPoints.websecure.address":  ":8443",
		"--entryPoints.websecure.http.tls": "true",
		"--entryPoints.traefik.address":    ":8080",
		"--global.checkNewVersion":         "false",
		"--global.sendAnonymousUsage":      "false",
		// A rollout does not refuse connections the Service still sends.
		"--entryPoints.web.transport.lifeCycle.requestAcceptGraceTimeout":       "5s",
		"--entryPoints.websecure.transport.lifeCycle.requestAcceptGraceTimeout": "5s",
	}
	for k, v := range want {
		if args[k] != v {
			t.Errorf("arg %s = %q, want %q", k, args[k], v)
		}
	}
	for k := range args {
		// v3.6.7: neither provider is experimental any more.
		if strings.HasPrefix(k, "--experimental") || strings.HasPrefix(k, "--providers.kubernetesGateway") {
			t.Errorf("unexpected arg %s", k)
		}
	}
	// The IngressClass the provider selects by is the one declared.
	ic := r.get("IngressClass", "", args["--providers.kubernetesIngressNGINX.ingressClass"])
	if ic.str("spec.controller") != args["--providers.kubernetesIngressNGINX.controllerClass"] {
		t.Errorf("IngressClass controller %q, provider controllerClass %q", ic.str("spec.controller"), args["--providers.kubernetesIngressNGINX.controllerClass"])
	}

	// Probes: Traefik's ping endpoint, on the entry point the args put it.
	ports := map[string]float64{}
	for _, p := range toSlice(c["ports"]) {
		ports[dig(p, "name").(string)] = dig(p, "containerPort").(float64)
	}
	if ports["traefik"] != 8080 || ports["web"] != 8000 || ports["websecure"] != 8443 {
		t.Errorf("container ports %v", ports)
	}
	for _, probe := range []string{"readinessProbe", "livenessProbe"} {
		if dig(c, probe+".httpGet.path") != "/ping" || dig(c, probe+".httpGet.port") != "traefik" {
			t.Errorf("%s = %v, want GET /ping on port traefik", probe, c[probe])
		}
	}

	// Hardening: non-root, read-only root file system, nothing kept.
	sc := c["securityContext"]
	if dig(sc, "runAsNonRoot") != true || dig(sc, "runAsUser") != float64(65532) || dig(sc, "readOnlyRootFilesystem") != true ||
		dig(sc, "allowPrivilegeEscalation") != false || !reflect.DeepEqual(toStrings(dig(sc, "capabilities.drop")), []string{"ALL"}) ||
		dig(sc, "capabilities.add") != nil {
		t.Errorf("securityContext = %v", sc)
	}
	mounts := map[string]string{}
	for _, m := range toSlice(c["volumeMounts"]) {
		mounts[dig(m, "mountPath").(string)] = dig(m, "name").(string)
	}
	vols := map[string]bool{}
	for _, v := range toSlice(d.dig("spec.template.spec.volumes")) {
		if dig(v, "emptyDir") != nil {
			vols[dig(v, "name").(string)] = true
		}
	}
	if !vols[mounts["/tmp"]] || !vols[mounts["/data"]] || len(mounts) != 2 {
		t.Errorf("writable mounts %v over emptyDirs %v, want /tmp and /data", mounts, vols)
	}
	if dig(c, "resources.limits.memory") == nil || dig(c, "resources.requests.cpu") == nil {
		t.Errorf("resources = %v", c["resources"])
	}
	if d.dig("spec.strategy.rollingUpdate.maxUnavailable") != float64(0) {
		t.Errorf("a rollout may stop the only Traefik pod first: %v", d.dig("spec.strategy"))
	}

	// The NodePort Service: ingress-nginx's port names, onto Traefik's
	// entry points.
	svc := r.get("Service", TraefikNamespace, TraefikName)
	if svc.str("spec.type") != "NodePort" || !subset(svc.labels("spec.selector"), d.labels("spec.template.metadata.labels")) {
		t.Errorf("Service type %q selector %v", svc.str("spec.type"), svc.labels("spec.selector"))
	}
	got := map[string]string{}
	for _, p := range toSlice(svc.dig("spec.ports")) {
		got[fmt.Sprint(dig(p, "name"))] = fmt.Sprintf("%v->%v", dig(p, "port"), dig(p, "targetPort"))
	}
	if !reflect.DeepEqual(got, map[string]string{"http": "80->web", "https": "443->websecure"}) {
		t.Errorf("Service ports %v", got)
	}

	// Pod Security: the namespace enforces restricted.
	ns := r.get("Namespace", "", TraefikNamespace)
	if ns.labels("metadata.labels")[PodSecurityEnforceLabel] != PodSecurityRestricted {
		t.Errorf("namespace traefik labels %v", ns.labels("metadata.labels"))
	}
	spec, ann := declaredPod(t, d)
	if v := violations(t, PodSecurityRestricted, spec, ann); len(v) > 0 {
		t.Errorf("Traefik's pod violates restricted: %v", v)
	}
}

func TestTraefikImageConfig(t *testing.T) {
	t.Parallel()
	pinned := "registry.example/traefik:v3.6.7@sha256:" + strings.Repeat("ab", 32)
	args, c := traefikArgsOf(mustRun(t, traefikConfig("traefikImage", pinned, "ingressRoute", "gateway", "publicNodeIP", "192.0.2.7")))
	if c["image"] != pinned {
		t.Errorf("image = %v", c["image"])
	}
	if args["--providers.kubernetesGateway"] != "true" || args["--providers.kubernetesGateway.statusAddress.ip"] != "192.0.2.7" {
		t.Errorf("gateway provider args: %v", args)
	}
}

func TestIngressConfigErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		config map[string]string
		want   string
	}{
		{with("ingressController", "nginx"), "lab5:ingressController must be"},
		{with("ingressRoute", "httproute"), "lab5:ingressRoute must be"},
		{with("ingressRoute", "gateway"), "lab5:ingressRoute \"gateway\" needs lab5:ingressController \"traefik\""},
		{traefikConfig("traefikImage", "http://traefik"), "lab5:traefikImage must be a container image reference"},
	} {
		_, err := runProgram(c.config)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err = %v, want %q", c.config, err, c.want)
		}
	}
}

// TestTraefikOutputs: the URL and node port outputs follow the controller.
func TestTraefikOutputs(t *testing.T) {
	t.Parallel()
	r := mustRun(t, traefikConfig("publicNodeIP", "192.0.2.10"))
	port := r.allocated["traefik/traefik/http"]
	if port == 0 {
		t.Fatalf("no http nodePort allocated: %v", r.allocated)
	}
	if r.outputs["ingressHttpNodePort"] != port || r.outputs["ingressUrl"] != fmt.Sprintf("http://echoserver.192.0.2.10.nip.io:%d", port) {
		t.Errorf("outputs %v", r.outputs)
	}
	ns, _ := r.outputs["namespaces"].([]string)
	sort.Strings(ns)
	if !reflect.DeepEqual(ns, []string{"k8s-lab5", "production", "test", "traefik"}) {
		t.Errorf("namespaces = %v", ns)
	}
	ing := r.get("Ingress", NamespaceDefault, EchoserverIngressName)
	for _, o := range []*k8sObject{r.get("Service", TraefikNamespace, TraefikName), r.get("IngressClass", "", "nginx")} {
		if !dependsOn(ing, o) {
			t.Errorf("the Ingress does not wait for %s", o.key())
		}
	}
	// Traefik reads the Ingress when it starts: nothing to wait for.
	if d := r.get("Deployment", TraefikNamespace, TraefikName); dependsOn(ing, d) {
		t.Errorf("the Ingress waits for %s", d.key())
	}
}
