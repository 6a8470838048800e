package infra

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
)

// Pod Security Admission: the owned namespaces carry the enforce, audit and
// warn labels, and every pod template declared in a namespace meets the
// level that namespace enforces. The verdicts come from the API server's own
// evaluator (k8s.io/pod-security-admission/policy, the control plane's
// version) at the version the namespaces pin, applied to the declared pod
// specs decoded into k8s.io/api types.

// podSecurity evaluates pods exactly as the API server's admission does.
var podSecurity = func() policy.Evaluator {
	e, err := policy.NewEvaluator(policy.DefaultChecks())
	if err != nil {
		panic(err)
	}
	return e
}()

// violations lists why the level (at PodSecurityVersion) rejects the pod;
// empty when the pod is admitted.
func violations(t *testing.T, level string, spec *corev1.PodSpec, annotations map[string]string) []string {
	t.Helper()
	l, err := psaapi.ParseLevel(level)
	if err != nil {
		t.Fatal(err)
	}
	v, err := psaapi.ParseVersion(PodSecurityVersion)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range podSecurity.EvaluatePod(psaapi.LevelVersion{Level: l, Version: v}, &metav1.ObjectMeta{Annotations: annotations}, spec) {
		if !r.Allowed {
			out = append(out, r.ForbiddenReason+" ("+r.ForbiddenDetail+")")
		}
	}
	return out
}

// declaredPod decodes a workload's pod spec and annotations.
func declaredPod(t *testing.T, o *k8sObject) (*corev1.PodSpec, map[string]string) {
	t.Helper()
	var spec corev1.PodSpec
	decodeStrict(t, o.key()+" pod spec", o.dig(podSpecPath(o.Kind)), &spec)
	annPath := strings.TrimSuffix(podLabelsPath(o.Kind), "labels") + "annotations"
	return &spec, o.labels(annPath)
}

func TestPodSecurityLabels(t *testing.T) {
	forAllCombos(t, func(t *testing.T, r *labRun) {
		for _, ns := range r.ofKind("Namespace") {
			level, owned := PodSecurityLevels[ns.Name]
			l := ns.labels("metadata.labels")
			if !owned {
				t.Errorf("namespace %s has no Pod Security level", ns.Name)
				continue
			}
			want := map[string]string{
				"pod-security.kubernetes.io/enforce": level, "pod-security.kubernetes.io/enforce-version": "v1.34",
				"pod-security.kubernetes.io/audit": level, "pod-security.kubernetes.io/audit-version": "v1.34",
				"pod-security.kubernetes.io/warn": level, "pod-security.kubernetes.io/warn-version": "v1.34",
			}
			for k, v := range want {
				if l[k] != v {
					t.Errorf("namespace %s: %s = %q, want %q", ns.Name, k, l[k], v)
				}
			}
		}
		if PodSecurityLevels[NamespaceProduction] != "restricted" || PodSecurityLevels[NamespaceTest] != "baseline" || PodSecurityLevels[IngressNginxNamespace] != "restricted" {
			t.Errorf("levels = %v, want production and ingress-nginx restricted, test baseline", PodSecurityLevels)
		}
	})
}

// TestPodSecurityLevelsMet: every declared pod meets its namespace's
// enforced level (so the API server admits it), and the level is the
// strictest all of the namespace's pods meet: a baseline namespace has a
// pod that restricted would reject.
func TestPodSecurityLevelsMet(t *testing.T) {
	forAllCombos(t, func(t *testing.T, r *labRun) {
		checked := map[string]int{}
		notRestricted := map[string][]string{}
		for _, o := range r.objects {
			if !workloadKinds[o.Kind] {
				continue
			}
			level, ok := PodSecurityLevels[o.Namespace]
			if !ok {
				continue
			}
			ns := r.get("Namespace", "", o.Namespace)
			if got := ns.labels("metadata.labels")[PodSecurityEnforceLabel]; got != level {
				t.Fatalf("namespace %s enforces %q, want %q", o.Namespace, got, level)
			}
			spec, ann := declaredPod(t, o)
			for _, v := range violations(t, level, spec, ann) {
				t.Errorf("%s violates %s: %s", o.key(), level, v)
			}
			checked[o.Namespace]++
			if vs := violations(t, PodSecurityRestricted, spec, ann); len(vs) > 0 {
				notRestricted[o.Namespace] = append(notRestricted[o.Namespace], o.key()+": "+strings.Join(vs, "; "))
			}
		}
		if checked[NamespaceProduction] != 3 {
			t.Errorf("checked %d production pod templates, want 3 (minio, history-server, price-fetcher)", checked[NamespaceProduction])
		}
		for ns, level := range PodSecurityLevels {
			if checked[ns] == 0 {
				continue // k8s-lab5 without labTestResources
			}
			if level == PodSecurityBaseline && len(notRestricted[ns]) == 0 {
				t.Errorf("namespace %s enforces baseline, but all its pods meet restricted: raise it", ns)
			}
			if testing.Verbose() && len(notRestricted[ns]) > 0 {
				t.Logf("%s (%s) is not restricted because:\n%s", ns, level, strings.Join(notRestricted[ns], "\n"))
			}
		}
	})
}

// TestRestrictedProductionPods spells the restricted rules out for each
// production pod template, one by one.
func TestRestrictedProductionPods(t *testing.T) {
	t.Parallel()
	r := mustRun(t, baseConfig())
	for _, w := range []struct{ kind, name string }{
		{"StatefulSet", MinioName}, {"Deployment", HistoryServerName}, {"CronJob", PriceFetcherName},
	} {
		o := r.get(w.kind, NamespaceProduction, w.name)
		spec, _ := declaredPod(t, o)
		psc := spec.SecurityContext
		if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.SeccompProfile == nil || psc.SeccompProfile.Type != "RuntimeDefault" {
			t.Errorf("%s: pod securityContext %+v lacks runAsNonRoot/RuntimeDefault seccomp", o.key(), psc)
		}
		if spec.HostNetwork || spec.HostPID || spec.HostIPC {
			t.Errorf("%s: host namespaces", o.key())
		}
		for _, c := range spec.Containers {
			sc := c.SecurityContext
			if sc == nil {
				t.Errorf("%s %s: no securityContext", o.key(), c.Name)
				continue
			}
			if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser == 0 {
				t.Errorf("%s %s: not a non-root uid", o.key(), c.Name)
			}
			if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
				t.Errorf("%s %s: allowPrivilegeEscalation not false", o.key(), c.Name)
			}
			if sc.Capabilities == nil || !reflect.DeepEqual(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0 {
				t.Errorf("%s %s: capabilities %+v, want drop ALL, add none", o.key(), c.Name, sc.Capabilities)
			}
			if sc.SeccompProfile == nil || sc.SeccompProfile.Type != "RuntimeDefault" {
				t.Errorf("%s %s: seccomp %+v", o.key(), c.Name, sc.SeccompProfile)
			}
			if sc.Privileged != nil && *sc.Privileged {
				t.Errorf("%s %s: privileged", o.key(), c.Name)
			}
			for _, p := range c.Ports {
				if p.HostPort != 0 {
					t.Errorf("%s %s: hostPort", o.key(), c.Name)
				}
			}
		}
		if vs := violations(t, PodSecurityRestricted, spec, nil); len(vs) > 0 {
			t.Errorf("%s: %v", o.key(), vs)
		}
	}
}

// TestPodSecurityCheckerRejects: the evaluation above runs at the level asked
// for and is not vacuous.
func TestPodSecurityCheckerRejects(t *testing.T) {
	t.Parallel()
	yes, no := true, false
	root := int64(0)
	good := func() *corev1.PodSpec {
		return &corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: &yes, SeccompProfile: &corev1.SeccompProfile{Type: "RuntimeDefault"}},
			Containers: []corev1.Container{{Name: "app", SecurityContext: &corev1.SecurityContext{
				AllowPrivilegeEscalation: &no,
				Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			}}},
			Volumes: []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		}
	}
	if v := violations(t, PodSecurityRestricted, good(), nil); len(v) != 0 {
		t.Fatalf("a restricted pod is rejected: %v", v)
	}
	cases := []struct {
		name            string
		mutate          func(s *corev1.PodSpec)
		failsBaseline   bool
		failsRestricted bool
	}{
		{"root user", func(s *corev1.PodSpec) { s.Containers[0].SecurityContext.RunAsUser = &root }, false, true},
		{"no runAsNonRoot", func(s *corev1.PodSpec) { s.SecurityContext.RunAsNonRoot = nil }, false, true},
		{"escalation", func(s *corev1.PodSpec) { s.Containers[0].SecurityContext.AllowPrivilegeEscalation = nil }, false, true},
		{"caps kept", func(s *corev1.PodSpec) { s.Containers[0].SecurityContext.Capabilities = nil }, false, true},
		{"nginx caps", func(s *corev1.PodSpec) {
			s.Containers[0].SecurityContext.Capabilities.Add = []corev1.Capability{"CHOWN", "SETUID", "NET_BIND_SERVICE"}
		}, false, true},
		{"no seccomp", func(s *corev1.PodSpec) { s.SecurityContext.SeccompProfile = nil }, false, true},
		{"unconfined", func(s *corev1.PodSpec) { s.SecurityContext.SeccompProfile.Type = "Unconfined" }, true, true},
		{"privileged", func(s *corev1.PodSpec) { s.Containers[0].SecurityContext.Privileged = &yes }, true, true},
		{"NET_ADMIN", func(s *corev1.PodSpec) {
			s.Containers[0].SecurityContext.Capabilities.Add = []corev1.Capability{"NET_ADMIN"}
		}, true, true},
		{"host network", func(s *corev1.PodSpec) { s.HostNetwork = true }, true, true},
		{"host port", func(s *corev1.PodSpec) {
			s.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: 80}}
		}, true, true},
		{"hostPath", func(s *corev1.PodSpec) {
			s.Volumes[0].VolumeSource = corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}
		}, true, true},
		{"nfs volume", func(s *corev1.PodSpec) {
			s.Volumes[0].VolumeSource = corev1.VolumeSource{NFS: &corev1.NFSVolumeSource{Server: "nfs", Path: "/"}}
		}, false, true},
		{"init container as root", func(s *corev1.PodSpec) {
			s.InitContainers = []corev1.Container{{Name: "init"}}
			s.SecurityContext.RunAsUser = &root
		}, false, true},
	}
	for _, c := range cases {
		s := good()
		c.mutate(s)
		if got := len(violations(t, PodSecurityBaseline, s, nil)) > 0; got != c.failsBaseline {
			t.Errorf("%s: fails baseline = %v, want %v", c.name, got, c.failsBaseline)
		}
		if got := len(violations(t, PodSecurityRestricted, s, nil)) > 0; got != c.failsRestricted {
			t.Errorf("%s: fails restricted = %v, want %v", c.name, got, c.failsRestricted)
		}
	}
}
