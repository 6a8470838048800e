package infra

import (
	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	rbacv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/rbac/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// The ingress-nginx controller, declared as typed resources that mirror
// the upstream bare-metal static manifest of controller-v1.15.1
// (deploy/static/provider/baremetal/deploy.yaml in kubernetes/ingress-nginx).
//
// The lab installs v1.8.2; v1.15.1 is the last release and is not affected
// by CVE-2025-1974 (IngressNightmare). ingress-nginx is retired (March
// 2026): everything about it lives in this file and its admission webhook in
// ingressnginx_admission.go, so that a successor replaces it as one unit.
//
// Differences from upstream, each deliberate:
//   - every container has resource limits as well as requests (project
//     rule; upstream sets requests only);
//   - objects also carry app.kubernetes.io/managed-by=pulumi;
//   - the admission Jobs have no ttlSecondsAfterFinished (see
//     newAdmissionJob);
//   - the ValidatingWebhookConfiguration is created only once the
//     controller Deployment is ready (Pulumi waits for it), so there is no
//     window in which a failurePolicy=Fail webhook without a backend rejects
//     every Ingress in the cluster;
//   - with AdmissionWebhook=false the admission webhook is left out
//     entirely (for control planes whose pods never run).

// Images, pinned by digest: the single place to bump the release.
const (
	IngressNginxVersion  = "1.15.1"
	ingressNginxImage    = "registry.k8s.io/ingress-nginx/controller:v1.15.1@sha256:594ceea76b01c592858f803f9ff4d2cb40542cae2060410b2c95f75907d659e1"
	webhookCertgenImage  = "registry.k8s.io/ingress-nginx/kube-webhook-certgen:v1.6.9@sha256:01038e7de14b78d702d2849c3aad72fd25903c4765af63cf16aa3398f5d5f2dd"
	ingressNginxInstance = "ingress-nginx"
)

// Object names of the upstream manifest.
const (
	IngressNginxNamespace          = "ingress-nginx"
	IngressNginxControllerName     = "ingress-nginx-controller"
	IngressNginxAdmissionName      = "ingress-nginx-admission"
	IngressNginxAdmissionSvcName   = "ingress-nginx-controller-admission"
	IngressNginxAdmissionCreateJob = "ingress-nginx-admission-create"
	IngressNginxAdmissionPatchJob  = "ingress-nginx-admission-patch"
	// IngressClassNginx is the IngressClass the lab's Ingress names.
	IngressClassNginx = "nginx"

	ingressNginxSAName        = "ingress-nginx"
	ingressNginxRBACName      = "ingress-nginx"
	ingressNginxElectionID    = "ingress-nginx-leader"
	ingressNginxControllerCls = "k8s.io/ingress-nginx"
	ingressNginxWebhookName   = "validate.nginx.ingress.kubernetes.io"
	ingressNginxCertDir       = "/usr/local/certificates/"
)

// IngressNginxArgs configures the controller.
type IngressNginxArgs struct {
	// AdmissionWebhook deploys the validating admission webhook: its
	// Service, ServiceAccount and RBAC, the certgen Jobs, the
	// ValidatingWebhookConfiguration and the controller's webhook
	// args/port/volume. Leave it off on control planes whose pods do not
	// run (a webhook without a backend rejects or stalls every Ingress).
	AdmissionWebhook bool
}

// IngressNginx is the ingress-nginx controller and everything it needs.
type IngressNginx struct {
	pulumi.ResourceState

	IngressController
}

// ingressNginxLabels are upstream's labels; component is "" for the
// objects upstream labels without one (Namespace, ClusterRole/Binding).
func ingressNginxLabels(component string, withPartOf bool) pulumi.StringMap {
	m := pulumi.StringMap{
		labelInstance:  pulumi.String(ingressNginxInstance),
		labelName:      pulumi.String("ingress-nginx"),
		labelManagedBy: pulumi.String(managedByPulumi),
	}
	if withPartOf {
		m[labelPartOf] = pulumi.String("ingress-nginx")
		m["app.kubernetes.io/version"] = pulumi.String(IngressNginxVersion)
	}
	if component != "" {
		m[labelComponent] = pulumi.String(component)
	}
	return m
}

// ingressNginxSelector selects the controller pods.
func ingressNginxSelector() pulumi.StringMap {
	return pulumi.ToStringMap(ingressNginxPodLabels)
}

// NewIngressNginx creates the ingress-nginx controller.
func NewIngressNginx(ctx *pulumi.Context, name string, args *IngressNginxArgs, opts ...pulumi.ResourceOption) (*IngressNginx, error) {
	if args == nil {
		args = &IngressNginxArgs{}
	}
	comp := &IngressNginx{}
	if err := ctx.RegisterComponentResource(TypeIngressNginx, name, comp, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(comp)
	webhook := args.AdmissionWebhook

	namespace, err := newControllerNamespace(ctx, name, IngressNginxNamespace, ingressNginxLabels("", false), parent)
	if err != nil {
		return nil, err
	}
	comp.Namespace = namespace
	ctrlLabels := ingressNginxLabels("controller", true)
	admLabels := ingressNginxLabels("admission-webhook", true)

	saName, err := newTokenServiceAccount(ctx, name, ingressNginxSAName, namespace, ctrlLabels, parent)
	if err != nil {
		return nil, err
	}

	// Controller RBAC: a Role in the namespace and a ClusterRole.
	grants, err := serviceAccountGrant{
		URN: name, Name: ingressNginxRBACName, Namespace: namespace, AccountNamespace: IngressNginxNamespace, ServiceAccount: ingressNginxSAName,
		Labels: ctrlLabels, ClusterLabels: ingressNginxLabels("", true),
		Rules: rbacv1.PolicyRuleArray{
			policyRule(core, []string{"namespaces"}, []string{"get"}),
			policyRule(core, []string{"configmaps", "pods", "secrets", "endpoints"}, getListW),
			policyRule(core, []string{"services"}, getListW),
			policyRule(netK8s, []string{"ingresses"}, getListW),
			policyRule(netK8s, []string{"ingresses/status"}, []string{"update"}),
			policyRule(netK8s, []string{"ingressclasses"}, getListW),
			policyRule(coordK8s, []string{"leases"}, []string{"get", "update"}, ingressNginxElectionID),
			policyRule(coordK8s, []string{"leases"}, []string{"create"}),
			policyRule(core, []string{"events"}, []string{"create", "patch"}),
			policyRule(discovery, []string{"endpointslices"}, []string{"list", "watch", "get"}),
		},
		ClusterRules: rbacv1.PolicyRuleArray{
			policyRule(core, []string{"configmaps", "endpoints", "nodes", "pods", "secrets", "namespaces"}, []string{"list", "watch"}),
			policyRule(coordK8s, []string{"leases"}, []string{"list", "watch"}),
			policyRule(core, []string{"nodes"}, []string{"get"}),
			policyRule(core, []string{"services"}, getListW),
			policyRule(netK8s, []string{"ingresses"}, getListW),
			policyRule(core, []string{"events"}, []string{"create", "patch"}),
			policyRule(netK8s, []string{"ingresses/status"}, []string{"update"}),
			policyRule(netK8s, []string{"ingressclasses"}, getListW),
			policyRule(discovery, []string{"endpointslices"}, []string{"list", "watch", "get"}),
		},
	}.create(ctx, parent)
	if err != nil {
		return nil, err
	}

	// ConfigMap (empty, as upstream: the controller's defaults).
	configMap, err := corev1.NewConfigMap(ctx, name+"-controller", &corev1.ConfigMapArgs{
		Metadata: objectMeta(IngressNginxControllerName, namespace, ctrlLabels),
	}, parent)
	if err != nil {
		return nil, err
	}

	// The controller's NodePort Service, ports http and https.
	svc, err := comp.newControllerService(ctx, name+"-controller", IngressNginxControllerName, ctrlLabels, ingressNginxSelector(),
		"http", "https", parent)
	if err != nil {
		return nil, err
	}

	// The admission webhook's identity, RBAC, Service and certificate Job.
	var (
		adm            *admissionParts
		controllerDeps = append([]pulumi.Resource{configMap}, grants...)
		controllerArgs = pulumi.ToStringArray([]string{
			"/nginx-ingress-controller",
			"--election-id=" + ingressNginxElectionID,
			"--controller-class=" + ingressNginxControllerCls,
			"--ingress-class=" + IngressClassNginx,
			"--configmap=$(POD_NAMESPACE)/" + IngressNginxControllerName,
		})
		controllerPorts = corev1.ContainerPortArray{tcpContainerPort("http", 80), tcpContainerPort("https", 443)}
		volumeMounts    corev1.VolumeMountArray
		volumes         corev1.VolumeArray
	)
	if webhook {
		adm, err = newAdmissionParts(ctx, name, namespace, admLabels, ctrlLabels, parent)
		if err != nil {
			return nil, err
		}
		// The controller mounts the Secret the create Job generates.
		controllerDeps = append(controllerDeps, adm.createJob)
		controllerArgs = append(controllerArgs,
			pulumi.String("--validating-webhook=:8443"),
			pulumi.String("--validating-webhook-certificate="+ingressNginxCertDir+"cert"),
			pulumi.String("--validating-webhook-key="+ingressNginxCertDir+"key"),
		)
		controllerPorts = append(controllerPorts, tcpContainerPort("webhook", 8443))
		volumeMounts = corev1.VolumeMountArray{corev1.VolumeMountArgs{
			MountPath: pulumi.String(ingressNginxCertDir),
			Name:      pulumi.String("webhook-cert"),
			ReadOnly:  pulumi.Bool(true),
		}}
		volumes = corev1.VolumeArray{corev1.VolumeArgs{
			Name:   pulumi.String("webhook-cert"),
			Secret: &corev1.SecretVolumeSourceArgs{SecretName: pulumi.String(IngressNginxAdmissionName)},
		}}
	}

	healthz := func(failureThreshold int) *corev1.ProbeArgs {
		return httpProbe{
			Path: "/healthz", Port: pulumi.Int(10254), Scheme: "HTTP",
			InitialDelaySeconds: 10, PeriodSeconds: 10, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: failureThreshold,
		}.args()
	}
	fieldEnv := func(envName, path string) corev1.EnvVarInput {
		return corev1.EnvVarArgs{
			Name: pulumi.String(envName),
			ValueFrom: &corev1.EnvVarSourceArgs{
				FieldRef: &corev1.ObjectFieldSelectorArgs{FieldPath: pulumi.String(path)},
			},
		}
	}

	deployment, err := appsv1.NewDeployment(ctx, name+"-controller", &appsv1.DeploymentArgs{
		Metadata: objectMeta(IngressNginxControllerName, namespace, ctrlLabels),
		Spec: &appsv1.DeploymentSpecArgs{
			MinReadySeconds:      pulumi.Int(0),
			RevisionHistoryLimit: pulumi.Int(10),
			Selector:             &metav1.LabelSelectorArgs{MatchLabels: ingressNginxSelector()},
			Strategy: &appsv1.DeploymentStrategyArgs{
				Type:          pulumi.String("RollingUpdate"),
				RollingUpdate: &appsv1.RollingUpdateDeploymentArgs{MaxUnavailable: pulumi.Int(1)},
			},
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{Labels: ctrlLabels},
				Spec: &corev1.PodSpecArgs{
					AutomountServiceAccountToken: pulumi.Bool(true),
					Containers: corev1.ContainerArray{corev1.ContainerArgs{
						Name:            pulumi.String("controller"),
						Image:           pulumi.String(ingressNginxImage),
						ImagePullPolicy: pulumi.String("IfNotPresent"),
						Args:            controllerArgs,
						Env: corev1.EnvVarArray{
							fieldEnv("POD_NAME", "metadata.name"),
							fieldEnv("POD_NAMESPACE", "metadata.namespace"),
							plainEnv("LD_PRELOAD", pulumi.String("/usr/local/lib/libmimalloc.so")),
						},
						Lifecycle: &corev1.LifecycleArgs{
							PreStop: &corev1.LifecycleHandlerArgs{
								Exec: &corev1.ExecActionArgs{Command: pulumi.StringArray{pulumi.String("/wait-shutdown")}},
							},
						},
						LivenessProbe:  healthz(5),
						ReadinessProbe: healthz(3),
						Ports:          controllerPorts,
						Resources: resourceSpec{
							CPURequest: "100m", MemoryRequest: "90Mi",
							CPULimit: "1", MemoryLimit: "512Mi",
						}.args(),
						// Upstream's: uid 101 (www-data), no privilege
						// escalation, only NET_BIND_SERVICE for :80/:443.
						SecurityContext: &corev1.SecurityContextArgs{
							AllowPrivilegeEscalation: pulumi.Bool(false),
							Capabilities: &corev1.CapabilitiesArgs{
								Add:  pulumi.StringArray{pulumi.String("NET_BIND_SERVICE")},
								Drop: pulumi.StringArray{pulumi.String("ALL")},
							},
							ReadOnlyRootFilesystem: pulumi.Bool(false),
							RunAsGroup:             pulumi.Int(82),
							RunAsNonRoot:           pulumi.Bool(true),
							RunAsUser:              pulumi.Int(101),
							SeccompProfile:         runtimeDefaultSeccomp(),
						},
						VolumeMounts: volumeMounts,
					}},
					DnsPolicy:                     pulumi.String("ClusterFirst"),
					NodeSelector:                  pulumi.StringMap{"kubernetes.io/os": pulumi.String("linux")},
					ServiceAccountName:            saName,
					TerminationGracePeriodSeconds: pulumi.Int(300),
					Volumes:                       volumes,
				},
			},
		},
	}, parent, pulumi.DependsOn(controllerDeps))
	if err != nil {
		return nil, err
	}

	// Traefik's IngressClass nginx is this same object.
	ingressClass, err := comp.newIngressClassNginx(ctx, comp, name, ctrlLabels, TypeTraefik, traefikComponentName, parent)
	if err != nil {
		return nil, err
	}

	comp.Deployment = deployment
	comp.Prerequisites = []pulumi.Resource{svc, ingressClass}
	if webhook {
		vwc, patchJob, err := adm.finish(ctx, name, namespace, admLabels, deployment, parent)
		if err != nil {
			return nil, err
		}
		comp.Prerequisites = append(comp.Prerequisites, deployment, vwc, patchJob)
	}

	return withOutputs(ctx, comp, comp.outputs())
}
