package infra

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Config is the stack configuration of the lab, read once by LoadConfig.
//
// Keys live in the project's namespace (`lab5:<key>` in Pulumi.<stack>.yaml).
// The values are read with ctx.GetConfig, which is what the SDK's config
// package does underneath; the config package itself is not used because it
// pulls in a dependency (spf13/cast) that this module's go.sum does not carry.
type Config struct {
	// MinioRootUser is the MinIO root user (MINIO_ROOT_USER); >= 3 chars.
	MinioRootUser string
	// MinioRootPassword is the MinIO root password (MINIO_ROOT_PASSWORD), a
	// secret output so it never appears in plain text in state or logs.
	MinioRootPassword pulumi.StringOutput
	// MinioImage is the MinIO server image (pinned release tag).
	MinioImage string
	// MinioStorageSize is the size of MinIO's PersistentVolumeClaim.
	MinioStorageSize string
	// MinioStorageClass is the StorageClass of MinIO's PVC; empty means the
	// cluster's default class.
	MinioStorageClass string
	// MinioReplicas is the number of MinIO pods: 1 is the lab's standalone
	// server, 4 or more a distributed, erasure-coded MinIO with one volume
	// per pod (minio.go); validated against MinIO's erasure set rules.
	MinioReplicas int

	// Images says where the apps' images are built to (image.go).
	Images ImageConfig
	// Ingress chooses the ingress controller and the echoserver route's
	// API (ingress.go).
	Ingress IngressConfig
	// HistoryServerImage and PriceFetcherImage pin prebuilt images; empty
	// (the default) builds them from apps/ and deploys them by digest.
	HistoryServerImage    string
	HistoryServerReplicas int
	// HistoryServerAutoscale puts the history-server Deployment under a
	// HorizontalPodAutoscaler (autoscaling/v2, CPU utilization) scaling
	// between HistoryServerMinReplicas and HistoryServerMaxReplicas.
	// HistoryServerReplicas is then unused: the Deployment starts at the
	// minimum and the HPA owns its replica count (historyserver.go).
	HistoryServerAutoscale   bool
	HistoryServerMinReplicas int
	HistoryServerMaxReplicas int
	// HistoryServerCPUTarget is the HPA's target average CPU utilization,
	// in percent of the container's CPU request.
	HistoryServerCPUTarget int

	PriceFetcherImage    string
	PriceFetcherSchedule string
	// PriceFetcherTimeZone is the CronJob's spec.timeZone: Nord Pool
	// day-ahead prices are published early afternoon Estonian time.
	PriceFetcherTimeZone string

	EchoserverImage string
	NginxImage      string
	PostgresImage   string

	// PublicNodeIP is the node address used in the Ingress host
	// (echoserver.<ip>.nip.io) and in the NodePort URL.
	PublicNodeIP string

	// IngressAdmissionWebhook deploys the ingress-nginx admission webhook
	// (its Service, certgen Jobs, RBAC and ValidatingWebhookConfiguration).
	IngressAdmissionWebhook bool
	// AwaitIngress makes Pulumi wait for the Ingress to get an address;
	// false sets pulumi.com/skipAwait on it.
	AwaitIngress bool
	// LabTestResources deploys the lab's test-only objects (the lab's
	// cleanup list).
	LabTestResources bool

	// ProductionLockdown adds, beyond the lab's two policies, a default-deny
	// (ingress and egress) NetworkPolicy in production and the allow
	// policies that the lab's data flow needs (networkpolicies.go).
	ProductionLockdown bool
	// InternetEgressExcept are the IPv4 ranges that are NOT "the internet"
	// for the price-fetcher's HTTPS egress (ipBlock 0.0.0.0/0 except
	// these): the cluster's pod, Service and node networks. Canonical
	// CIDRs, from the comma-separated key internetEgressExcept.
	InternetEgressExcept []string
}

// Config keys (without the project prefix).
const (
	keyMinioRootUser           = "minioRootUser"
	keyMinioRootPassword       = "minioRootPassword"
	keyMinioImage              = "minioImage"
	keyMinioStorageSize        = "minioStorageSize"
	keyMinioStorageClass       = "minioStorageClass"
	keyHistoryServerImage      = "historyServerImage"
	keyHistoryServerReplicas   = "historyServerReplicas"
	keyPriceFetcherImage       = "priceFetcherImage"
	keyPriceFetcherSchedule    = "priceFetcherSchedule"
	keyEchoserverImage         = "echoserverImage"
	keyNginxImage              = "nginxImage"
	keyPostgresImage           = "postgresImage"
	keyPublicNodeIP            = "publicNodeIP"
	keyIngressAdmissionWebhook = "ingressAdmissionWebhook"
	keyAwaitIngress            = "awaitIngress"
	keyLabTestResources        = "labTestResources"
	keyProductionLockdown      = "productionLockdown"
	keyInternetEgressExcept    = "internetEgressExcept"

	// Scaling (README "Scaling").
	keyMinioReplicas            = "minioReplicas"
	keyHistoryServerAutoscale   = "historyServerAutoscale"
	keyHistoryServerMinReplicas = "historyServerMinReplicas"
	keyHistoryServerMaxReplicas = "historyServerMaxReplicas"
	keyHistoryServerCPUTarget   = "historyServerCpuTarget"
)

// allConfigKeys lists every key LoadConfig reads.
var allConfigKeys = []string{
	keyMinioRootUser, keyMinioRootPassword, keyMinioImage, keyMinioStorageSize,
	keyMinioStorageClass, keyHistoryServerImage, keyHistoryServerReplicas,
	keyPriceFetcherImage, keyPriceFetcherSchedule, keyEchoserverImage,
	keyNginxImage, keyPostgresImage, keyPublicNodeIP, keyIngressAdmissionWebhook,
	keyAwaitIngress, keyLabTestResources, keyProductionLockdown,
	keyInternetEgressExcept,
	keyImageRepository, keyImageRegistryUsername, keyImageRegistryPassword,
	keyImagePlatforms, keyImageSource, keyImageRevision,
	keyMinioReplicas, keyHistoryServerAutoscale, keyHistoryServerMinReplicas,
	keyHistoryServerMaxReplicas, keyHistoryServerCPUTarget,
	keyIngressController, keyIngressRoute, keyTraefikImage,
}

// Defaults for every optional key.
const (
	DefaultMinioRootUser         = "minio-admin"
	DefaultMinioImage            = "quay.io/minio/minio:RELEASE.2025-04-22T22-12-26Z"
	DefaultMinioStorageSize      = "1Gi"
	DefaultHistoryServerReplicas = 2
	DefaultPriceFetcherSchedule  = "30 15 * * *"
	PriceFetcherTimeZone         = "Europe/Tallinn"
	// DefaultEchoserverImage is the image whose response the lab shows
	// ({"host":{"hostname":...}); it listens on $PORT, 80 by default.
	DefaultEchoserverImage = "ealen/echo-server:0.9.2"
	DefaultNginxImage      = "nginx:1.27.5"
	// DefaultPostgresImage is the image the lab's StatefulSet names.
	DefaultPostgresImage = "bitnami/postgresql:15.4.0"
	DefaultPublicNodeIP  = "127.0.0.1"
	// DefaultInternetEgressExcept are the RFC 1918 private ranges, where
	// clusters put their pod, Service and node addresses.
	DefaultInternetEgressExcept = "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16"

	// DefaultMinioReplicas is the lab's single standalone MinIO pod.
	DefaultMinioReplicas = 1
	// The history-server HPA (off by default): at least two pods, so one
	// can be drained or restarted while the other serves; 70% of the CPU
	// request is the usual headroom for the next pod to start.
	DefaultHistoryServerMinReplicas = 2
	DefaultHistoryServerMaxReplicas = 6
	DefaultHistoryServerCPUTarget   = 70
	// maxHistoryServerReplicas bounds every history-server count.
	maxHistoryServerReplicas = 20
)

var (
	// quantityRe accepts the Kubernetes quantities a PVC size is written in
	// (1Gi, 500Mi, 10G, 1.5Gi).
	quantityRe = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$`)
	// dnsSubdomainRe is a StorageClass name (RFC 1123 subdomain).
	dnsSubdomainRe = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	// imageRe is a loose container image reference check: no blanks, no
	// scheme, something after an optional registry/path, optional tag and
	// digest.
	imageRe = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._\-/:]*(@sha256:[a-f0-9]{64})?$`)
	// cronFieldRe is one field of a 5-field cron expression.
	cronFieldRe = regexp.MustCompile(`^[0-9A-Za-z*/,\-?]+$`)
	// cronMacros are the schedule shorthands the CronJob controller accepts.
	cronMacros = map[string]bool{
		"@yearly": true, "@annually": true, "@monthly": true, "@weekly": true,
		"@daily": true, "@midnight": true, "@hourly": true,
	}
)

// LoadConfig reads, defaults and validates the stack configuration. All
// problems are reported at once, each naming its key and how to fix it.
func LoadConfig(ctx *pulumi.Context) (*Config, error) {
	r := configReader{ctx: ctx, project: ctx.Project()}

	c := &Config{
		MinioRootUser:           r.str(keyMinioRootUser, DefaultMinioRootUser),
		MinioImage:              r.image(keyMinioImage, DefaultMinioImage),
		MinioStorageSize:        r.str(keyMinioStorageSize, DefaultMinioStorageSize),
		MinioStorageClass:       r.str(keyMinioStorageClass, ""),
		HistoryServerImage:      r.optionalImage(keyHistoryServerImage),
		HistoryServerReplicas:   r.integer(keyHistoryServerReplicas, DefaultHistoryServerReplicas),
		PriceFetcherImage:       r.optionalImage(keyPriceFetcherImage),
		PriceFetcherSchedule:    r.str(keyPriceFetcherSchedule, DefaultPriceFetcherSchedule),
		PriceFetcherTimeZone:    PriceFetcherTimeZone,
		EchoserverImage:         r.image(keyEchoserverImage, DefaultEchoserverImage),
		NginxImage:              r.image(keyNginxImage, DefaultNginxImage),
		PostgresImage:           r.image(keyPostgresImage, DefaultPostgresImage),
		PublicNodeIP:            r.str(keyPublicNodeIP, DefaultPublicNodeIP),
		IngressAdmissionWebhook: r.boolean(keyIngressAdmissionWebhook, true),
		AwaitIngress:            r.boolean(keyAwaitIngress, true),
		LabTestResources:        r.boolean(keyLabTestResources, true),
		ProductionLockdown:      r.boolean(keyProductionLockdown, true),

		MinioReplicas:            r.integer(keyMinioReplicas, DefaultMinioReplicas),
		HistoryServerAutoscale:   r.boolean(keyHistoryServerAutoscale, false),
		HistoryServerMinReplicas: r.integer(keyHistoryServerMinReplicas, DefaultHistoryServerMinReplicas),
		HistoryServerMaxReplicas: r.integer(keyHistoryServerMaxReplicas, DefaultHistoryServerMaxReplicas),
		HistoryServerCPUTarget:   r.integer(keyHistoryServerCPUTarget, DefaultHistoryServerCPUTarget),
	}

	if cidrs, err := parseExceptCIDRs(r.str(keyInternetEgressExcept, DefaultInternetEgressExcept)); err != nil {
		r.fail(keyInternetEgressExcept, "%v", err)
	} else {
		c.InternetEgressExcept = cidrs
	}

	if n := len(c.MinioRootUser); n < 3 {
		r.fail(keyMinioRootUser, "must be at least 3 characters (MinIO refuses shorter root users), got %d", n)
	}

	// The password: required, a secret, at least 8 characters (MinIO's rule).
	password, ok := ctx.GetConfig(r.key(keyMinioRootPassword))
	switch {
	case !ok || password == "":
		r.fail(keyMinioRootPassword, "is required: run `pulumi config set --secret %s <value>` (at least 8 characters)", keyMinioRootPassword)
	case len(password) < 8:
		r.fail(keyMinioRootPassword, "must be at least 8 characters (MinIO refuses shorter root passwords): run `pulumi config set --secret %s <value>`", keyMinioRootPassword)
	default:
		if !ctx.IsConfigSecret(r.key(keyMinioRootPassword)) {
			_ = ctx.Log.Warn(fmt.Sprintf("%s is stored in plain text in the stack config; "+
				"run `pulumi config set --secret %s <value>` to encrypt it", r.key(keyMinioRootPassword), keyMinioRootPassword), nil)
		}
	}
	c.MinioRootPassword = pulumi.ToSecret(pulumi.String(password)).(pulumi.StringOutput)

	if !quantityRe.MatchString(c.MinioStorageSize) {
		r.fail(keyMinioStorageSize, "must be a Kubernetes quantity such as 1Gi or 500Mi, got %q", c.MinioStorageSize)
	}
	if c.MinioStorageClass != "" && (len(c.MinioStorageClass) > 253 || !dnsSubdomainRe.MatchString(c.MinioStorageClass)) {
		r.fail(keyMinioStorageClass, "must be a StorageClass name (lower-case DNS subdomain) or empty for the cluster default, got %q", c.MinioStorageClass)
	}
	if !r.failed(keyHistoryServerReplicas) && (c.HistoryServerReplicas < 1 || c.HistoryServerReplicas > maxHistoryServerReplicas) {
		r.fail(keyHistoryServerReplicas, "must be between 1 and %d, got %d", maxHistoryServerReplicas, c.HistoryServerReplicas)
	}
	validateScaling(&r, c)
	if err := validateSchedule(c.PriceFetcherSchedule); err != nil {
		r.fail(keyPriceFetcherSchedule, "%v", err)
	}
	if addr, err := netip.ParseAddr(c.PublicNodeIP); err != nil {
		r.fail(keyPublicNodeIP, "must be an IPv4 address such as 192.0.2.10 (the node's public IP), got %q", c.PublicNodeIP)
	} else if !addr.Is4() {
		r.fail(keyPublicNodeIP, "must be an IPv4 address: nip.io host names embed a dotted IPv4 address, got %q", c.PublicNodeIP)
	}
	loadImageConfig(ctx, &r, c)
	loadIngressConfig(&r, c)

	if len(r.errs) > 0 {
		return nil, fmt.Errorf("invalid stack configuration:\n%w", errors.Join(r.errs...))
	}
	return c, nil
}

// IngressHost is the Ingress rule's host: echoserver.<publicNodeIP>.nip.io.
func (c *Config) IngressHost() string {
	return fmt.Sprintf("echoserver.%s.nip.io", c.PublicNodeIP)
}

// historyServerAutoscaling is the history-server's HPA, nil when off.
func (c *Config) historyServerAutoscaling() *HistoryServerAutoscaling {
	if !c.HistoryServerAutoscale {
		return nil
	}
	return &HistoryServerAutoscaling{
		MinReplicas: c.HistoryServerMinReplicas,
		MaxReplicas: c.HistoryServerMaxReplicas,
		CPUTarget:   c.HistoryServerCPUTarget,
	}
}
