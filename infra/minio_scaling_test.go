package infra

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Distributed MinIO (minioReplicas >= 4) against the mocks; the default
// (standalone) layout is pinned by TestMinioStatefulSet and TestAppServices.

// TestMinioErasureLayout: the erasure set size MinIO picks for N servers
// with one drive each, its default parity and the pods one set can lose
// while still accepting writes (the PodDisruptionBudget's maxUnavailable).
// Figures as in MinIO's erasure-coding documentation: 4 servers give
// EC:2 with write quorum 3; 16 give EC:4 with write quorum 12.
func TestMinioErasureLayout(t *testing.T) {
	t.Parallel()
	cases := []struct{ n, setSize, parity, tolerance int }{
		{4, 4, 2, 1}, // 2 data + 2 parity: equal halves need 3 for a write
		{5, 5, 2, 2},
		{6, 6, 3, 2},
		{7, 7, 3, 3},
		{8, 8, 4, 3},
		{9, 9, 4, 4},
		{12, 12, 4, 4},
		{16, 16, 4, 4},
		{18, 9, 4, 4},  // two sets of 9
		{20, 10, 4, 4}, // two sets of 10
		{24, 12, 4, 4},
		{32, 16, 4, 4},
		{17, 0, 0, 0},  // prime: MinIO refuses to start
		{34, 2, 1, 0},  // 17 sets of 2: MinIO starts, one pod down stops writes
		{51, 3, 1, 1},  // 17 sets of 3
		{2, 2, 1, 0},   // the 2-server "distributed" MinIO
		{3, 3, 1, 1},   // the 3-server one
		{40, 10, 4, 4}, // prefers the largest set: 4 sets of 10, not 5 of 8
	}
	for _, c := range cases {
		size := minioErasureSetSize(c.n)
		if size != c.setSize {
			t.Errorf("%d servers: erasure set size %d, want %d", c.n, size, c.setSize)
			continue
		}
		if size == 0 {
			continue
		}
		if p := minioDefaultParity(size); p != c.parity {
			t.Errorf("set of %d: parity %d, want %d", size, p, c.parity)
		}
		if tol := minioWriteTolerance(size); tol != c.tolerance {
			t.Errorf("set of %d: write tolerance %d, want %d", size, tol, c.tolerance)
		}
	}
}

// TestMinioReplicasValidation: minioReplicas accepts 1 and the counts
// that form erasure sets of 4..16 drives; everything else is a config
// error naming the key.
func TestMinioReplicasValidation(t *testing.T) {
	t.Parallel()
	for _, n := range []string{"1", "4", "5", "7", "8", "16", "18", "20", "32"} {
		cfg, err := loadConfig(t, with("minioReplicas", n))
		if err != nil {
			t.Errorf("minioReplicas=%s rejected: %v", n, err)
			continue
		}
		if fmt.Sprint(cfg.MinioReplicas) != n {
			t.Errorf("minioReplicas=%s read as %d", n, cfg.MinioReplicas)
		}
	}
	for n, want := range map[string]string{
		"0":    "must be 1 (standalone MinIO) or at least 4",
		"-4":   "must be 1 (standalone MinIO) or at least 4",
		"2":    "at least 4 servers",
		"3":    "at least 4 servers",
		"17":   "divisible by none",
		"19":   "divisible by none",
		"34":   "sets of 2 drives",
		"51":   "sets of 3 drives",
		"4.0":  "must be an integer",
		"four": "must be an integer",
	} {
		_, err := loadConfig(t, with("minioReplicas", n))
		if err == nil {
			t.Errorf("minioReplicas=%s accepted", n)
			continue
		}
		if !strings.Contains(err.Error(), "lab5:minioReplicas") || !strings.Contains(err.Error(), want) {
			t.Errorf("minioReplicas=%s: error %q does not name the key and say %q", n, err, want)
		}
	}
}

// TestMinioStandaloneIsTheDefault: minioReplicas=1 declares exactly what
// the default does, so existing stacks see no change.
func TestMinioStandaloneIsTheDefault(t *testing.T) {
	t.Parallel()
	def := mustRun(t, baseConfig())
	one := mustRun(t, with("minioReplicas", "1"))
	if removed, added := keyDiff(def, one); len(removed)+len(added) != 0 {
		t.Fatalf("minioReplicas=1 differs from the default: -%v +%v", removed, added)
	}
	for _, o := range def.objects {
		other := one.get(o.Kind, o.Namespace, o.Name)
		if !reflect.DeepEqual(o.Obj, other.Obj) {
			t.Errorf("%s differs between the default and minioReplicas=1", o.key())
		}
	}
	for _, k := range []struct{ kind, name string }{{"Service", MinioHeadlessServiceName}, {"PodDisruptionBudget", MinioName}} {
		if _, ok := def.find(k.kind, "production", k.name); ok {
			t.Errorf("standalone MinIO declares %s %s", k.kind, k.name)
		}
	}
	ss := def.get("StatefulSet", "production", "minio")
	for _, path := range []string{"spec.podManagementPolicy", "spec.template.spec.topologySpreadConstraints"} {
		if ss.dig(path) != nil {
			t.Errorf("standalone StatefulSet sets %s = %v", path, ss.dig(path))
		}
	}
}

// TestMinioDistributed: the StatefulSet, its headless Service, the
// endpoint list and the PodDisruptionBudget of distributed MinIO.
func TestMinioDistributed(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ replicas, maxUnavailable int }{{4, 1}, {8, 3}, {18, 4}} {
		t.Run(fmt.Sprint(c.replicas), func(t *testing.T) {
			t.Parallel()
			r := mustRun(t, with("minioReplicas", fmt.Sprint(c.replicas)))
			ss := r.get("StatefulSet", "production", fmt.Sprintf("minio-dist%d", c.replicas))
			podLabels := ss.labels("spec.template.metadata.labels")
			if ss.num("spec.replicas") != c.replicas || ss.str("spec.podManagementPolicy") != "Parallel" ||
				ss.str("spec.serviceName") != MinioHeadlessServiceName {
				t.Errorf("replicas=%d podManagementPolicy=%q serviceName=%q", ss.num("spec.replicas"),
					ss.str("spec.podManagementPolicy"), ss.str("spec.serviceName"))
			}

			// Each pod's stable DNS name is <statefulset>-<i>.<serviceName>.<ns>.svc:
			// the endpoint list must name exactly those, one drive each.
			c0 := r.container(ss, "minio")
			args := toStrings(c0["args"])
			wantEndpoints := fmt.Sprintf("http://%s-{0...%d}.%s.%s.svc.cluster.local:9000/data",
				ss.Name, c.replicas-1, ss.str("spec.serviceName"), ss.Namespace)
			if !reflect.DeepEqual(args, []string{"server", wantEndpoints, "--console-address", ":9001"}) {
				t.Errorf("args = %v, want server %s --console-address :9001", args, wantEndpoints)
			}

			// One PVC per pod: data-minio-dist<N>-<i>.
			if ss.str("spec.volumeClaimTemplates[0].metadata.name") != "data" ||
				dig(c0, "volumeMounts[0].name") != "data" || dig(c0, "volumeMounts[0].mountPath") != "/data" ||
				len(toSlice(ss.dig("spec.volumeClaimTemplates"))) != 1 {
				t.Errorf("one volume per pod mounted at /data: templates %v, mounts %v",
					ss.dig("spec.volumeClaimTemplates"), c0["volumeMounts"])
			}
			if dig(c0, "readinessProbe.httpGet.path") != "/minio/health/cluster/read" ||
				dig(c0, "livenessProbe.httpGet.path") != "/minio/health/live" {
				t.Errorf("probes: readiness %v liveness %v", c0["readinessProbe"], c0["livenessProbe"])
			}
			env := envOf(c0)
			if env["MINIO_ROOT_USER"].SecretName != MinioSecretName || env["MINIO_ROOT_PASSWORD"].SecretName != MinioSecretName {
				t.Errorf("every server needs the same root credentials from %s: %+v", MinioSecretName, env)
			}

			spread := toSlice(ss.dig("spec.template.spec.topologySpreadConstraints"))
			if len(spread) != 1 || dig(spread[0], "topologyKey") != "kubernetes.io/hostname" ||
				dig(spread[0], "maxSkew") != float64(1) || dig(spread[0], "whenUnsatisfiable") != "DoNotSchedule" ||
				!subset(toStringMap(dig(spread[0], "labelSelector.matchLabels")), podLabels) ||
				len(toStringMap(dig(spread[0], "labelSelector.matchLabels"))) == 0 {
				t.Errorf("topologySpreadConstraints = %v", spread)
			}
			// Spread among this layout's pods only: the old layout's pods
			// still run while the StatefulSet is replaced.
			if !reflect.DeepEqual(toStrings(dig(spread[0], "matchLabelKeys")), []string{labelInstance}) ||
				podLabels[labelInstance] != ss.Name || ss.labels("metadata.labels")[labelInstance] != ss.Name {
				t.Errorf("matchLabelKeys %v, pods' instance label %q; want the instance label, set to %s",
					dig(spread[0], "matchLabelKeys"), podLabels[labelInstance], ss.Name)
			}

			hl := r.get("Service", "production", MinioHeadlessServiceName)
			if hl.str("spec.clusterIP") != "None" || hl.dig("spec.publishNotReadyAddresses") != true ||
				!subset(hl.labels("spec.selector"), podLabels) || hl.num("spec.ports[0].port") != 9000 {
				t.Errorf("headless Service = %v", hl.dig("spec"))
			}
			// Clients keep using the lab's ClusterIP Service.
			def := mustRun(t, baseConfig())
			if !reflect.DeepEqual(r.get("Service", "production", "minio").Obj, def.get("Service", "production", "minio").Obj) {
				t.Error("Service minio differs from the standalone layout's")
			}
			if d := r.container(r.get("Deployment", "production", HistoryServerName), HistoryServerName); envOf(d)["MINIO_URI"].Value != "minio:9000" {
				t.Errorf("history-server MINIO_URI = %q", envOf(d)["MINIO_URI"].Value)
			}

			pdb := r.get("PodDisruptionBudget", "production", "minio")
			if pdb.APIVersion != "policy/v1" || pdb.num("spec.maxUnavailable") != c.maxUnavailable ||
				pdb.dig("spec.minAvailable") != nil || !subset(pdb.labels("spec.selector.matchLabels"), podLabels) ||
				len(pdb.labels("spec.selector.matchLabels")) == 0 {
				t.Errorf("PodDisruptionBudget = %v, want maxUnavailable %d over the MinIO pods", pdb.dig("spec"), c.maxUnavailable)
			}
			// Each set must keep write quorum with maxUnavailable pods gone.
			size := minioErasureSetSize(c.replicas)
			if data := size - minioDefaultParity(size); size-c.maxUnavailable < data {
				t.Errorf("maxUnavailable %d leaves %d of %d drives, below the %d data drives", c.maxUnavailable, size-c.maxUnavailable, size, data)
			}
		})
	}
}

// TestMinioVolumeClaimsAreOwnedByTheirNamespace: every volume claim of the
// layout's StatefulSet is patched, once the StatefulSet (which creates it)
// exists, to be owned by the production Namespace, so that destroy's
// namespace deletion removes it at once; the patches are kept on delete,
// so neither a layout change nor destroy deletes a claim through them.
func TestMinioVolumeClaimsAreOwnedByTheirNamespace(t *testing.T) {
	t.Parallel()
	for _, replicas := range []int{1, 4} {
		r := mustRun(t, with(keyMinioReplicas, strconv.Itoa(replicas)))
		ns := r.get("Namespace", "", NamespaceProduction)
		sts := r.get("StatefulSet", NamespaceProduction, minioStatefulSetName(replicas))
		var claims []string
		for _, p := range r.patches {
			if p.Kind != "PersistentVolumeClaim" {
				continue
			}
			claims = append(claims, p.Name)
			owners := p.dig("metadata.ownerReferences")
			want := []any{map[string]any{"apiVersion": "v1", "kind": "Namespace", "name": NamespaceProduction, "uid": "uid-" + ns.URNName, "blockOwnerDeletion": true}}
			if p.Namespace != NamespaceProduction || !reflect.DeepEqual(owners, want) {
				t.Errorf("minioReplicas=%d: claim %s/%s owners %v, want %v", replicas, p.Namespace, p.Name, owners, want)
			}
			if !dependsOn(p, sts) || !p.RetainOnDelete {
				t.Errorf("minioReplicas=%d: claim patch %s: deps %v, retainOnDelete %v; want after %s, retained", replicas, p.Name, p.Deps, p.RetainOnDelete, sts.key())
			}
		}
		var want []string
		for i := range replicas {
			want = append(want, fmt.Sprintf("data-%s-%d", sts.Name, i))
		}
		slices.Sort(claims)
		if !reflect.DeepEqual(claims, want) {
			t.Errorf("minioReplicas=%d: patched claims %v, want %v", replicas, claims, want)
		}
	}
}

// TestMinioLayoutChangeIsAReplace: each layout has its own StatefulSet
// name (and so its own PVCs, data-<name>-<i>) under one logical name: the
// preview shows a replace of that resource, created before the old one is
// deleted, and a new layout never mounts an old layout's volumes.
func TestMinioLayoutChangeIsAReplace(t *testing.T) {
	t.Parallel()
	one := mustRun(t, baseConfig())
	four := mustRun(t, with("minioReplicas", "4"))
	a, b := one.get("StatefulSet", "production", "minio"), four.get("StatefulSet", "production", "minio-dist4")
	if a.URNName != b.URNName {
		t.Errorf("logical names %q and %q: the preview would show an unrelated create and delete", a.URNName, b.URNName)
	}
	removed, added := keyDiff(one, four)
	wantAdded := []string{
		"NetworkPolicy production/" + MinioPeerEgressName,
		"PodDisruptionBudget production/minio",
		"Service production/" + MinioHeadlessServiceName,
		"StatefulSet production/minio-dist4",
	}
	if !reflect.DeepEqual(removed, []string{"StatefulSet production/minio"}) || !reflect.DeepEqual(added, wantAdded) {
		t.Errorf("minioReplicas 1 -> 4: removed %v, added %v; want StatefulSet minio replaced and %v", removed, added, wantAdded)
	}
	seen := map[string]int{}
	for _, n := range []int{1, 4, 5, 8, 16, 18} {
		v := minioStatefulSetName(n)
		if prev, dup := seen[v]; dup {
			t.Errorf("minioReplicas %d and %d share StatefulSet (and PVC) name %q", prev, n, v)
		}
		seen[v] = n
	}
	if minioStatefulSetName(1) != "minio" || a.str("spec.volumeClaimTemplates[0].metadata.name") != "data" {
		t.Errorf("standalone: StatefulSet %q volume %q, want the lab's minio and data (PVC data-minio-0)",
			minioStatefulSetName(1), a.str("spec.volumeClaimTemplates[0].metadata.name"))
	}
}

// TestMinioLayoutWarning: what `pulumi preview` prints on the StatefulSet
// in distributed mode.
func TestMinioLayoutWarning(t *testing.T) {
	t.Parallel()
	w := minioLayoutWarning(4)
	for _, want := range []string{"minioReplicas=4", "StatefulSet minio-dist4", "1 erasure set(s) of 4 drives", "parity 2",
		"survive 1 pod(s) down", "data-minio-dist4-0..3", "REPLACES the MinIO StatefulSet", "NOT copied", "Scaling MinIO"} {
		if !strings.Contains(w, want) {
			t.Errorf("warning lacks %q: %s", want, w)
		}
	}
	if w := minioLayoutWarning(18); !strings.Contains(w, "2 erasure set(s) of 9 drives") || !strings.Contains(w, "survive 4 pod(s)") {
		t.Errorf("18 servers: %s", w)
	}
}

// TestMinioPeerPolicies: distributed MinIO's servers may call each other
// on the API port, in minio-network-policy (a second rule after the lab's,
// which stays as written) and, with the lockdown, in minio-peer-egress.
func TestMinioPeerPolicies(t *testing.T) {
	t.Parallel()
	lab := mustRun(t, baseConfig()).get("NetworkPolicy", "production", MinioNetworkPolicyName)
	for _, lockdown := range []string{"true", "false"} {
		r := mustRun(t, with("minioReplicas", "4", "productionLockdown", lockdown))
		np := r.get("NetworkPolicy", "production", MinioNetworkPolicyName)
		rules := toSlice(np.dig("spec.ingress"))
		if len(rules) != 2 || !reflect.DeepEqual(rules[0], lab.dig("spec.ingress[0]")) {
			t.Fatalf("lockdown=%s: ingress rules %v; want the lab's rule and one more", lockdown, rules)
		}
		from := toSlice(dig(rules[1], "from"))
		if len(from) != 1 || dig(from[0], "namespaceSelector") != nil ||
			!reflect.DeepEqual(toStringMap(dig(from[0], "podSelector.matchLabels")), map[string]string{"app": "minio"}) {
			t.Errorf("peer rule from = %v, want the MinIO pods of production", from)
		}
		if ports := toSlice(dig(rules[1], "ports")); len(ports) != 1 || dig(ports[0], "port") != float64(9000) || dig(ports[0], "protocol") != "TCP" {
			t.Errorf("peer rule ports = %v, want TCP 9000 only", ports)
		}

		egress, ok := r.find("NetworkPolicy", "production", MinioPeerEgressName)
		if lockdown == "false" {
			if ok {
				t.Error("minio-peer-egress without the lockdown: it would isolate MinIO's egress")
			}
			continue
		}
		if !ok {
			t.Fatal("no minio-peer-egress under the lockdown: default-deny-all blocks the servers from each other")
		}
		if !reflect.DeepEqual(toStrings(egress.dig("spec.policyTypes")), []string{"Egress"}) ||
			!reflect.DeepEqual(egress.labels("spec.podSelector.matchLabels"), map[string]string{"app": "minio"}) {
			t.Errorf("minio-peer-egress spec = %v", egress.dig("spec"))
		}
		to := toSlice(egress.dig("spec.egress"))
		if len(to) != 1 || dig(to[0], "to[0].namespaceSelector") != nil || len(toSlice(dig(to[0], "to"))) != 1 ||
			!reflect.DeepEqual(toStringMap(dig(to[0], "to[0].podSelector.matchLabels")), map[string]string{"app": "minio"}) ||
			dig(to[0], "ports[0].port") != float64(9000) || len(toSlice(dig(to[0], "ports"))) != 1 {
			t.Errorf("minio-peer-egress egress = %v, want MinIO pods on TCP 9000 only", to)
		}
		deny := r.get("NetworkPolicy", "production", DefaultDenyAllName)
		if !dependsOn(deny, egress) {
			t.Error("default-deny-all does not wait for minio-peer-egress: switching on could cut the servers apart")
		}
	}
}
