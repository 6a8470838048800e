package infra

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// Program-wide properties, checked for every combination of the switches.

var switchCombos = []map[string]string{
	baseConfig(),
	with("labTestResources", "false"),
	with("ingressAdmissionWebhook", "false", "awaitIngress", "false"),
	with("labTestResources", "false", "ingressAdmissionWebhook", "false"),
	with("productionLockdown", "false"),
	with("minioReplicas", "4", "historyServerAutoscale", "true"),
	with("ingressController", "traefik"),
	with("ingressController", "traefik", "ingressRoute", "gateway", "labTestResources", "false", "awaitIngress", "false"),
}

func forAllCombos(t *testing.T, f func(t *testing.T, r *labRun)) {
	t.Helper()
	for i, c := range switchCombos {
		t.Run(fmt.Sprintf("combo%d", i), func(t *testing.T) {
			t.Parallel()
			f(t, mustRun(t, c))
		})
	}
}

// clusterScoped are the kinds without a namespace.
var clusterScoped = map[string]bool{
	"Namespace": true, "ClusterRole": true, "ClusterRoleBinding": true,
	"IngressClass": true, "ValidatingWebhookConfiguration": true,
	"CustomResourceDefinition": true, "GatewayClass": true,
}

// workloadKinds carry pod templates (or are pods).
var workloadKinds = map[string]bool{
	"Pod": true, "Deployment": true, "StatefulSet": true, "Job": true, "CronJob": true,
}

func TestEveryObjectHasExplicitNameAndNamespace(t *testing.T) {
	forAllCombos(t, func(t *testing.T, r *labRun) {
		if len(r.objects) == 0 {
			t.Fatal("no objects")
		}
		for _, o := range r.objects {
			if o.Name == "" {
				t.Errorf("%s (%s) has no explicit metadata.name", o.Token, o.URNName)
			}
			if clusterScoped[o.Kind] && o.Namespace != "" {
				t.Errorf("%s: cluster-scoped object with namespace", o.key())
			}
			if !clusterScoped[o.Kind] && o.Namespace == "" {
				t.Errorf("%s (%s) has no explicit metadata.namespace", o.Kind, o.Name)
			}
			if o.Kind == "" || o.APIVersion == "" {
				t.Errorf("%s: apiVersion/kind missing", o.URNName)
			}
		}
	})
}

func TestNoDefaultNamespaceDeclared(t *testing.T) {
	forAllCombos(t, func(t *testing.T, r *labRun) {
		declared := map[string]bool{"default": true} // referenced, not owned
		for _, o := range r.ofKind("Namespace") {
			if o.Name == "default" {
				t.Error("Namespace default declared")
			}
			declared[o.Name] = true
		}
		// Every namespaced object lives in a declared namespace or default.
		for _, o := range r.objects {
			if o.Namespace != "" && !declared[o.Namespace] {
				t.Errorf("%s is in namespace %q, which the stack neither declares nor references", o.key(), o.Namespace)
			}
		}
	})
}

func TestLogicalNamesUnique(t *testing.T) {
	forAllCombos(t, func(t *testing.T, r *labRun) {
		seen := map[string]string{}
		for _, o := range r.objects {
			k := o.Token + "::" + o.URNName
			if prev, ok := seen[k]; ok {
				t.Errorf("logical name %s used by %s and %s", k, prev, o.key())
			}
			seen[k] = o.key()
		}
		objs := map[string]bool{}
		for _, o := range r.objects {
			if objs[o.key()] {
				t.Errorf("%s declared twice", o.key())
			}
			objs[o.key()] = true
		}
	})
}

func TestServiceSelectorsMatchWorkloads(t *testing.T) {
	forAllCombos(t, func(t *testing.T, r *labRun) {
		for _, s := range r.ofKind("Service") {
			sel := s.labels("spec.selector")
			if len(sel) == 0 {
				t.Errorf("%s has no selector", s.key())
				continue
			}
			matched := false
			for _, w := range r.objects {
				if workloadKinds[w.Kind] && w.Namespace == s.Namespace && subset(sel, w.labels(podLabelsPath(w.Kind))) {
					matched = true
				}
			}
			if !matched {
				t.Errorf("%s selector %v matches no pod template in %s", s.key(), sel, s.Namespace)
			}
		}
	})
}

// TestWorkloadSelectorsMatchTemplates: a Deployment/StatefulSet whose
// selector does not match its own template is rejected by the API server.
func TestWorkloadSelectorsMatchTemplates(t *testing.T) {
	forAllCombos(t, func(t *testing.T, r *labRun) {
		for _, o := range r.objects {
			if o.Kind != "Deployment" && o.Kind != "StatefulSet" {
				continue
			}
			sel := o.labels("spec.selector.matchLabels")
			if len(sel) == 0 || !subset(sel, o.labels("spec.template.metadata.labels")) {
				t.Errorf("%s selector %v does not match template labels %v", o.key(), sel, o.labels("spec.template.metadata.labels"))
			}
		}
	})
}

// TestSelectorsUseOnlyLabLabels: the lab's own workloads select on the
// lab's labels, never on the recommended app.kubernetes.io/* labels.
func TestSelectorsUseOnlyLabLabels(t *testing.T) {
	r := mustRun(t, baseConfig())
	for _, o := range r.objects {
		if strings.Contains(o.Parent, "IngressNginx") {
			continue // upstream's own selectors
		}
		var sel map[string]string
		switch o.Kind {
		case "Service":
			sel = o.labels("spec.selector")
		case "Deployment", "StatefulSet":
			sel = o.labels("spec.selector.matchLabels")
		default:
			continue
		}
		for k := range sel {
			if strings.HasPrefix(k, "app.kubernetes.io/") {
				t.Errorf("%s selects on %s", o.key(), k)
			}
		}
	}
}

func TestRecommendedLabels(t *testing.T) {
	r := mustRun(t, baseConfig())
	for _, o := range r.objects {
		if !workloadKinds[o.Kind] || strings.Contains(o.Parent, "IngressNginx") {
			continue
		}
		for _, path := range []string{"metadata.labels", podLabelsPath(o.Kind)} {
			l := o.labels(path)
			if l[labelPartOf] != "lab5" || l[labelManagedBy] != "pulumi" || l[labelName] == "" || l[labelInstance] == "" || l[labelComponent] == "" {
				t.Errorf("%s %s lacks recommended labels: %v", o.key(), path, l)
			}
		}
	}
}

func TestEveryContainerHasRequestsAndLimits(t *testing.T) {
	forAllCombos(t, func(t *testing.T, r *labRun) {
		n := 0
		for _, o := range r.objects {
			for _, c := range o.containers() {
				n++
				for _, kind := range []string{"requests", "limits"} {
					for _, res := range []string{"cpu", "memory"} {
						if v, _ := dig(c, "resources."+kind+"."+res).(string); v == "" {
							t.Errorf("%s container %v: no resources.%s.%s", o.key(), c["name"], kind, res)
						}
					}
				}
			}
		}
		if n == 0 {
			t.Fatal("no containers found")
		}
	})
}

func TestEveryContainerIsHardened(t *testing.T) {
	forAllCombos(t, func(t *testing.T, r *labRun) {
		for _, o := range r.objects {
			podSC := o.dig(podSpecPath(o.Kind) + ".securityContext")
			for _, c := range o.containers() {
				sc := c["securityContext"]
				if dig(sc, "allowPrivilegeEscalation") != false {
					t.Errorf("%s/%v: allowPrivilegeEscalation not false", o.key(), c["name"])
				}
				if !reflect.DeepEqual(toStrings(dig(sc, "capabilities.drop")), []string{"ALL"}) {
					t.Errorf("%s/%v: capabilities not dropped", o.key(), c["name"])
				}
				if dig(sc, "seccompProfile.type") != "RuntimeDefault" && dig(podSC, "seccompProfile.type") != "RuntimeDefault" {
					t.Errorf("%s/%v: no RuntimeDefault seccomp profile", o.key(), c["name"])
				}
				if dig(sc, "privileged") == true {
					t.Errorf("%s/%v: privileged", o.key(), c["name"])
				}
			}
		}
	})
}

// TestNonRootWhereTheImageAllows: the images that can run as non-root do;
// the two that start as root (echoserver binds :80, official nginx) are the
// documented exceptions.
func TestNonRootWhereTheImageAllows(t *testing.T) {
	r := mustRun(t, baseConfig())
	rootByDesign := map[string]bool{"echoserver": true, "nginx": true}
	for _, o := range r.objects {
		for _, c := range o.containers() {
			name := c["name"].(string)
			nonRoot := dig(c, "securityContext.runAsNonRoot") == true ||
				o.dig(podSpecPath(o.Kind)+".securityContext.runAsNonRoot") == true
			if rootByDesign[name] {
				if nonRoot {
					t.Errorf("%s/%s: runAsNonRoot set but the image needs root (update the comment and this test)", o.key(), name)
				}
				continue
			}
			if !nonRoot {
				t.Errorf("%s/%s: not runAsNonRoot", o.key(), name)
			}
		}
	}
}

func TestProbesOnLongRunningServers(t *testing.T) {
	r := mustRun(t, baseConfig())
	for _, w := range []struct{ kind, ns, name, container string }{
		{"Deployment", "production", "history-server", "history-server"},
		{"StatefulSet", "production", "minio", "minio"},
		{"Deployment", "ingress-nginx", "ingress-nginx-controller", "controller"},
	} {
		c := r.container(r.get(w.kind, w.ns, w.name), w.container)
		if c["livenessProbe"] == nil || c["readinessProbe"] == nil {
			t.Errorf("%s %s/%s: liveness=%v readiness=%v", w.kind, w.ns, w.name, c["livenessProbe"], c["readinessProbe"])
		}
	}
}

func TestImagesAreTagged(t *testing.T) {
	forAllCombos(t, func(t *testing.T, r *labRun) {
		for _, o := range r.objects {
			for _, c := range o.containers() {
				img := c["image"].(string)
				last := img[strings.LastIndex(img, "/")+1:]
				if !strings.Contains(last, ":") || strings.HasSuffix(img, ":latest") {
					t.Errorf("%s: image %q is not pinned to a tag", o.key(), img)
				}
			}
		}
	})
}

// TestLabTestResourcesSwitch: with labTestResources=false exactly the lab's
// cleanup list is missing (plus the echoserver Pod and Service that live in
// the removed k8s-lab5 namespace); everything else is unchanged.
func TestLabTestResourcesSwitch(t *testing.T) {
	t.Parallel()
	for _, webhook := range []string{"true", "false"} {
		on := mustRun(t, with("labTestResources", "true", "ingressAdmissionWebhook", webhook))
		off := mustRun(t, with("labTestResources", "false", "ingressAdmissionWebhook", webhook))
		missing, added := keyDiff(on, off)
		want := []string{
			"Deployment default/nginx",
			"Namespace /k8s-lab5",
			"NetworkPolicy default/echoserver-allow-ingress-controller",
			"NetworkPolicy default/echoserver-network-policy",
			"Pod k8s-lab5/echoserver",
			"Service default/echoserver-service-nodeport",
			"Service k8s-lab5/echoserver",
			"Service test/postgresql-hl",
			"StatefulSet test/postgresql-hl-test",
		}
		if !reflect.DeepEqual(missing, want) {
			t.Errorf("webhook=%s: missing with labTestResources=false:\n got %v\nwant %v", webhook, missing, want)
		}
		if len(added) != 0 {
			t.Errorf("webhook=%s: objects only with labTestResources=false: %v", webhook, added)
		}
		// What the lab keeps is still there.
		for _, k := range []struct{ kind, ns, name string }{
			{"Deployment", "test", "nginx"},
			{"Pod", "default", "echoserver"},
			{"Service", "default", "echoserver"},
			{"Ingress", "default", "echoserver-ingress"},
			{"NetworkPolicy", "production", "minio-network-policy"},
		} {
			if _, ok := off.find(k.kind, k.ns, k.name); !ok {
				t.Errorf("%s %s/%s missing with labTestResources=false", k.kind, k.ns, k.name)
			}
		}
	}
}

// TestWebhookSwitch: with ingressAdmissionWebhook=false exactly the
// admission objects are missing.
func TestWebhookSwitch(t *testing.T) {
	t.Parallel()
	on := mustRun(t, with("ingressAdmissionWebhook", "true"))
	off := mustRun(t, with("ingressAdmissionWebhook", "false"))
	missing, added := keyDiff(on, off)
	var want []string
	for k := range admissionOnly {
		want = append(want, k)
	}
	sort.Strings(want)
	if !reflect.DeepEqual(missing, want) {
		t.Errorf("missing without webhook:\n got %v\nwant %v", missing, want)
	}
	if len(added) != 0 {
		t.Errorf("webhook=false declares objects that webhook=true does not: %v", added)
	}
}

// TestNetworkPolicyPeersExist: the echoserver policy admits real pods: the
// nginx pods in default and the echoserver in k8s-lab5, and not the nginx
// in test (the lab's "blocked" case).
func TestNetworkPolicyPeersExist(t *testing.T) {
	t.Parallel()
	r := mustRun(t, baseConfig())
	np := r.get("NetworkPolicy", "default", "echoserver-network-policy")
	admitted := func(pod *k8sObject) bool {
		for _, peer := range toSlice(np.dig("spec.ingress[0].from")) {
			if ns := toStringMap(dig(peer, "namespaceSelector.matchLabels")); ns != nil {
				// kubernetes.io/metadata.name is set by the API server.
				if ns["kubernetes.io/metadata.name"] == pod.Namespace {
					return true
				}
				continue
			}
			if ps := toStringMap(dig(peer, "podSelector.matchLabels")); ps != nil &&
				pod.Namespace == np.Namespace && subset(ps, pod.labels(podLabelsPath(pod.Kind))) {
				return true
			}
		}
		return false
	}
	cases := []struct {
		kind, ns, name string
		want           bool
	}{
		{"Deployment", "default", "nginx", true},
		{"Pod", "k8s-lab5", "echoserver", true},
		{"Deployment", "test", "nginx", false},
		{"Deployment", "production", "history-server", false},
	}
	for _, c := range cases {
		if got := admitted(r.get(c.kind, c.ns, c.name)); got != c.want {
			t.Errorf("%s %s/%s admitted = %v, want %v", c.kind, c.ns, c.name, got, c.want)
		}
	}
	if !subset(np.labels("spec.podSelector.matchLabels"), r.get("Pod", "default", "echoserver").labels("metadata.labels")) {
		t.Error("policy does not select the default echoserver pod")
	}
}
