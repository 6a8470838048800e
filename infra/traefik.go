package infra

import (
	"fmt"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	rbacv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/rbac/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Traefik as the lab's ingress controller (ingressController=traefik): a
// maintained, pure-Go proxy whose kubernetesIngressNGINX provider serves
// Ingresses of class nginx the way ingress-nginx does (it reads the
// ingress-nginx annotations), so the lab's echoserver-ingress works
// unchanged; with ingressRoute=gateway its kubernetesGateway provider serves
// the Gateway API route instead (gateway.go).
//
// Version: v3.6.7, the newest v3.6 release whose module the Go proxy serves
// (so its cmd/traefik can be built here for the real node). From v3.6.2 on
// the NGINX provider is no longer experimental (v3.6.0/v3.6.1 needed
// --experimental.kubernetesingressnginx), and the Gateway API provider has
// not been experimental since v3.1. v3.6.7 is also the first release whose
// docs ship the NGINX provider's RBAC manifest in its corrected form, which
// the ClusterRole below reproduces rule for rule (testdata/traefik-v3.6.7).
//
// Image: the official image `traefik:v3.6.7`, pinned by the digest that
// several public deployments pin it at (a multi-platform index). Docker
// rebuilds official images in place, so the tag has had other digests too,
// and none could be looked up from this offline build machine: check it
// with `crane digest traefik:v3.6.7`, or pin your own with
// `pulumi config set traefikImage traefik:v3.6.7@sha256:<digest>`.
const (
	TraefikVersion      = "3.6.7"
	DefaultTraefikImage = "traefik:v" + TraefikVersion + "@sha256:a9890c898f379c1905ee5b28342f6b408dc863f08db2dab20e46c267d1ff463a"

	TraefikNamespace = "traefik"
	TraefikName      = "traefik"
	// TraefikNginxRBACName is the ClusterRole (and binding) of the
	// kubernetesIngressNGINX provider; TraefikGatewayRBACName that of the
	// kubernetesGateway provider.
	TraefikNginxRBACName   = "traefik-ingress-nginx"
	TraefikGatewayRBACName = "traefik-gateway"

	// Entry points: Traefik binds unprivileged ports (it runs as a
	// non-root uid with every capability dropped); the Service maps the
	// usual 80/443 onto them. "traefik" serves /ping for the probes.
	traefikWebPort       = 8000
	traefikWebSecurePort = 8443
	traefikAdminPort     = 8080
	traefikUID           = 65532

	// traefikGatewayController is the controllerName Traefik's Gateway
	// API provider claims GatewayClasses by.
	traefikGatewayController = "traefik.io/gateway-controller"
)

// traefikLabels are Traefik's labels: app=traefik (the selector: the
// project selects on plain labels) plus the recommended ones.
var traefikLabels = appLabels{
	Name: "traefik", Instance: TraefikName, Component: "ingress-controller",
	Lab: map[string]string{"app": "traefik"},
}

// TraefikArgs configures Traefik.
type TraefikArgs struct {
	// Image is the Traefik image (config traefikImage).
	Image string
	// PublicNodeIP is published as the address of the Ingresses and
	// Gateways Traefik serves (their status), as ingress-nginx reports
	// its node's address on a bare-metal NodePort install.
	PublicNodeIP string
	// GatewayAPI enables the Kubernetes Gateway API provider (and its
	// RBAC); the Gateway API CRDs must exist before Traefik starts (pass
	// them in DependsOn), or its informers never sync.
	GatewayAPI bool
	// DependsOn are resources the Deployment must wait for.
	DependsOn []pulumi.Resource
}

// Traefik is Traefik in namespace traefik, serving IngressClass nginx.
type Traefik struct {
	pulumi.ResourceState

	IngressController
}

// traefikNginxRules are the kubernetesIngressNGINX provider's rules as
// Traefik documents them for v3.6.7
// (docs/content/reference/dynamic-configuration/kubernetes-ingress-nginx-rbac.yml),
// rule for rule; traefik_test.go compares them with that manifest. The
// namespaces rule serves watchNamespaceSelector and the pods rule OTel
// attributes, neither used here: kept, because they are what Traefik
// documents and tests for.
func traefikNginxRules() rbacv1.PolicyRuleArray {
	return rbacv1.PolicyRuleArray{
		policyRule(core, []string{"services", "secrets"}, []string{"list", "watch"}),
		policyRule(core, []string{"namespaces"}, []string{"list", "watch"}),
		policyRule(core, []string{"pods"}, []string{"get"}),
		policyRule(discovery, []string{"endpointslices"}, []string{"list", "watch"}),
		policyRule(netK8s, []string{"ingresses", "ingressclasses"}, []string{"list", "watch"}),
		policyRule(netK8s, []string{"ingresses/status"}, []string{"update"}),
	}
}

// traefikGatewayRules are the kubernetesGateway provider's rules as Traefik
// documents them for v3.6.7
// (docs/content/reference/dynamic-configuration/kubernetes-gateway-rbac.yml).
func traefikGatewayRules() rbacv1.PolicyRuleArray {
	gw := []string{"gateway.networking.k8s.io"}
	kinds := []string{"gatewayclasses", "gateways", "httproutes", "grpcroutes", "tcproutes", "tlsroutes", "referencegrants", "backendtlspolicies"}
	status := make([]string, len(kinds))
	for i, k := range kinds {
		status[i] = k + "/status"
	}
	return rbacv1.PolicyRuleArray{
		policyRule(core, []string{"namespaces"}, []string{"list", "watch"}),
		policyRule(core, []string{"pods"}, []string{"get"}),
		policyRule(core, []string{"services", "secrets", "configmaps"}, getListW),
		policyRule(discovery, []string{"endpointslices"}, []string{"list", "watch"}),
		policyRule(gw, kinds, getListW),
		policyRule(gw, status, []string{"update"}),
	}
}

// traefikAcceptAfterSIGTERM is how long Traefik's web and websecure entry
// points still accept connections after SIGTERM.
const traefikAcceptAfterSIGTERM = "5s"

// traefikArgs are Traefik's static configuration, as CLI flags.
func traefikArgs(args *TraefikArgs) []string {
	a := []string{
		fmt.Sprintf("--entryPoints.web.address=:%d", traefikWebPort),
		fmt.Sprintf("--entryPoints.websecure.address=:%d", traefikWebSecurePort),
		// HTTPS only on websecure, as ingress-nginx's 443 (with Traefik's
		// default certificate where an Ingress names none).
		"--entryPoints.websecure.http.tls=true",
		fmt.Sprintf("--entryPoints.traefik.address=:%d", traefikAdminPort),
		"--ping=true",
		"--ping.entryPoint=traefik",
		// On SIGTERM the entry points that carry traffic keep accepting
		// for 5 s (ping answers 503 meanwhile): the Service sends new
		// connections to a terminating pod until kube-proxy has dropped
		// its endpoint. Without it every rollout of Traefik refused
		// connections for a moment (measured on the real node).
		"--entryPoints.web.transport.lifeCycle.requestAcceptGraceTimeout=" + traefikAcceptAfterSIGTERM,
		"--entryPoints.websecure.transport.lifeCycle.requestAcceptGraceTimeout=" + traefikAcceptAfterSIGTERM,
		// No calls home: the version check and usage statistics are
		// the only outbound connections Traefik makes on its own.
		"--global.checkNewVersion=false",
		"--global.sendAnonymousUsage=false",
		"--log.level=INFO",
		"--providers.kubernetesIngressNGINX=true",
		// The defaults, spelled out: the class the lab's Ingress names and
		// the controller value of IngressClass nginx.
		"--providers.kubernetesIngressNGINX.ingressClass=" + IngressClassNginx,
		"--providers.kubernetesIngressNGINX.controllerClass=" + ingressNginxControllerCls,
		"--providers.kubernetesIngressNGINX.publishStatusAddress=" + args.PublicNodeIP,
	}
	if args.GatewayAPI {
		a = append(a,
			"--providers.kubernetesGateway=true",
			"--providers.kubernetesGateway.statusAddress.ip="+args.PublicNodeIP,
		)
	}
	return a
}

// NewTraefik creates Traefik.
func NewTraefik(ctx *pulumi.Context, name string, args *TraefikArgs, opts ...pulumi.ResourceOption) (*Traefik, error) {
	if args == nil || args.Image == "" || args.PublicNodeIP == "" {
		return nil, fmt.Errorf("traefik: Image and PublicNodeIP are required")
	}
	comp := &Traefik{}
	if err := ctx.RegisterComponentResource(TypeTraefik, name, comp, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(comp)
	labels := traefikLabels.all()

	namespace, err := newControllerNamespace(ctx, name, TraefikNamespace, commonLabels(nil), parent)
	if err != nil {
		return nil, err
	}
	comp.Namespace = namespace
	saName, err := newTokenServiceAccount(ctx, name, TraefikName, namespace, labels, parent)
	if err != nil {
		return nil, err
	}

	// One ClusterRole per provider, each exactly the provider's documented
	// rules: the Gateway API rules exist only while that provider runs.
	type role struct {
		urn, name string
		rules     rbacv1.PolicyRuleArray
	}
	roles := []role{{name + "-ingress-nginx", TraefikNginxRBACName, traefikNginxRules()}}
	if args.GatewayAPI {
		roles = append(roles, role{name + "-gateway", TraefikGatewayRBACName, traefikGatewayRules()})
	}
	deps := append([]pulumi.Resource{}, args.DependsOn...)
	for _, r := range roles {
		grants, err := serviceAccountGrant{
			URN: r.urn, Name: r.name, Namespace: namespace, AccountNamespace: TraefikNamespace, ServiceAccount: TraefikName,
			ClusterLabels: labels, ClusterRules: r.rules,
		}.create(ctx, parent)
		if err != nil {
			return nil, err
		}
		// Traefik starts watching at once: its permissions first.
		deps = append(deps, grants...)
	}

	ping := func(failureThreshold int) *corev1.ProbeArgs {
		return httpProbe{
			Path: "/ping", Port: pulumi.String("traefik"), Scheme: "HTTP",
			InitialDelaySeconds: 2, PeriodSeconds: 10, TimeoutSeconds: 2, SuccessThreshold: 1, FailureThreshold: failureThreshold,
		}.args()
	}
	emptyDir := func(name string) corev1.VolumeArgs {
		return corev1.VolumeArgs{Name: pulumi.String(name), EmptyDir: &corev1.EmptyDirVolumeSourceArgs{SizeLimit: pulumi.String("64Mi")}}
	}

	deployment, err := appsv1.NewDeployment(ctx, name, &appsv1.DeploymentArgs{
		Metadata: objectMeta(TraefikName, namespace, labels),
		Spec: &appsv1.DeploymentSpecArgs{
			Replicas: pulumi.Int(1),
			Selector: traefikLabels.podSelector(),
			Strategy: &appsv1.DeploymentStrategyArgs{
				Type: pulumi.String("RollingUpdate"),
				// The new pod serves before the old one stops.
				RollingUpdate: &appsv1.RollingUpdateDeploymentArgs{MaxUnavailable: pulumi.Int(0), MaxSurge: pulumi.Int(1)},
			},
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{Labels: labels},
				Spec: &corev1.PodSpecArgs{
					ServiceAccountName:           saName,
					AutomountServiceAccountToken: pulumi.Bool(true),
					SecurityContext:              nonRootPodSecurityContext(traefikUID),
					// Traefik accepts for 5 s after SIGTERM, then drains
					// (lifeCycle.graceTimeOut, 10 s by default).
					TerminationGracePeriodSeconds: pulumi.Int(30),
					Containers: corev1.ContainerArray{corev1.ContainerArgs{
						Name:            pulumi.String("traefik"),
						Image:           pulumi.String(args.Image),
						ImagePullPolicy: pulumi.String("IfNotPresent"),
						Args:            pulumi.ToStringArray(traefikArgs(args)),
						Ports: corev1.ContainerPortArray{
							tcpContainerPort("web", traefikWebPort),
							tcpContainerPort("websecure", traefikWebSecurePort),
							tcpContainerPort("traefik", traefikAdminPort),
						},
						ReadinessProbe: ping(1),
						LivenessProbe:  ping(3),
						Resources: resourceSpec{
							CPURequest: "100m", MemoryRequest: "64Mi",
							CPULimit: "500m", MemoryLimit: "256Mi",
						}.args(),
						SecurityContext: nonRootSecurityContext(traefikUID, true),
						// The root file system is read-only: /data
						// (certificates) and /tmp (plugins) are the only
						// places Traefik writes.
						VolumeMounts: corev1.VolumeMountArray{
							corev1.VolumeMountArgs{Name: pulumi.String("data"), MountPath: pulumi.String("/data")},
							corev1.VolumeMountArgs{Name: pulumi.String("tmp"), MountPath: pulumi.String("/tmp")},
						},
					}},
					Volumes:      corev1.VolumeArray{emptyDir("data"), emptyDir("tmp")},
					NodeSelector: pulumi.StringMap{"kubernetes.io/os": pulumi.String("linux")},
				},
			},
		},
	}, parent, pulumi.DependsOn(deps))
	if err != nil {
		return nil, err
	}

	svc, err := comp.newControllerService(ctx, name, TraefikName, labels, traefikLabels.selector(), "web", "websecure", parent)
	if err != nil {
		return nil, err
	}
	// IngressClass nginx: what Traefik's NGINX provider selects Ingresses
	// by; ingress-nginx's is the same object.
	ingressClass, err := comp.newIngressClassNginx(ctx, comp, name, labels, TypeIngressNginx, ingressNginxComponentName, parent)
	if err != nil {
		return nil, err
	}
	comp.Deployment = deployment
	comp.Prerequisites = []pulumi.Resource{svc, ingressClass}
	return withOutputs(ctx, comp, comp.outputs())
}
