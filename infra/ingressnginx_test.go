package infra

import (
	"reflect"
	"sort"
	"strings"
	"testing"
)

// The objects of the upstream baremetal manifest (controller-v1.15.1), as
// "Kind namespace/name".
var upstreamIngressNginxObjects = []string{
	"Namespace /ingress-nginx",
	"ServiceAccount ingress-nginx/ingress-nginx",
	"ServiceAccount ingress-nginx/ingress-nginx-admission",
	"Role ingress-nginx/ingress-nginx",
	"Role ingress-nginx/ingress-nginx-admission",
	"ClusterRole /ingress-nginx",
	"ClusterRole /ingress-nginx-admission",
	"RoleBinding ingress-nginx/ingress-nginx",
	"RoleBinding ingress-nginx/ingress-nginx-admission",
	"ClusterRoleBinding /ingress-nginx",
	"ClusterRoleBinding /ingress-nginx-admission",
	"ConfigMap ingress-nginx/ingress-nginx-controller",
	"Service ingress-nginx/ingress-nginx-controller",
	"Service ingress-nginx/ingress-nginx-controller-admission",
	"Deployment ingress-nginx/ingress-nginx-controller",
	"Job ingress-nginx/ingress-nginx-admission-create",
	"Job ingress-nginx/ingress-nginx-admission-patch",
	"IngressClass /nginx",
	"ValidatingWebhookConfiguration /ingress-nginx-admission",
}

// admissionOnly are the upstream objects that exist only for the webhook.
var admissionOnly = map[string]bool{
	"ServiceAccount ingress-nginx/ingress-nginx-admission":     true,
	"Role ingress-nginx/ingress-nginx-admission":               true,
	"ClusterRole /ingress-nginx-admission":                     true,
	"RoleBinding ingress-nginx/ingress-nginx-admission":        true,
	"ClusterRoleBinding /ingress-nginx-admission":              true,
	"Service ingress-nginx/ingress-nginx-controller-admission": true,
	"Job ingress-nginx/ingress-nginx-admission-create":         true,
	"Job ingress-nginx/ingress-nginx-admission-patch":          true,
	"ValidatingWebhookConfiguration /ingress-nginx-admission":  true,
}

// ingressNginxObjects lists the declared objects of the IngressNginx
// component.
func (r *labRun) ingressNginxObjects() []string {
	var out []string
	for _, o := range r.objects {
		if strings.Contains(o.Parent, "lab5:infra:IngressNginx") {
			out = append(out, o.key())
		}
	}
	sort.Strings(out)
	return out
}

func TestIngressNginxMirrorsUpstreamObjects(t *testing.T) {
	t.Parallel()
	r := mustRun(t, with("ingressAdmissionWebhook", "true"))
	want := append([]string{}, upstreamIngressNginxObjects...)
	sort.Strings(want)
	if got := r.ingressNginxObjects(); !reflect.DeepEqual(got, want) {
		t.Errorf("ingress-nginx objects:\n got %v\nwant %v", got, want)
	}
}

func TestIngressNginxWithoutWebhook(t *testing.T) {
	t.Parallel()
	r := mustRun(t, with("ingressAdmissionWebhook", "false"))
	var want []string
	for _, k := range upstreamIngressNginxObjects {
		if !admissionOnly[k] {
			want = append(want, k)
		}
	}
	sort.Strings(want)
	if got := r.ingressNginxObjects(); !reflect.DeepEqual(got, want) {
		t.Errorf("ingress-nginx objects without webhook:\n got %v\nwant %v", got, want)
	}
	if n := len(r.ofKind("ValidatingWebhookConfiguration")); n != 0 {
		t.Errorf("%d ValidatingWebhookConfigurations declared", n)
	}
	if n := len(r.ofKind("Job")); n != 0 {
		t.Errorf("%d Jobs declared", n)
	}
	d := r.get("Deployment", "ingress-nginx", "ingress-nginx-controller")
	c := r.container(d, "controller")
	for _, a := range toStrings(c["args"]) {
		if strings.Contains(a, "webhook") {
			t.Errorf("controller arg %q without the webhook", a)
		}
	}
	for _, p := range toSlice(c["ports"]) {
		if dig(p, "name") == "webhook" {
			t.Error("controller still exposes the webhook port")
		}
	}
	if c["volumeMounts"] != nil || d.dig("spec.template.spec.volumes") != nil {
		t.Errorf("webhook-cert volume still mounted: %v / %v", c["volumeMounts"], d.dig("spec.template.spec.volumes"))
	}
}

func TestIngressNginxController(t *testing.T) {
	t.Parallel()
	r := mustRun(t, baseConfig())
	d := r.get("Deployment", "ingress-nginx", "ingress-nginx-controller")
	sel := map[string]string{
		"app.kubernetes.io/component": "controller",
		"app.kubernetes.io/instance":  "ingress-nginx",
		"app.kubernetes.io/name":      "ingress-nginx",
	}
	if got := d.labels("spec.selector.matchLabels"); !reflect.DeepEqual(got, sel) {
		t.Errorf("selector = %v", got)
	}
	if !subset(sel, d.labels("spec.template.metadata.labels")) {
		t.Errorf("template labels = %v", d.labels("spec.template.metadata.labels"))
	}
	c := r.container(d, "controller")
	wantArgs := []string{
		"/nginx-ingress-controller",
		"--election-id=ingress-nginx-leader",
		"--controller-class=k8s.io/ingress-nginx",
		"--ingress-class=nginx",
		"--configmap=$(POD_NAMESPACE)/ingress-nginx-controller",
		"--validating-webhook=:8443",
		"--validating-webhook-certificate=/usr/local/certificates/cert",
		"--validating-webhook-key=/usr/local/certificates/key",
	}
	if got := toStrings(c["args"]); !reflect.DeepEqual(got, wantArgs) {
		t.Errorf("args = %v", got)
	}
	if c["image"] != "registry.k8s.io/ingress-nginx/controller:v1.15.1@sha256:594ceea76b01c592858f803f9ff4d2cb40542cae2060410b2c95f75907d659e1" {
		t.Errorf("image = %v", c["image"])
	}
	if d.str("spec.template.spec.serviceAccountName") != "ingress-nginx" ||
		d.str("spec.template.spec.volumes[0].secret.secretName") != "ingress-nginx-admission" ||
		dig(c, "volumeMounts[0].mountPath") != "/usr/local/certificates/" ||
		d.num("spec.template.spec.terminationGracePeriodSeconds") != 300 {
		t.Errorf("pod spec = %v", d.dig("spec.template.spec"))
	}
	env := envOf(c)
	if env["LD_PRELOAD"].Value != "/usr/local/lib/libmimalloc.so" || !env["POD_NAME"].HasValueFrom || !env["POD_NAMESPACE"].HasValueFrom {
		t.Errorf("env = %+v", env)
	}
	ports := map[string]float64{}
	for _, p := range toSlice(c["ports"]) {
		ports[dig(p, "name").(string)] = dig(p, "containerPort").(float64)
	}
	if !reflect.DeepEqual(ports, map[string]float64{"http": 80, "https": 443, "webhook": 8443}) {
		t.Errorf("ports = %v", ports)
	}
	if dig(c, "securityContext.runAsUser") != float64(101) || dig(c, "securityContext.runAsNonRoot") != true ||
		!reflect.DeepEqual(toStrings(dig(c, "securityContext.capabilities.add")), []string{"NET_BIND_SERVICE"}) {
		t.Errorf("securityContext = %v", c["securityContext"])
	}
	for _, p := range []string{"livenessProbe", "readinessProbe"} {
		if dig(c, p+".httpGet.path") != "/healthz" || dig(c, p+".httpGet.port") != float64(10254) {
			t.Errorf("%s = %v", p, c[p])
		}
	}
}

func TestIngressNginxServices(t *testing.T) {
	t.Parallel()
	r := mustRun(t, baseConfig())
	s := r.get("Service", "ingress-nginx", "ingress-nginx-controller")
	if s.str("spec.type") != "NodePort" {
		t.Errorf("type = %q", s.str("spec.type"))
	}
	type port struct {
		Name, Target string
		Port         float64
	}
	var ports []port
	for _, p := range toSlice(s.dig("spec.ports")) {
		ports = append(ports, port{dig(p, "name").(string), dig(p, "targetPort").(string), dig(p, "port").(float64)})
		if dig(p, "nodePort") != nil {
			t.Errorf("nodePort pinned (%v): upstream lets the API server allocate it", dig(p, "nodePort"))
		}
	}
	if !reflect.DeepEqual(ports, []port{{"http", "http", 80}, {"https", "https", 443}}) {
		t.Errorf("ports = %v", ports)
	}
	a := r.get("Service", "ingress-nginx", "ingress-nginx-controller-admission")
	if a.str("spec.type") != "ClusterIP" || a.num("spec.ports[0].port") != 443 || a.str("spec.ports[0].targetPort") != "webhook" {
		t.Errorf("admission service = %v", a.dig("spec"))
	}
}

func TestIngressNginxRBAC(t *testing.T) {
	t.Parallel()
	r := mustRun(t, baseConfig())
	// A few rules that matter: leader election, status updates,
	// endpointslices; the admission role's secrets and webhook patching.
	type rule struct{ groups, resources, verbs, names string }
	rulesOf := func(o *k8sObject) []rule {
		var out []rule
		for _, x := range toSlice(o.dig("rules")) {
			out = append(out, rule{
				strings.Join(toStrings(dig(x, "apiGroups")), ","),
				strings.Join(toStrings(dig(x, "resources")), ","),
				strings.Join(toStrings(dig(x, "verbs")), ","),
				strings.Join(toStrings(dig(x, "resourceNames")), ","),
			})
		}
		return out
	}
	contains := func(rs []rule, want rule) bool {
		for _, r := range rs {
			if r == want {
				return true
			}
		}
		return false
	}
	role := rulesOf(r.get("Role", "ingress-nginx", "ingress-nginx"))
	for _, w := range []rule{
		{"coordination.k8s.io", "leases", "get,update", "ingress-nginx-leader"},
		{"coordination.k8s.io", "leases", "create", ""},
		{"networking.k8s.io", "ingresses/status", "update", ""},
		{"", "configmaps,pods,secrets,endpoints", "get,list,watch", ""},
		{"discovery.k8s.io", "endpointslices", "list,watch,get", ""},
	} {
		if !contains(role, w) {
			t.Errorf("Role ingress-nginx lacks %+v", w)
		}
	}
	if len(role) != 10 {
		t.Errorf("Role ingress-nginx has %d rules, upstream 10", len(role))
	}
	cr := rulesOf(r.get("ClusterRole", "", "ingress-nginx"))
	if len(cr) != 9 || !contains(cr, rule{"", "nodes", "get", ""}) {
		t.Errorf("ClusterRole ingress-nginx rules = %v", cr)
	}
	if got := rulesOf(r.get("Role", "ingress-nginx", "ingress-nginx-admission")); !reflect.DeepEqual(got, []rule{{"", "secrets", "get,create", ""}}) {
		t.Errorf("admission Role = %v", got)
	}
	if got := rulesOf(r.get("ClusterRole", "", "ingress-nginx-admission")); !reflect.DeepEqual(got, []rule{{"admissionregistration.k8s.io", "validatingwebhookconfigurations", "get,update", ""}}) {
		t.Errorf("admission ClusterRole = %v", got)
	}
	for _, b := range []struct{ kind, ns, name, roleKind, sa string }{
		{"RoleBinding", "ingress-nginx", "ingress-nginx", "Role", "ingress-nginx"},
		{"ClusterRoleBinding", "", "ingress-nginx", "ClusterRole", "ingress-nginx"},
		{"RoleBinding", "ingress-nginx", "ingress-nginx-admission", "Role", "ingress-nginx-admission"},
		{"ClusterRoleBinding", "", "ingress-nginx-admission", "ClusterRole", "ingress-nginx-admission"},
	} {
		o := r.get(b.kind, b.ns, b.name)
		if o.str("roleRef.kind") != b.roleKind || o.str("roleRef.name") != b.name ||
			o.str("subjects[0].name") != b.sa || o.str("subjects[0].namespace") != "ingress-nginx" {
			t.Errorf("%s = %v", o.key(), o.Obj)
		}
	}
}

func TestIngressNginxAdmissionJobsAndWebhook(t *testing.T) {
	t.Parallel()
	r := mustRun(t, baseConfig())
	certgen := "registry.k8s.io/ingress-nginx/kube-webhook-certgen:v1.6.9@sha256:01038e7de14b78d702d2849c3aad72fd25903c4765af63cf16aa3398f5d5f2dd"
	for name, args := range map[string][]string{
		"ingress-nginx-admission-create": {
			"create",
			"--host=ingress-nginx-controller-admission,ingress-nginx-controller-admission.$(POD_NAMESPACE).svc",
			"--namespace=$(POD_NAMESPACE)",
			"--secret-name=ingress-nginx-admission",
		},
		"ingress-nginx-admission-patch": {
			"patch",
			"--webhook-name=ingress-nginx-admission",
			"--namespace=$(POD_NAMESPACE)",
			"--patch-mutating=false",
			"--secret-name=ingress-nginx-admission",
			"--patch-failure-policy=Fail",
		},
	} {
		j := r.get("Job", "ingress-nginx", name)
		c := j.containers()[0]
		if c["image"] != certgen {
			t.Errorf("%s image = %v", name, c["image"])
		}
		if got := toStrings(c["args"]); !reflect.DeepEqual(got, args) {
			t.Errorf("%s args = %v", name, got)
		}
		if j.str("spec.template.spec.serviceAccountName") != "ingress-nginx-admission" ||
			j.str("spec.template.spec.restartPolicy") != "OnFailure" {
			t.Errorf("%s pod spec = %v", name, j.dig("spec.template.spec"))
		}
		// Decision: no ttlSecondsAfterFinished (see newAdmissionJob).
		if j.dig("spec.ttlSecondsAfterFinished") != nil {
			t.Errorf("%s has ttlSecondsAfterFinished", name)
		}
	}
	patch := r.get("Job", "ingress-nginx", "ingress-nginx-admission-patch")
	for _, dep := range []*k8sObject{
		r.get("ValidatingWebhookConfiguration", "", "ingress-nginx-admission"),
		r.get("Job", "ingress-nginx", "ingress-nginx-admission-create"),
	} {
		if !dependsOn(patch, dep) {
			t.Errorf("patch Job does not wait for %s", dep.key())
		}
	}
	if !dependsOn(r.get("Deployment", "ingress-nginx", "ingress-nginx-controller"), r.get("Job", "ingress-nginx", "ingress-nginx-admission-create")) {
		t.Error("controller does not wait for the certificate Secret's Job")
	}

	w := r.get("ValidatingWebhookConfiguration", "", "ingress-nginx-admission")
	if !dependsOn(w, r.get("Deployment", "ingress-nginx", "ingress-nginx-controller")) {
		t.Error("webhook configuration is created before its backend is ready")
	}
	expectFields(t, "webhook", w.single(t, "webhooks"), map[string]any{
		"name":                           "validate.nginx.ingress.kubernetes.io",
		"failurePolicy":                  "Fail",
		"matchPolicy":                    "Equivalent",
		"sideEffects":                    "None",
		"clientConfig.service.name":      "ingress-nginx-controller-admission",
		"clientConfig.service.namespace": "ingress-nginx",
		"clientConfig.service.path":      "/networking/v1/ingresses",
		"clientConfig.service.port":      float64(443),
		"rules[0].apiGroups[0]":          "networking.k8s.io",
		"rules[0].apiVersions[0]":        "v1",
		"rules[0].resources[0]":          "ingresses",
		"admissionReviewVersions[0]":     "v1",
		"rules[0].operations[1]":         "UPDATE",
		"rules[0].operations[0]":         "CREATE",
		"clientConfig.caBundle":          nil,
		"namespaceSelector":              nil,
		"objectSelector":                 nil,
		"rules[0].scope":                 nil,
		"clientConfig.url":               nil,
		"timeoutSeconds":                 nil,
		"matchConditions":                nil,
		"reinvocationPolicy":             nil,
		"admissionReviewVersions[1]":     nil,
		"rules[0].operations[2]":         nil,
		"rules[0].resources[1]":          nil,
	})
}

// TestImagesPinnedByDigestInOnePlace: every ingress-nginx image is pinned by
// digest and comes from the const block.
func TestImagesPinnedByDigestInOnePlace(t *testing.T) {
	t.Parallel()
	r := mustRun(t, baseConfig())
	for _, o := range r.objects {
		if !strings.Contains(o.Parent, "lab5:infra:IngressNginx") {
			continue
		}
		for _, c := range o.containers() {
			img := c["image"].(string)
			if !strings.Contains(img, "@sha256:") || (img != ingressNginxImage && img != webhookCertgenImage) {
				t.Errorf("%s: image %q is not one of the pinned constants", o.key(), img)
			}
		}
	}
}
