package infra

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// Pod Security Admission: the owned namespaces carry the enforce, audit and
// warn labels, and every pod template declared in a namespace meets the
// level that namespace enforces (the API server would reject it otherwise).
// The checks below are the Pod Security Standards' baseline and restricted
// rules of Kubernetes v1.34
// (https://kubernetes.io/docs/concepts/security/pod-security-standards/),
// applied to the declared pod specs decoded into k8s.io/api types.

// baselineCapabilities may be added under baseline.
var baselineCapabilities = map[corev1.Capability]bool{
	"AUDIT_WRITE": true, "CHOWN": true, "DAC_OVERRIDE": true, "FOWNER": true,
	"FSETID": true, "KILL": true, "MKNOD": true, "NET_BIND_SERVICE": true,
	"SETFCAP": true, "SETGID": true, "SETPCAP": true, "SETUID": true, "SYS_CHROOT": true,
}

// safeSysctls are the namespaced sysctls baseline allows.
var safeSysctls = map[string]bool{
	"kernel.shm_rmid_forced": true, "net.ipv4.ip_local_port_range": true,
	"net.ipv4.ip_unprivileged_port_start": true, "net.ipv4.tcp_syncookies": true,
	"net.ipv4.ping_group_range": true, "net.ipv4.ip_local_reserved_ports": true,
	"net.ipv4.tcp_keepalive_time": true, "net.ipv4.tcp_fin_timeout": true,
	"net.ipv4.tcp_keepalive_intvl": true, "net.ipv4.tcp_keepalive_probes": true,
}

// seLinuxTypes are the SELinux types baseline allows ("" is unset).
var seLinuxTypes = map[string]bool{
	"": true, "container_t": true, "container_init_t": true, "container_kvm_t": true, "container_engine_t": true,
}

// restrictedVolumeTypes are the only volume sources restricted allows.
var restrictedVolumeTypes = []string{
	"ConfigMap", "CSI", "DownwardAPI", "EmptyDir", "Ephemeral", "PersistentVolumeClaim", "Projected", "Secret",
}

// psaContainer is one container of any kind with its path for messages.
type psaContainer struct {
	name string
	sc   *corev1.SecurityContext
	c    corev1.Container
}

func allContainers(spec *corev1.PodSpec) []psaContainer {
	var out []psaContainer
	for _, c := range spec.InitContainers {
		out = append(out, psaContainer{"initContainer " + c.Name, c.SecurityContext, c})
	}
	for _, c := range spec.Containers {
		out = append(out, psaContainer{"container " + c.Name, c.SecurityContext, c})
	}
	for _, c := range spec.EphemeralContainers {
		out = append(out, psaContainer{"ephemeralContainer " + c.Name, c.SecurityContext, corev1.Container(c.EphemeralContainerCommon)})
	}
	return out
}

// baselineViolations lists how a pod violates the baseline standard.
func baselineViolations(spec *corev1.PodSpec, annotations map[string]string) []string {
	var v []string
	add := func(format string, args ...any) { v = append(v, fmt.Sprintf(format, args...)) }
	if spec.HostNetwork || spec.HostPID || spec.HostIPC {
		add("host namespaces (hostNetwork=%v hostPID=%v hostIPC=%v)", spec.HostNetwork, spec.HostPID, spec.HostIPC)
	}
	for _, vol := range spec.Volumes {
		if vol.HostPath != nil {
			add("hostPath volume %s", vol.Name)
		}
	}
	psc := spec.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	if psc.WindowsOptions != nil && psc.WindowsOptions.HostProcess != nil && *psc.WindowsOptions.HostProcess {
		add("pod: windows hostProcess")
	}
	if psc.SeccompProfile != nil && psc.SeccompProfile.Type == corev1.SeccompProfileTypeUnconfined {
		add("pod: seccomp Unconfined")
	}
	if psc.AppArmorProfile != nil && psc.AppArmorProfile.Type == corev1.AppArmorProfileTypeUnconfined {
		add("pod: AppArmor Unconfined")
	}
	if o := psc.SELinuxOptions; o != nil && (!seLinuxTypes[o.Type] || o.User != "" || o.Role != "") {
		add("pod: SELinux options %+v", *o)
	}
	for _, s := range psc.Sysctls {
		if !safeSysctls[s.Name] {
			add("pod: unsafe sysctl %s", s.Name)
		}
	}
	for k, val := range annotations {
		if strings.HasPrefix(k, "container.apparmor.security.beta.kubernetes.io/") && val != "runtime/default" && !strings.HasPrefix(val, "localhost/") {
			add("AppArmor annotation %s=%s", k, val)
		}
	}
	for _, c := range allContainers(spec) {
		for _, p := range c.c.Ports {
			if p.HostPort != 0 {
				add("%s: hostPort %d", c.name, p.HostPort)
			}
		}
		sc := c.sc
		if sc == nil {
			continue
		}
		if sc.Privileged != nil && *sc.Privileged {
			add("%s: privileged", c.name)
		}
		if sc.WindowsOptions != nil && sc.WindowsOptions.HostProcess != nil && *sc.WindowsOptions.HostProcess {
			add("%s: windows hostProcess", c.name)
		}
		if sc.Capabilities != nil {
			for _, capability := range sc.Capabilities.Add {
				if !baselineCapabilities[capability] {
					add("%s: adds capability %s", c.name, capability)
				}
			}
		}
		if sc.SeccompProfile != nil && sc.SeccompProfile.Type == corev1.SeccompProfileTypeUnconfined {
			add("%s: seccomp Unconfined", c.name)
		}
		if sc.AppArmorProfile != nil && sc.AppArmorProfile.Type == corev1.AppArmorProfileTypeUnconfined {
			add("%s: AppArmor Unconfined", c.name)
		}
		if o := sc.SELinuxOptions; o != nil && (!seLinuxTypes[o.Type] || o.User != "" || o.Role != "") {
			add("%s: SELinux options %+v", c.name, *o)
		}
		if sc.ProcMount != nil && *sc.ProcMount != corev1.DefaultProcMount {
			add("%s: procMount %s", c.name, *sc.ProcMount)
		}
	}
	return v
}

// restrictedViolations lists how a pod violates the restricted standard
// (which includes baseline).
func restrictedViolations(spec *corev1.PodSpec, annotations map[string]string) []string {
	v := baselineViolations(spec, annotations)
	add := func(format string, args ...any) { v = append(v, fmt.Sprintf(format, args...)) }
	for _, vol := range spec.Volumes {
		if src := volumeSourceType(vol.VolumeSource); !contains(restrictedVolumeTypes, src) {
			add("volume %s of type %s", vol.Name, src)
		}
	}
	psc := spec.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	podNonRoot := psc.RunAsNonRoot != nil && *psc.RunAsNonRoot
	podSeccomp := psc.SeccompProfile != nil &&
		(psc.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault || psc.SeccompProfile.Type == corev1.SeccompProfileTypeLocalhost)
	if psc.RunAsUser != nil && *psc.RunAsUser == 0 {
		add("pod: runAsUser 0")
	}
	for _, c := range allContainers(spec) {
		sc := c.sc
		if sc == nil {
			sc = &corev1.SecurityContext{}
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			add("%s: allowPrivilegeEscalation not set to false", c.name)
		}
		switch {
		case sc.RunAsNonRoot != nil && !*sc.RunAsNonRoot:
			add("%s: runAsNonRoot false", c.name)
		case sc.RunAsNonRoot == nil && !podNonRoot:
			add("%s: runAsNonRoot not true (pod or container)", c.name)
		}
		if sc.RunAsUser != nil && *sc.RunAsUser == 0 {
			add("%s: runAsUser 0", c.name)
		}
		switch {
		case sc.SeccompProfile == nil && !podSeccomp:
			add("%s: no RuntimeDefault/Localhost seccomp profile (pod or container)", c.name)
		case sc.SeccompProfile != nil && sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault &&
			sc.SeccompProfile.Type != corev1.SeccompProfileTypeLocalhost:
			add("%s: seccomp %s", c.name, sc.SeccompProfile.Type)
		}
		if sc.Capabilities == nil || !containsCap(sc.Capabilities.Drop, "ALL") {
			add("%s: capabilities do not drop ALL", c.name)
		}
		if sc.Capabilities != nil {
			for _, capability := range sc.Capabilities.Add {
				if capability != "NET_BIND_SERVICE" {
					add("%s: adds capability %s", c.name, capability)
				}
			}
		}
	}
	return v
}

// volumeSourceType is the name of the one set field of a VolumeSource.
func volumeSourceType(src corev1.VolumeSource) string {
	rv := reflect.ValueOf(src)
	for i := 0; i < rv.NumField(); i++ {
		if !rv.Field(i).IsNil() {
			return rv.Type().Field(i).Name
		}
	}
	return "<none>"
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func containsCap(list []corev1.Capability, c corev1.Capability) bool {
	for _, x := range list {
		if x == c {
			return true
		}
	}
	return false
}

// violations applies the level's rules.
func violations(level string, spec *corev1.PodSpec, annotations map[string]string) []string {
	switch level {
	case PodSecurityRestricted:
		return restrictedViolations(spec, annotations)
	case PodSecurityBaseline:
		return baselineViolations(spec, annotations)
	}
	return nil // privileged
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
			for _, v := range violations(level, spec, ann) {
				t.Errorf("%s violates %s: %s", o.key(), level, v)
			}
			checked[o.Namespace]++
			if vs := restrictedViolations(spec, ann); len(vs) > 0 {
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
		for _, c := range allContainers(spec) {
			sc := c.sc
			if sc == nil {
				t.Errorf("%s %s: no securityContext", o.key(), c.name)
				continue
			}
			if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser == 0 {
				t.Errorf("%s %s: not a non-root uid", o.key(), c.name)
			}
			if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
				t.Errorf("%s %s: allowPrivilegeEscalation not false", o.key(), c.name)
			}
			if sc.Capabilities == nil || !reflect.DeepEqual(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0 {
				t.Errorf("%s %s: capabilities %+v, want drop ALL, add none", o.key(), c.name, sc.Capabilities)
			}
			if sc.SeccompProfile == nil || sc.SeccompProfile.Type != "RuntimeDefault" {
				t.Errorf("%s %s: seccomp %+v", o.key(), c.name, sc.SeccompProfile)
			}
			if sc.Privileged != nil && *sc.Privileged {
				t.Errorf("%s %s: privileged", o.key(), c.name)
			}
			for _, p := range c.c.Ports {
				if p.HostPort != 0 {
					t.Errorf("%s %s: hostPort", o.key(), c.name)
				}
			}
		}
		if vs := restrictedViolations(spec, nil); len(vs) > 0 {
			t.Errorf("%s: %v", o.key(), vs)
		}
	}
}

// TestPodSecurityCheckerRejects: the rules above are not vacuous.
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
	if v := restrictedViolations(good(), nil); len(v) != 0 {
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
		if got := len(baselineViolations(s, nil)) > 0; got != c.failsBaseline {
			t.Errorf("%s: fails baseline = %v, want %v", c.name, got, c.failsBaseline)
		}
		if got := len(restrictedViolations(s, nil)) > 0; got != c.failsRestricted {
			t.Errorf("%s: fails restricted = %v, want %v", c.name, got, c.failsRestricted)
		}
	}
}
