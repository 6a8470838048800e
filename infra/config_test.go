package infra

import (
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// loadConfig runs only LoadConfig against the mocks.
func loadConfig(t *testing.T, config map[string]string) (*Config, error) {
	t.Helper()
	var cfg *Config
	var password string
	var wg sync.WaitGroup
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		c, err := LoadConfig(ctx)
		if err != nil {
			return err
		}
		cfg = c
		if !pulumi.IsSecret(c.MinioRootPassword) {
			t.Error("MinioRootPassword is not a secret output")
		}
		wg.Add(1)
		c.MinioRootPassword.ApplyT(func(p string) string { defer wg.Done(); password = p; return p })
		return nil
	}, pulumi.WithMocks("lab5", "dev", newMocks()), withConfig(config, []string{"lab5:minioRootPassword"}))
	if err == nil {
		err = waitTimeout(&wg)
	}
	if err == nil && password != config["lab5:minioRootPassword"] {
		t.Errorf("MinioRootPassword resolves to %q, want the configured value", password)
	}
	return cfg, err
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := loadConfig(t, baseConfig())
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		key       string
		got, want any
	}{
		{"minioRootUser", cfg.MinioRootUser, "minio-admin"},
		{"minioImage", cfg.MinioImage, "quay.io/minio/minio:RELEASE.2025-04-22T22-12-26Z"},
		{"minioStorageSize", cfg.MinioStorageSize, "1Gi"},
		{"minioStorageClass", cfg.MinioStorageClass, ""},
		{"historyServerImage", cfg.HistoryServerImage, ""},
		{"historyServerReplicas", cfg.HistoryServerReplicas, 2},
		{"priceFetcherImage", cfg.PriceFetcherImage, ""},
		{"priceFetcherSchedule", cfg.PriceFetcherSchedule, "30 15 * * *"},
		{"priceFetcherTimeZone", cfg.PriceFetcherTimeZone, "Europe/Tallinn"},
		{"echoserverImage", cfg.EchoserverImage, "ealen/echo-server:0.9.2"},
		{"nginxImage", cfg.NginxImage, "nginx:1.27.5"},
		{"postgresImage", cfg.PostgresImage, "bitnami/postgresql:15.4.0"},
		{"publicNodeIP", cfg.PublicNodeIP, "127.0.0.1"},
		{"ingressAdmissionWebhook", cfg.IngressAdmissionWebhook, true},
		{"awaitIngress", cfg.AwaitIngress, true},
		{"labTestResources", cfg.LabTestResources, true},
		{"productionLockdown", cfg.ProductionLockdown, true},
		{"internetEgressExcept", strings.Join(cfg.InternetEgressExcept, ","), "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want default %v", c.key, c.got, c.want)
		}
	}
	if got := cfg.IngressHost(); got != "echoserver.127.0.0.1.nip.io" {
		t.Errorf("IngressHost() = %q", got)
	}
}

func TestConfigOverrides(t *testing.T) {
	t.Parallel()
	cfg, err := loadConfig(t, with(
		"minioRootUser", "admin",
		"minioStorageSize", "5Gi",
		"minioStorageClass", "fast-ssd",
		"historyServerImage", "someone/history-server:1.2.3",
		"historyServerReplicas", "3",
		"priceFetcherSchedule", "0 14 * * 1-5",
		"publicNodeIP", "192.0.2.10",
		"ingressAdmissionWebhook", "false",
		"awaitIngress", "false",
		"labTestResources", "false",
		"productionLockdown", "false",
		"internetEgressExcept", " 10.0.0.0/8, 100.64.0.0/10 ,169.254.0.0/16",
	))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MinioRootUser != "admin" || cfg.MinioStorageSize != "5Gi" || cfg.MinioStorageClass != "fast-ssd" ||
		cfg.HistoryServerImage != "someone/history-server:1.2.3" || cfg.HistoryServerReplicas != 3 ||
		cfg.PriceFetcherSchedule != "0 14 * * 1-5" || cfg.PublicNodeIP != "192.0.2.10" ||
		cfg.IngressAdmissionWebhook || cfg.AwaitIngress || cfg.LabTestResources || cfg.ProductionLockdown ||
		strings.Join(cfg.InternetEgressExcept, ",") != "10.0.0.0/8,100.64.0.0/10,169.254.0.0/16" {
		t.Errorf("overrides not applied: %+v", cfg)
	}
	if got := cfg.IngressHost(); got != "echoserver.192.0.2.10.nip.io" {
		t.Errorf("IngressHost() = %q", got)
	}
}

func TestConfigValidationErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		config map[string]string
		want   []string // substrings of the error
	}{
		{"missing password", with("minioRootPassword", ""),
			[]string{"lab5:minioRootPassword is required", "pulumi config set --secret minioRootPassword <value>"}},
		{"short password", with("minioRootPassword", "short"),
			[]string{"lab5:minioRootPassword must be at least 8 characters", "pulumi config set --secret minioRootPassword"}},
		{"short user", with("minioRootUser", "ab"),
			[]string{"lab5:minioRootUser must be at least 3 characters"}},
		{"ip not an ip", with("publicNodeIP", "my-node"),
			[]string{`lab5:publicNodeIP must be an IPv4 address`, `"my-node"`}},
		{"ip truncated", with("publicNodeIP", "10.0.0"),
			[]string{`lab5:publicNodeIP must be an IPv4 address`}},
		{"ip v6", with("publicNodeIP", "2001:db8::1"),
			[]string{`lab5:publicNodeIP must be an IPv4 address: nip.io`}},
		{"replicas not a number", with("historyServerReplicas", "two"),
			[]string{`lab5:historyServerReplicas must be an integer, got "two"`}},
		{"replicas zero", with("historyServerReplicas", "0"),
			[]string{"lab5:historyServerReplicas must be between 1 and 20, got 0"}},
		{"replicas negative", with("historyServerReplicas", "-1"),
			[]string{"lab5:historyServerReplicas must be between 1 and 20, got -1"}},
		{"bool", with("awaitIngress", "maybe"),
			[]string{`lab5:awaitIngress must be true or false, got "maybe"`}},
		{"bool webhook", with("ingressAdmissionWebhook", "yes"),
			[]string{`lab5:ingressAdmissionWebhook must be true or false`}},
		{"bool lab", with("labTestResources", "on"),
			[]string{`lab5:labTestResources must be true or false`}},
		{"bool lockdown", with("productionLockdown", "strict"),
			[]string{`lab5:productionLockdown must be true or false, got "strict"`}},
		{"except not a cidr", with("internetEgressExcept", "10.0.0.0/8,private"),
			[]string{`lab5:internetEgressExcept must be a comma-separated list of IPv4 CIDRs`, `"private"`}},
		{"except bare address", with("internetEgressExcept", "10.0.0.1"),
			[]string{`lab5:internetEgressExcept must be a comma-separated list of IPv4 CIDRs`}},
		{"except v6", with("internetEgressExcept", "fd00::/8"),
			[]string{`lab5:internetEgressExcept must list IPv4 CIDRs`}},
		{"except everything", with("internetEgressExcept", "10.0.0.0/8,0.0.0.0/0"),
			[]string{`lab5:internetEgressExcept must not contain "0.0.0.0/0"`}},
		{"except host bits", with("internetEgressExcept", "10.1.2.3/8"),
			[]string{`lab5:internetEgressExcept has host bits set in "10.1.2.3/8" (did you mean 10.0.0.0/8?)`}},
		{"except duplicate", with("internetEgressExcept", "10.0.0.0/8,10.0.0.0/8"),
			[]string{`lab5:internetEgressExcept lists "10.0.0.0/8" twice`}},
		{"except only commas", with("internetEgressExcept", ",,"),
			[]string{`lab5:internetEgressExcept must list at least one CIDR`}},
		{"storage size", with("minioStorageSize", "lots"),
			[]string{`lab5:minioStorageSize must be a Kubernetes quantity`}},
		{"storage class", with("minioStorageClass", "Fast_SSD"),
			[]string{`lab5:minioStorageClass must be a StorageClass name`}},
		{"schedule fields", with("priceFetcherSchedule", "30 15 * *"),
			[]string{`lab5:priceFetcherSchedule must be a cron expression with 5 fields`}},
		{"schedule tz", with("priceFetcherSchedule", "TZ=UTC 30 15 * * *"),
			[]string{`lab5:priceFetcherSchedule must not carry a TZ= prefix`}},
		{"image", with("echoserverImage", "not an image"),
			[]string{`lab5:echoserverImage must be a container image reference`}},
		{"image url", with("historyServerImage", "https://hub.docker.com/x"),
			[]string{`lab5:historyServerImage must be a container image reference`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := loadConfig(t, tc.config)
			if err == nil {
				t.Fatalf("LoadConfig accepted %v", tc.config)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), testPassword) {
				t.Errorf("error leaks the password: %q", err)
			}
		})
	}
}

func TestConfigReportsAllErrorsAtOnce(t *testing.T) {
	t.Parallel()
	_, err := loadConfig(t, with("minioRootPassword", "", "publicNodeIP", "x", "historyServerReplicas", "0"))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, k := range []string{"minioRootPassword", "publicNodeIP", "historyServerReplicas"} {
		if !strings.Contains(err.Error(), "lab5:"+k) {
			t.Errorf("error does not mention %s: %v", k, err)
		}
	}
}

func TestConfigAcceptsValidVariants(t *testing.T) {
	t.Parallel()
	for _, c := range []map[string]string{
		with("priceFetcherSchedule", "@daily"),
		with("priceFetcherSchedule", "*/30 13-16 * * *"),
		with("minioStorageSize", "500Mi"),
		with("historyServerImage", "docker.io/someone/history-server:0.2.0@sha256:"+strings.Repeat("a", 64)),
		with("historyServerReplicas", "1"),
		with("publicNodeIP", "10.20.30.40"),
		with("productionLockdown", "false"),
		with("internetEgressExcept", "10.0.0.0/8"),
		with("internetEgressExcept", "10.96.0.0/12,10.244.0.0/16,192.0.2.7/32"),
	} {
		if _, err := loadConfig(t, c); err != nil {
			t.Errorf("LoadConfig(%v): %v", c, err)
		}
	}
}

func TestConfigErrorStopsTheProgram(t *testing.T) {
	t.Parallel()
	r, err := runProgram(with("publicNodeIP", "nope"))
	if err == nil || !strings.Contains(err.Error(), "lab5:publicNodeIP") {
		t.Fatalf("err = %v", err)
	}
	if len(r.objects) != 0 {
		t.Errorf("%d objects declared despite invalid config", len(r.objects))
	}
}

// readDevStackConfig reads the flat `lab5:<key>: <value>` entries of
// Pulumi.dev.yaml (a one-level map of scalars; comments and quotes
// stripped).
func readDevStackConfig(t *testing.T) map[string]string {
	t.Helper()
	b := readFile(t, "../Pulumi.dev.yaml")
	out := map[string]string{}
	re := regexp.MustCompile(`^\s+(lab5:[A-Za-z0-9]+):\s*(.*?)\s*$`)
	for _, line := range strings.Split(string(b), "\n") {
		m := re.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		v := m[2]
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		out[m[1]] = v
	}
	return out
}

// TestDevStackConfig: Pulumi.dev.yaml sets every non-secret key (and only
// known keys), holds no secret, and configures the fake control plane: no
// webhook, no Ingress await.
func TestDevStackConfig(t *testing.T) {
	t.Parallel()
	dev := readDevStackConfig(t)
	known := map[string]bool{}
	for _, k := range allConfigKeys {
		known["lab5:"+k] = true
		if k == keyMinioRootPassword || k == keyImageRegistryPassword {
			continue
		}
		if _, ok := dev["lab5:"+k]; !ok {
			t.Errorf("Pulumi.dev.yaml does not set lab5:%s", k)
		}
	}
	for k := range dev {
		if !known[k] {
			t.Errorf("Pulumi.dev.yaml sets unknown key %s", k)
		}
	}
	// The password is there, but only as a `secure:` value nested under
	// the key (pulumi config set --secret), never as a plain scalar.
	if v, ok := dev["lab5:minioRootPassword"]; !ok || v != "" {
		t.Errorf("Pulumi.dev.yaml: lab5:minioRootPassword = %q, present %v; want an encrypted value", v, ok)
	}
	if !regexp.MustCompile(`(?m)^  lab5:minioRootPassword:\n    secure: v1:\S+$`).Match(readFile(t, "../Pulumi.dev.yaml")) {
		t.Error("Pulumi.dev.yaml: lab5:minioRootPassword is not stored encrypted (secure: v1:...)")
	}
	dev["lab5:minioRootPassword"] = testPassword
	cfg, err := loadConfig(t, dev)
	if err != nil {
		t.Fatalf("Pulumi.dev.yaml does not validate: %v", err)
	}
	if cfg.IngressAdmissionWebhook || cfg.AwaitIngress || !cfg.LabTestResources || !cfg.ProductionLockdown {
		t.Errorf("dev stack: webhook=%v awaitIngress=%v labTestResources=%v productionLockdown=%v",
			cfg.IngressAdmissionWebhook, cfg.AwaitIngress, cfg.LabTestResources, cfg.ProductionLockdown)
	}
	r := mustRun(t, dev)
	if n := len(r.ofKind("ValidatingWebhookConfiguration")); n != 0 {
		t.Errorf("dev stack declares %d webhook configurations", n)
	}
	if r.get("Ingress", "default", "echoserver-ingress").labels("metadata.annotations")["pulumi.com/skipAwait"] != "true" {
		t.Error("dev stack Ingress lacks pulumi.com/skipAwait")
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
