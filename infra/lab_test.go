package infra

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// One test (or table row) per lab requirement, against the default
// configuration.

func TestNamespaces(t *testing.T) {
	t.Parallel()
	r := mustRun(t, baseConfig())
	for _, ns := range []string{"production", "test", "k8s-lab5", "ingress-nginx"} {
		o := r.get("Namespace", "", ns)
		if o.URNName == "" {
			t.Errorf("namespace %s has no logical name", ns)
		}
	}
	if _, ok := r.find("Namespace", "", "default"); ok {
		t.Error("Namespace default is declared: it must only be referenced")
	}
	if n := len(r.ofKind("Namespace")); n != 4 {
		t.Errorf("%d Namespaces declared, want 4: %v", n, r.keys())
	}
}

func TestMinioSecret(t *testing.T) {
	t.Parallel()
	r := mustRun(t, baseConfig())
	s := r.get("Secret", "production", "minio-secret")
	if got := s.str("stringData.MINIO_ROOT_USER"); got != "minio-admin" {
		t.Errorf("MINIO_ROOT_USER = %q", got)
	}
	if got := s.str("stringData.MINIO_ROOT_PASSWORD"); got != testPassword {
		t.Errorf("MINIO_ROOT_PASSWORD = %q, want the configured password", got)
	}
	if !isSecretAt(s.Obj, "stringData.MINIO_ROOT_PASSWORD") {
		t.Errorf("MINIO_ROOT_PASSWORD is not sent as a secret: %#v", s.Obj["stringData"])
	}
	if keys := toStringMap(s.dig("stringData")); len(keys) != 2 {
		t.Errorf("stringData has keys %v, want exactly MINIO_ROOT_USER and MINIO_ROOT_PASSWORD", keys)
	}
}

func TestMinioStatefulSet(t *testing.T) {
	t.Parallel()
	r := mustRun(t, baseConfig())
	ss := r.get("StatefulSet", "production", "minio")
	if got := ss.labels("metadata.labels")["app"]; got != "minio" {
		t.Errorf("metadata label app = %q", got)
	}
	if got := ss.labels("spec.template.metadata.labels")["app"]; got != "minio" {
		t.Errorf("pod template label app = %q", got)
	}
	if got := ss.labels("spec.selector.matchLabels"); !reflect.DeepEqual(got, map[string]string{"app": "minio"}) {
		t.Errorf("selector = %v", got)
	}
	if ss.str("spec.serviceName") != "minio" || ss.num("spec.replicas") != 1 {
		t.Errorf("serviceName=%q replicas=%d", ss.str("spec.serviceName"), ss.num("spec.replicas"))
	}
	c := r.container(ss, "minio")
	if c["image"] != DefaultMinioImage {
		t.Errorf("image = %v", c["image"])
	}
	if got := toStrings(c["args"]); !reflect.DeepEqual(got, []string{"server", "/data", "--console-address", ":9001"}) {
		t.Errorf("args = %v", got)
	}
	ports := map[string]int{}
	for _, p := range toSlice(c["ports"]) {
		ports[fmt.Sprint(dig(p, "name"))] = int(dig(p, "containerPort").(float64))
	}
	if ports["api"] != 9000 || ports["console"] != 9001 {
		t.Errorf("ports = %v", ports)
	}
	env := envOf(c)
	for name, key := range map[string]string{"MINIO_ROOT_USER": "MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD": "MINIO_ROOT_PASSWORD"} {
		if e := env[name]; e.SecretName != "minio-secret" || e.SecretKey != key {
			t.Errorf("env %s = %+v, want secretKeyRef minio-secret/%s", name, e, key)
		}
	}
	for probe, path := range map[string]string{"livenessProbe": "/minio/health/live", "readinessProbe": "/minio/health/ready"} {
		if dig(c, probe+".httpGet.path") != path || dig(c, probe+".httpGet.port") != float64(9000) {
			t.Errorf("%s = %v", probe, c[probe])
		}
	}
	if dig(c, "volumeMounts[0].name") != "data" || dig(c, "volumeMounts[0].mountPath") != "/data" {
		t.Errorf("volumeMounts = %v", c["volumeMounts"])
	}
	if ss.str("spec.volumeClaimTemplates[0].metadata.name") != "data" ||
		ss.str("spec.volumeClaimTemplates[0].spec.resources.requests.storage") != "1Gi" {
		t.Errorf("volumeClaimTemplates = %v", ss.dig("spec.volumeClaimTemplates"))
	}
	if ss.dig("spec.volumeClaimTemplates[0].spec.storageClassName") != nil {
		t.Error("storageClassName set although minioStorageClass is empty (cluster default)")
	}
	if ss.dig("spec.template.spec.securityContext.runAsNonRoot") != true ||
		ss.num("spec.template.spec.securityContext.runAsUser") != 1000 ||
		ss.num("spec.template.spec.securityContext.fsGroup") != 1000 {
		t.Errorf("pod securityContext = %v", ss.dig("spec.template.spec.securityContext"))
	}
	if dig(c, "securityContext.allowPrivilegeEscalation") != false ||
		!reflect.DeepEqual(toStrings(dig(c, "securityContext.capabilities.drop")), []string{"ALL"}) ||
		dig(c, "securityContext.seccompProfile.type") != "RuntimeDefault" {
		t.Errorf("container securityContext = %v", c["securityContext"])
	}
}

func TestMinioStorageConfig(t *testing.T) {
	t.Parallel()
	r := mustRun(t, with("minioStorageSize", "5Gi", "minioStorageClass", "local-path"))
	ss := r.get("StatefulSet", "production", "minio")
	if ss.str("spec.volumeClaimTemplates[0].spec.resources.requests.storage") != "5Gi" ||
		ss.str("spec.volumeClaimTemplates[0].spec.storageClassName") != "local-path" {
		t.Errorf("volumeClaimTemplates = %v", ss.dig("spec.volumeClaimTemplates"))
	}
}

// TestAppServices: the apps' Services select the app's pods by the lab's
// labels and map the lab's port onto the pods' one (echoserver's NodePort
// Service on the lab's fixed node port).
func TestAppServices(t *testing.T) {
	t.Parallel()
	r := mustRun(t, baseConfig())
	for _, c := range []struct {
		namespace, name, typ string
		selector             map[string]string
		port                 float64
		target, nodePort     any
	}{
		{"production", "minio", "ClusterIP", map[string]string{"app": "minio"}, 9000, float64(9000), nil},
		{"production", "history-server", "ClusterIP", map[string]string{"app": "electricity-calculator", "microservice": "history-server"}, 80, "http", nil},
		{"default", "echoserver-service-nodeport", "NodePort", map[string]string{"app": "echoserver"}, 80, float64(80), float64(30001)},
	} {
		s := r.get("Service", c.namespace, c.name)
		if s.str("spec.type") != c.typ {
			t.Errorf("%s type = %q, want %s", c.name, s.str("spec.type"), c.typ)
		}
		if got := s.labels("spec.selector"); !reflect.DeepEqual(got, c.selector) {
			t.Errorf("%s selector = %v, want %v", c.name, got, c.selector)
		}
		if ports := toSlice(s.dig("spec.ports")); len(ports) != 1 || dig(ports[0], "port") != c.port ||
			dig(ports[0], "targetPort") != c.target || dig(ports[0], "nodePort") != c.nodePort {
			t.Errorf("%s ports = %v, want %v -> %v (node port %v)", c.name, ports, c.port, c.target, c.nodePort)
		}
	}
	if _, ok := r.find("Service", "k8s-lab5", "echoserver-service-nodeport"); ok {
		t.Error("NodePort service also declared in k8s-lab5")
	}
	// history-server's targetPort "http" must name the container's port 8080.
	c := r.container(r.get("Deployment", "production", "history-server"), "history-server")
	if dig(c, "ports[0].name") != "http" || dig(c, "ports[0].containerPort") != float64(8080) {
		t.Errorf("targetPort http does not resolve to 8080: %v", c["ports"])
	}
}

func TestHistoryServerDeployment(t *testing.T) {
	t.Parallel()
	r := mustRun(t, baseConfig())
	d := r.get("Deployment", "production", "history-server")
	lab := map[string]string{"app": "electricity-calculator", "microservice": "history-server"}
	for _, path := range []string{"metadata.labels", "spec.template.metadata.labels"} {
		if !subset(lab, d.labels(path)) {
			t.Errorf("%s = %v, want to include %v", path, d.labels(path), lab)
		}
		if l := d.labels(path); l[labelPartOf] != "lab5" || l[labelManagedBy] != "pulumi" || l[labelName] != "history-server" {
			t.Errorf("%s lacks the recommended labels: %v", path, l)
		}
	}
	if got := d.labels("spec.selector.matchLabels"); !reflect.DeepEqual(got, lab) {
		t.Errorf("selector = %v, want %v", got, lab)
	}
	if d.num("spec.replicas") != 2 {
		t.Errorf("replicas = %d, want default 2", d.num("spec.replicas"))
	}
	c := r.container(d, "history-server")
	if want := r.imageRef("history-server"); c["image"] != want {
		t.Errorf("image = %v, want the built image %s", c["image"], want)
	}
	if dig(c, "ports[0].containerPort") != float64(8080) || dig(c, "ports[0].name") != "http" {
		t.Errorf("ports = %v", c["ports"])
	}
	env := envOf(c)
	want := map[string]envVar{
		"MINIO_URI":        {Value: "minio:9000"},
		"MINIO_ACCESS_KEY": {SecretName: "minio-secret", SecretKey: "MINIO_ROOT_USER", HasValueFrom: true},
		"MINIO_SECRET_KEY": {SecretName: "minio-secret", SecretKey: "MINIO_ROOT_PASSWORD", HasValueFrom: true},
		"MINIO_BUCKET":     {Value: "price-data"},
		"PORT":             {Value: "8080"},
	}
	if !reflect.DeepEqual(env, want) {
		t.Errorf("env = %+v\nwant %+v", env, want)
	}
	if dig(c, "livenessProbe.httpGet.path") != "/healthz" || dig(c, "livenessProbe.httpGet.port") != "http" {
		t.Errorf("livenessProbe = %v", c["livenessProbe"])
	}
	if dig(c, "readinessProbe.httpGet.path") != "/readyz" || dig(c, "readinessProbe.httpGet.port") != "http" {
		t.Errorf("readinessProbe = %v", c["readinessProbe"])
	}
	sc := c["securityContext"]
	if dig(sc, "runAsNonRoot") != true || dig(sc, "runAsUser") != float64(65532) ||
		dig(sc, "readOnlyRootFilesystem") != true || dig(sc, "allowPrivilegeEscalation") != false ||
		!reflect.DeepEqual(toStrings(dig(sc, "capabilities.drop")), []string{"ALL"}) ||
		dig(sc, "seccompProfile.type") != "RuntimeDefault" {
		t.Errorf("securityContext = %v", sc)
	}
}

func TestHistoryServerReplicasFromConfig(t *testing.T) {
	t.Parallel()
	r := mustRun(t, with("historyServerReplicas", "4", "historyServerImage", "someone/history-server:1.0.0"))
	d := r.get("Deployment", "production", "history-server")
	if d.num("spec.replicas") != 4 || r.container(d, "history-server")["image"] != "someone/history-server:1.0.0" {
		t.Errorf("replicas=%d image=%v", d.num("spec.replicas"), r.container(d, "history-server")["image"])
	}
}

func TestPriceFetcherCronJob(t *testing.T) {
	t.Parallel()
	r := mustRun(t, baseConfig())
	cj := r.get("CronJob", "production", "price-fetcher")
	expectFields(t, "CronJob", cj.Obj, map[string]any{
		"spec.schedule":                                     "30 15 * * *",
		"spec.timeZone":                                     "Europe/Tallinn",
		"spec.concurrencyPolicy":                            "Forbid",
		"spec.successfulJobsHistoryLimit":                   float64(3),
		"spec.failedJobsHistoryLimit":                       float64(3),
		"spec.jobTemplate.spec.backoffLimit":                float64(2),
		"spec.jobTemplate.spec.template.spec.restartPolicy": "Never",
	})
	if cj.num("spec.startingDeadlineSeconds") <= 0 || cj.num("spec.jobTemplate.spec.activeDeadlineSeconds") <= 0 {
		t.Errorf("startingDeadlineSeconds=%d activeDeadlineSeconds=%d",
			cj.num("spec.startingDeadlineSeconds"), cj.num("spec.jobTemplate.spec.activeDeadlineSeconds"))
	}
	lab := map[string]string{"app": "electricity-calculator", "microservice": "price-fetcher"}
	if !subset(lab, cj.labels("spec.jobTemplate.spec.template.metadata.labels")) {
		t.Errorf("job pod labels = %v", cj.labels("spec.jobTemplate.spec.template.metadata.labels"))
	}
	c := r.container(cj, "price-fetcher")
	if want := r.imageRef("price-fetcher"); c["image"] != want {
		t.Errorf("image = %v, want the built image %s", c["image"], want)
	}
	if got := envOf(c)["HISTORY_SERVER_URI"].Value; got != "http://history-server.production.svc.cluster.local:80" {
		t.Errorf("HISTORY_SERVER_URI = %q", got)
	}
	if dig(c, "securityContext.runAsNonRoot") != true || dig(c, "securityContext.allowPrivilegeEscalation") != false {
		t.Errorf("securityContext = %v", c["securityContext"])
	}
}

func TestPriceFetcherScheduleFromConfig(t *testing.T) {
	t.Parallel()
	r := mustRun(t, with("priceFetcherSchedule", "0 16 * * *"))
	if got := r.get("CronJob", "production", "price-fetcher").str("spec.schedule"); got != "0 16 * * *" {
		t.Errorf("schedule = %q", got)
	}
}

func TestEchoserverPodsAndServices(t *testing.T) {
	t.Parallel()
	r := mustRun(t, baseConfig())
	for _, ns := range []string{"default", "k8s-lab5"} {
		p := r.get("Pod", ns, "echoserver")
		if p.labels("metadata.labels")["app"] != "echoserver" {
			t.Errorf("%s: pod labels = %v", ns, p.labels("metadata.labels"))
		}
		c := r.container(p, "echoserver")
		if c["image"] != "ealen/echo-server:0.9.2" || dig(c, "ports[0].containerPort") != float64(80) {
			t.Errorf("%s: container = %v", ns, c)
		}
		if !reflect.DeepEqual(toStrings(dig(c, "securityContext.capabilities.add")), []string{"NET_BIND_SERVICE"}) ||
			!reflect.DeepEqual(toStrings(dig(c, "securityContext.capabilities.drop")), []string{"ALL"}) ||
			dig(c, "securityContext.allowPrivilegeEscalation") != false {
			t.Errorf("%s: securityContext = %v", ns, c["securityContext"])
		}
		s := r.get("Service", ns, "echoserver")
		if s.str("spec.type") != "ClusterIP" || s.num("spec.ports[0].port") != 80 || s.num("spec.ports[0].targetPort") != 80 {
			t.Errorf("%s: service spec = %v", ns, s.dig("spec"))
		}
		if got := s.labels("spec.selector"); !reflect.DeepEqual(got, map[string]string{"app": "echoserver"}) {
			t.Errorf("%s: selector = %v", ns, got)
		}
	}
	// Distinct Pulumi names for the two same-named objects.
	a, b := r.get("Pod", "default", "echoserver"), r.get("Pod", "k8s-lab5", "echoserver")
	if a.URNName == b.URNName {
		t.Errorf("both echoserver pods have logical name %q", a.URNName)
	}
}

func TestNginxDeployments(t *testing.T) {
	t.Parallel()
	r := mustRun(t, with("nginxImage", "nginx:1.27.4"))
	for _, ns := range []string{"default", "test"} {
		d := r.get("Deployment", ns, "nginx")
		for _, path := range []string{"metadata.labels", "spec.template.metadata.labels"} {
			if d.labels(path)["name"] != "nginx" {
				t.Errorf("%s: %s = %v", ns, path, d.labels(path))
			}
		}
		if got := d.labels("spec.selector.matchLabels"); !reflect.DeepEqual(got, map[string]string{"name": "nginx"}) {
			t.Errorf("%s: selector = %v", ns, got)
		}
		c := r.container(d, "nginx")
		if c["image"] != "nginx:1.27.4" || dig(c, "ports[0].containerPort") != float64(80) {
			t.Errorf("%s: container = %v", ns, c)
		}
	}
}

func TestPostgresHeadless(t *testing.T) {
	t.Parallel()
	r := mustRun(t, baseConfig())
	s := r.get("Service", "test", "postgresql-hl")
	if s.str("spec.clusterIP") != "None" || s.num("spec.ports[0].port") != 5432 || s.num("spec.ports[0].targetPort") != 5432 {
		t.Errorf("service spec = %v", s.dig("spec"))
	}
	if got := s.labels("spec.selector"); !reflect.DeepEqual(got, map[string]string{"app": "postgresql-hl-test"}) {
		t.Errorf("selector = %v", got)
	}
	ss := r.get("StatefulSet", "test", "postgresql-hl-test")
	if ss.str("spec.serviceName") != "postgresql-hl" || ss.num("spec.replicas") != 2 {
		t.Errorf("serviceName=%q replicas=%d", ss.str("spec.serviceName"), ss.num("spec.replicas"))
	}
	if got := ss.labels("spec.selector.matchLabels"); !reflect.DeepEqual(got, map[string]string{"app": "postgresql-hl-test"}) {
		t.Errorf("selector = %v", got)
	}
	if ss.labels("spec.template.metadata.labels")["app"] != "postgresql-hl-test" {
		t.Errorf("template labels = %v", ss.labels("spec.template.metadata.labels"))
	}
	c := r.container(ss, "postgresql")
	if c["image"] != "bitnami/postgresql:15.4.0" {
		t.Errorf("image = %v", c["image"])
	}
	env := envOf(c)
	want := map[string]envVar{
		"POSTGRESQL_USERNAME": {Value: "test"},
		"POSTGRESQL_DATABASE": {Value: "test"},
		"POSTGRESQL_PASSWORD": {Value: "postgres-password"},
	}
	if !reflect.DeepEqual(env, want) {
		t.Errorf("env = %+v", env)
	}
	if dig(c, "ports[0].containerPort") != float64(5432) || dig(c, "ports[0].name") != "postgres-port" {
		t.Errorf("ports = %v", c["ports"])
	}
	if dig(c, "volumeMounts[0].name") != "postgresql-data" || dig(c, "volumeMounts[0].mountPath") != "/bitnami/postgresql" {
		t.Errorf("volumeMounts = %v", c["volumeMounts"])
	}
	vol := ss.dig("spec.template.spec.volumes[0]")
	if dig(vol, "name") != "postgresql-data" || dig(vol, "emptyDir") == nil {
		t.Errorf("volumes = %v", ss.dig("spec.template.spec.volumes"))
	}
	if ss.num("spec.template.spec.securityContext.runAsUser") != 1001 {
		t.Errorf("pod securityContext = %v", ss.dig("spec.template.spec.securityContext"))
	}
}

func TestEchoserverNetworkPolicy(t *testing.T) {
	t.Parallel()
	r := mustRun(t, baseConfig())
	rule := ingressPolicyRule(t, r.get("NetworkPolicy", "default", "echoserver-network-policy"), map[string]string{"app": "echoserver"})
	from := toSlice(dig(rule, "from"))
	if len(from) != 2 {
		t.Fatalf("want TWO peers in one rule, got %v", from)
	}
	// Peer 1: namespaceSelector only. Peer 2: podSelector only (separate
	// peers are OR-ed; one peer with both would AND them).
	if got := toStringMap(dig(from[0], "namespaceSelector.matchLabels")); !reflect.DeepEqual(got, map[string]string{"kubernetes.io/metadata.name": "k8s-lab5"}) ||
		dig(from[0], "podSelector") != nil {
		t.Errorf("peer 0 = %v", from[0])
	}
	if got := toStringMap(dig(from[1], "podSelector.matchLabels")); !reflect.DeepEqual(got, map[string]string{"name": "nginx"}) ||
		dig(from[1], "namespaceSelector") != nil {
		t.Errorf("peer 1 = %v", from[1])
	}
	ports := toSlice(dig(rule, "ports"))
	if len(ports) != 1 || dig(ports[0], "protocol") != "TCP" || dig(ports[0], "port") != float64(80) {
		t.Errorf("ports = %v", ports)
	}
}

func TestMinioNetworkPolicy(t *testing.T) {
	t.Parallel()
	for _, lab := range []string{"true", "false"} {
		r := mustRun(t, with("labTestResources", lab))
		rule := ingressPolicyRule(t, r.get("NetworkPolicy", "production", "minio-network-policy"), map[string]string{"app": "minio"})
		from := toSlice(dig(rule, "from"))
		want := map[string]string{"app": "electricity-calculator", "microservice": "history-server"}
		if len(from) != 1 || !reflect.DeepEqual(toStringMap(dig(from[0], "podSelector.matchLabels")), want) ||
			dig(from[0], "namespaceSelector") != nil {
			t.Errorf("from = %v, want only pods %v of the same namespace", from, want)
		}
		ports := toSlice(dig(rule, "ports"))
		if len(ports) != 1 || dig(ports[0], "protocol") != "TCP" || dig(ports[0], "port") != float64(9000) {
			t.Errorf("ports = %v", ports)
		}
		// The allowed peer really selects the history-server pods, and the
		// policy really selects the MinIO pods.
		hs := r.get("Deployment", "production", "history-server")
		if !subset(want, hs.labels("spec.template.metadata.labels")) {
			t.Error("policy peer does not match the history-server pods")
		}
		if !subset(map[string]string{"app": "minio"}, r.get("StatefulSet", "production", "minio").labels("spec.template.metadata.labels")) {
			t.Error("policy does not select the MinIO pods")
		}
	}
}

func TestEchoserverIngress(t *testing.T) {
	t.Parallel()
	r := mustRun(t, baseConfig())
	ing := r.get("Ingress", "default", "echoserver-ingress")
	if ing.labels("metadata.labels")["name"] != "echoserver-ingress" {
		t.Errorf("labels = %v", ing.labels("metadata.labels"))
	}
	if ing.str("spec.ingressClassName") != "nginx" {
		t.Errorf("ingressClassName = %q", ing.str("spec.ingressClassName"))
	}
	expectFields(t, "rule", ing.single(t, "spec.rules"), map[string]any{
		"host":                                      "echoserver.127.0.0.1.nip.io",
		"http.paths[0].path":                        "/",
		"http.paths[0].pathType":                    "Prefix",
		"http.paths[0].backend.service.name":        "echoserver",
		"http.paths[0].backend.service.port.number": float64(80),
	})
	if ing.dig("metadata.annotations.pulumi\\.com/skipAwait") != nil || ing.labels("metadata.annotations")[skipAwaitAnnotation] != "" {
		t.Errorf("skipAwait set although awaitIngress defaults to true: %v", ing.dig("metadata.annotations"))
	}
}

func TestEchoserverIngressConfig(t *testing.T) {
	t.Parallel()
	r := mustRun(t, with("publicNodeIP", "192.0.2.10", "awaitIngress", "false"))
	ing := r.get("Ingress", "default", "echoserver-ingress")
	if got := ing.str("spec.rules[0].host"); got != "echoserver.192.0.2.10.nip.io" {
		t.Errorf("host = %q", got)
	}
	if got := ing.labels("metadata.annotations")["pulumi.com/skipAwait"]; got != "true" {
		t.Errorf("pulumi.com/skipAwait = %q, want \"true\"", got)
	}
}

// TestIngressDependsOnController: the Ingress object itself is registered
// with dependencies on the controller's Service and IngressClass, on its
// backend Service and, when deployed, on the admission webhook: its server
// (the controller's Deployment), configuration and CA patch Job. Without
// the webhook it does not wait for the controller to run, and so stands at
// the workloads' dependency level on destroy; nor does its component wait
// for anything.
func TestIngressDependsOnController(t *testing.T) {
	t.Parallel()
	for _, webhook := range []bool{true, false} {
		r := mustRun(t, with("ingressAdmissionWebhook", fmt.Sprint(webhook)))
		ing := r.get("Ingress", "default", "echoserver-ingress")
		controller := r.get("Deployment", "ingress-nginx", "ingress-nginx-controller")
		want := []*k8sObject{
			r.get("Service", "ingress-nginx", "ingress-nginx-controller"),
			r.get("IngressClass", "", "nginx"),
			r.get("Service", "default", "echoserver"),
		}
		if webhook {
			want = append(want, controller,
				r.get("ValidatingWebhookConfiguration", "", "ingress-nginx-admission"),
				r.get("Job", "ingress-nginx", "ingress-nginx-admission-patch"))
		} else if dependsOn(ing, controller) {
			t.Errorf("without the webhook the Ingress waits for %s; deps: %v", controller.key(), ing.Deps)
		}
		for _, w := range want {
			if !dependsOn(ing, w) {
				t.Errorf("webhook=%v: Ingress does not depend on %s; deps: %v", webhook, w.key(), ing.Deps)
			}
		}
		components := 0
		for _, c := range r.components {
			if c.Token == TypeEchoserverIngress {
				components++
				if len(c.Deps) > 0 {
					t.Errorf("webhook=%v: component %s waits for %v", webhook, c.Name, c.Deps)
				}
			}
		}
		if components != 1 {
			t.Errorf("webhook=%v: %d %s components", webhook, components, TypeEchoserverIngress)
		}
	}
}

func TestOutputs(t *testing.T) {
	t.Parallel()
	r := mustRun(t, with("publicNodeIP", "192.0.2.10"))
	httpNodePort := r.allocated["ingress-nginx/ingress-nginx-controller/http"]
	if httpNodePort == 0 || httpNodePort == r.allocated["ingress-nginx/ingress-nginx-controller/https"] {
		t.Fatalf("mock allocated nodePorts %v", r.allocated)
	}
	want := map[string]any{
		"historyServerUrl":      "http://history-server.production.svc.cluster.local:80",
		"minioUrl":              "http://minio.production.svc.cluster.local:9000",
		"echoserverNodePortUrl": "http://192.0.2.10:30001",
		"ingressUrl":            fmt.Sprintf("http://echoserver.192.0.2.10.nip.io:%d", httpNodePort),
		"ingressHttpNodePort":   httpNodePort,
	}
	for k, w := range want {
		if got := r.outputs[k]; got != w {
			t.Errorf("output %s = %v (%T), want %v", k, got, got, w)
		}
	}
	ns, _ := r.outputs["namespaces"].([]string)
	sort.Strings(ns)
	if !reflect.DeepEqual(ns, []string{"ingress-nginx", "k8s-lab5", "production", "test"}) {
		t.Errorf("namespaces = %v", r.outputs["namespaces"])
	}
	if len(r.outputs) != len(want)+1 {
		t.Errorf("outputs = %v", r.outputs)
	}
}

func TestOutputsWithoutLabTestResources(t *testing.T) {
	t.Parallel()
	r := mustRun(t, with("labTestResources", "false"))
	if _, ok := r.outputs["echoserverNodePortUrl"]; ok {
		t.Error("echoserverNodePortUrl exported although the NodePort service is not declared")
	}
	for _, k := range []string{"historyServerUrl", "minioUrl", "ingressUrl", "ingressHttpNodePort", "namespaces"} {
		if _, ok := r.outputs[k]; !ok {
			t.Errorf("output %s missing", k)
		}
	}
	ns, _ := r.outputs["namespaces"].([]string)
	sort.Strings(ns)
	if !reflect.DeepEqual(ns, []string{"ingress-nginx", "production", "test"}) {
		t.Errorf("namespaces = %v", r.outputs["namespaces"])
	}
}

// TestNodePortOutputBeforeAllocation: previewing a new stack, the provider
// reports the controller Service without allocated node ports; the program
// must still succeed (output 0). In a real update a missing nodePort is an
// error, not a silently wrong URL.
func TestNodePortOutputBeforeAllocation(t *testing.T) {
	t.Parallel()
	dryRun := func(info *pulumi.RunInfo) { info.DryRun = true }
	m := newMocks()
	m.noAllocation = true
	r, err := runProgramWith(m, baseConfig(), dryRun)
	if err != nil {
		t.Fatalf("preview failed: %v", err)
	}
	if got := r.outputs["ingressHttpNodePort"]; got != 0 {
		t.Errorf("ingressHttpNodePort in preview = %v, want 0", got)
	}

	m = newMocks()
	m.noAllocation = true
	_, err = runProgramWith(m, baseConfig())
	if err == nil || !strings.Contains(err.Error(), `no nodePort for port "http`) {
		t.Errorf("update without an allocated nodePort: err = %v", err)
	}
}
