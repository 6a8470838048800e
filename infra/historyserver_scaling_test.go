package infra

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// The history-server's scaling: rollout strategy, topology spread, the
// PodDisruptionBudget and the optional HorizontalPodAutoscaler.

func TestHistoryServerScalingConfig(t *testing.T) {
	t.Parallel()
	cfg, err := loadConfig(t, baseConfig())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HistoryServerAutoscale || cfg.HistoryServerMinReplicas != 2 || cfg.HistoryServerMaxReplicas != 6 ||
		cfg.HistoryServerCPUTarget != 70 || cfg.MinioReplicas != 1 {
		t.Errorf("defaults: autoscale=%v min=%d max=%d cpu=%d minioReplicas=%d", cfg.HistoryServerAutoscale,
			cfg.HistoryServerMinReplicas, cfg.HistoryServerMaxReplicas, cfg.HistoryServerCPUTarget, cfg.MinioReplicas)
	}
	if cfg.historyServerAutoscaling() != nil {
		t.Error("autoscaling on by default")
	}
	cfg, err = loadConfig(t, with("historyServerAutoscale", "true", "historyServerMinReplicas", "1",
		"historyServerMaxReplicas", "20", "historyServerCpuTarget", "150"))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.historyServerAutoscaling(); got == nil || *got != (HistoryServerAutoscaling{MinReplicas: 1, MaxReplicas: 20, CPUTarget: 150}) {
		t.Errorf("autoscaling = %+v", got)
	}

	for _, c := range []struct {
		config map[string]string
		key    string
		want   string
	}{
		{with("historyServerMinReplicas", "0"), "historyServerMinReplicas", "between 1 and 20, got 0"},
		{with("historyServerMinReplicas", "21"), "historyServerMinReplicas", "between 1 and 20, got 21"},
		{with("historyServerMaxReplicas", "21"), "historyServerMaxReplicas", "between 1 and 20, got 21"},
		{with("historyServerMinReplicas", "5", "historyServerMaxReplicas", "4"), "historyServerMaxReplicas", "must not be below historyServerMinReplicas (5), got 4"},
		{with("historyServerCpuTarget", "5"), "historyServerCpuTarget", "between 10 and 1000, got 5"},
		{with("historyServerCpuTarget", "1001"), "historyServerCpuTarget", "between 10 and 1000, got 1001"},
		{with("historyServerCpuTarget", "70%"), "historyServerCpuTarget", "must be an integer"},
		{with("historyServerAutoscale", "yes"), "historyServerAutoscale", "must be true or false"},
		// Checked while the HPA is off too: the typo shows up today.
		{with("historyServerAutoscale", "false", "historyServerMaxReplicas", "0"), "historyServerMaxReplicas", "between 1 and 20"},
	} {
		_, err := loadConfig(t, c.config)
		if err == nil || !strings.Contains(err.Error(), "lab5:"+c.key+" ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v; want lab5:%s ... %q", c.config, err, c.key, c.want)
		}
	}
	// An invalid minimum is reported once, not again as "max below min".
	_, err = loadConfig(t, with("historyServerMinReplicas", "x", "historyServerMaxReplicas", "1"))
	if err == nil || strings.Contains(err.Error(), "must not be below") {
		t.Errorf("min=x max=1: %v", err)
	}
}

// TestHistoryServerRolloutAndSpread: whatever the replica count, a rollout
// never takes a serving pod away before its replacement is ready, and the
// pods of one revision prefer distinct nodes.
func TestHistoryServerRolloutAndSpread(t *testing.T) {
	t.Parallel()
	for _, config := range []map[string]string{baseConfig(), with("historyServerAutoscale", "true")} {
		r := mustRun(t, config)
		d := r.get("Deployment", "production", HistoryServerName)
		if d.str("spec.strategy.type") != "RollingUpdate" || d.num("spec.strategy.rollingUpdate.maxUnavailable") != 0 ||
			d.str("spec.strategy.rollingUpdate.maxSurge") != "25%" {
			t.Errorf("strategy = %v, want RollingUpdate maxUnavailable 0 maxSurge 25%%", d.dig("spec.strategy"))
		}
		spread := toSlice(d.dig("spec.template.spec.topologySpreadConstraints"))
		if len(spread) != 1 || dig(spread[0], "topologyKey") != "kubernetes.io/hostname" || dig(spread[0], "maxSkew") != float64(1) ||
			dig(spread[0], "whenUnsatisfiable") != "ScheduleAnyway" ||
			!reflect.DeepEqual(toStrings(dig(spread[0], "matchLabelKeys")), []string{"pod-template-hash"}) ||
			!reflect.DeepEqual(toStringMap(dig(spread[0], "labelSelector.matchLabels")), d.labels("spec.selector.matchLabels")) {
			t.Errorf("topologySpreadConstraints = %v", spread)
		}
		// A deleted pod serves on until the Service has forgotten it,
		// then drains (server.ShutdownTimeout, 20 s) within the default
		// 30 s grace period.
		c := toSlice(d.dig("spec.template.spec.containers"))[0]
		if dig(c, "lifecycle.preStop.sleep.seconds") != float64(5) || d.dig("spec.template.spec.terminationGracePeriodSeconds") != nil {
			t.Errorf("preStop = %v, terminationGracePeriodSeconds = %v; want a 5 s sleep and the default 30 s",
				dig(c, "lifecycle.preStop"), d.dig("spec.template.spec.terminationGracePeriodSeconds"))
		}
	}
}

// TestHistoryServerDisruptionBudget: a PDB exactly when more than one pod
// serves (fixed replicas, or the HPA's minimum).
func TestHistoryServerDisruptionBudget(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		config map[string]string
		want   bool
	}{
		{baseConfig(), true}, // the lab's 2 replicas
		{with("historyServerReplicas", "1"), false},
		{with("historyServerReplicas", "5"), true},
		{with("historyServerAutoscale", "true", "historyServerMinReplicas", "1", "historyServerReplicas", "4"), false},
		{with("historyServerAutoscale", "true", "historyServerMinReplicas", "2", "historyServerReplicas", "1"), true},
	} {
		r := mustRun(t, c.config)
		pdb, ok := r.find("PodDisruptionBudget", "production", HistoryServerName)
		if ok != c.want {
			t.Errorf("%v: PodDisruptionBudget declared = %v, want %v", c.config, ok, c.want)
			continue
		}
		if !ok {
			continue
		}
		d := r.get("Deployment", "production", HistoryServerName)
		if pdb.APIVersion != "policy/v1" || pdb.num("spec.maxUnavailable") != 1 || pdb.dig("spec.minAvailable") != nil ||
			pdb.str("spec.unhealthyPodEvictionPolicy") != "AlwaysAllow" ||
			!reflect.DeepEqual(pdb.labels("spec.selector.matchLabels"), d.labels("spec.selector.matchLabels")) {
			t.Errorf("%v: PodDisruptionBudget spec = %v", c.config, pdb.dig("spec"))
		}
	}
}

// TestHistoryServerAutoscaler: the HPA and what it changes about the
// Deployment: Pulumi starts it at the minimum and then leaves the replica
// count to the HPA (ignoreChanges), and the managed-by annotation flips so
// that switching the HPA on or off always applies the Deployment.
func TestHistoryServerAutoscaler(t *testing.T) {
	t.Parallel()
	off := mustRun(t, with("historyServerReplicas", "3"))
	on := mustRun(t, with("historyServerReplicas", "3", "historyServerAutoscale", "true",
		"historyServerMinReplicas", "4", "historyServerMaxReplicas", "9", "historyServerCpuTarget", "60"))

	removed, added := keyDiff(off, on)
	if len(removed) != 0 || !reflect.DeepEqual(added, []string{"HorizontalPodAutoscaler production/" + HistoryServerName}) {
		t.Errorf("switching the HPA on: removed %v, added %v; want only the HPA added", removed, added)
	}
	if _, ok := off.find("HorizontalPodAutoscaler", "production", HistoryServerName); ok {
		t.Error("HPA declared while off")
	}

	hpa := on.get("HorizontalPodAutoscaler", "production", HistoryServerName)
	d := on.get("Deployment", "production", HistoryServerName)
	if hpa.APIVersion != "autoscaling/v2" || hpa.num("spec.minReplicas") != 4 || hpa.num("spec.maxReplicas") != 9 {
		t.Errorf("HPA %s min=%d max=%d", hpa.APIVersion, hpa.num("spec.minReplicas"), hpa.num("spec.maxReplicas"))
	}
	if hpa.str("spec.scaleTargetRef.apiVersion") != "apps/v1" || hpa.str("spec.scaleTargetRef.kind") != "Deployment" ||
		hpa.str("spec.scaleTargetRef.name") != d.Name {
		t.Errorf("scaleTargetRef = %v", hpa.dig("spec.scaleTargetRef"))
	}
	metrics := toSlice(hpa.dig("spec.metrics"))
	if len(metrics) != 1 || dig(metrics[0], "type") != "Resource" || dig(metrics[0], "resource.name") != "cpu" ||
		dig(metrics[0], "resource.target.type") != "Utilization" || dig(metrics[0], "resource.target.averageUtilization") != float64(60) {
		t.Errorf("metrics = %v", metrics)
	}
	// Utilization is measured against the request: the container has one.
	if req, _ := dig(on.container(d, HistoryServerName), "resources.requests.cpu").(string); req == "" {
		t.Error("history-server has no CPU request: the HPA could not compute utilization")
	}

	if d.num("spec.replicas") != 4 {
		t.Errorf("replicas = %d, want the HPA's minimum 4 (historyServerReplicas is unused)", d.num("spec.replicas"))
	}
	if !slices.Contains(d.IgnoreChanges, "spec.replicas") {
		t.Errorf("ignoreChanges = %v: Pulumi would fight the HPA over spec.replicas", d.IgnoreChanges)
	}
	offD := off.get("Deployment", "production", HistoryServerName)
	if len(offD.IgnoreChanges) != 0 || offD.num("spec.replicas") != 3 {
		t.Errorf("HPA off: replicas %d ignoreChanges %v", offD.num("spec.replicas"), offD.IgnoreChanges)
	}
	onA, offA := d.labels("metadata.annotations"), offD.labels("metadata.annotations")
	if onA[annotationReplicasManagedBy] == offA[annotationReplicasManagedBy] ||
		onA[annotationReplicasManagedBy] != "horizontalpodautoscaler/history-server" || offA[annotationReplicasManagedBy] != "pulumi" {
		t.Errorf("managed-by annotation on=%q off=%q", onA[annotationReplicasManagedBy], offA[annotationReplicasManagedBy])
	}
	// Without force, the apply that takes spec.replicas back from the HPA
	// controller fails with a field conflict.
	if onA[annotationPatchForce] != "true" || offA[annotationPatchForce] != "true" {
		t.Errorf("pulumi.com/patchForce on=%q off=%q", onA[annotationPatchForce], offA[annotationPatchForce])
	}

	// Only the Deployment's replica handling and annotation differ: the
	// pod template is the same, so switching does not roll the pods.
	if !reflect.DeepEqual(d.dig("spec.template"), offD.dig("spec.template")) {
		t.Error("switching the HPA changes the pod template (a rollout)")
	}
}
