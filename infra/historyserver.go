package infra

import (
	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	autoscalingv2 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/autoscaling/v2"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	policyv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/policy/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// history-server names, ports and settings, as in the lab.
const (
	HistoryServerName        = "history-server"
	HistoryServerServicePort = 80
	HistoryServerPort        = 8080
	// PriceDataBucket is the MinIO bucket the lab names.
	PriceDataBucket = "price-data"
	// historyServerUID is the distroless "nonroot" user the image runs as.
	historyServerUID = 65532
	// historyServerPreStopSeconds: how long a deleted pod still serves
	// before SIGTERM.
	historyServerPreStopSeconds = 5
)

// historyServerLabels: the lab prescribes app and microservice for the
// Deployment and its pod template.
var historyServerLabels = appLabels{
	Name: HistoryServerName, Instance: HistoryServerName, Component: "api",
	Lab: map[string]string{"app": "electricity-calculator", "microservice": "history-server"},
}

// HistoryServerArgs configures the HistoryServer component.
type HistoryServerArgs struct {
	Namespace pulumi.StringInput
	// Image is the container image: a GoImage's pinned ref, or a
	// configured prebuilt image.
	Image    pulumi.StringInput
	Replicas int
	// MinioEndpoint is MinIO's host:port (MINIO_URI), e.g. "minio:9000".
	MinioEndpoint pulumi.StringInput
	// MinioSecretName is the Secret with MINIO_ROOT_USER/PASSWORD.
	MinioSecretName pulumi.StringInput
	// Autoscaling puts the Deployment under an HPA; nil: Replicas pods.
	Autoscaling *HistoryServerAutoscaling
}

// HistoryServerAutoscaling is the history-server's HorizontalPodAutoscaler.
type HistoryServerAutoscaling struct {
	MinReplicas, MaxReplicas int
	// CPUTarget is the target average CPU utilization, in percent of the
	// container's CPU request.
	CPUTarget int
}

// Annotations of the history-server Deployment about its replica count.
const (
	// annotationPatchForce makes Pulumi's server-side apply take fields
	// it declares back from other field managers instead of failing with
	// a conflict: needed when the HPA is switched off, since the HPA
	// controller then owns spec.replicas.
	annotationPatchForce = "pulumi.com/patchForce"
	// annotationReplicasManagedBy says who sets spec.replicas. Its change
	// when the HPA is switched on or off guarantees that Pulumi applies
	// the Deployment in that update (and so takes spec.replicas back, or
	// lets it go).
	annotationReplicasManagedBy = "lab5.io/replicas-managed-by"
)

// historyServerRollout never takes a serving pod away before its
// replacement is ready: rolling updates surge (a quarter of the pods,
// at least one) and keep every old pod until then.
func historyServerRollout() *appsv1.DeploymentStrategyArgs {
	return &appsv1.DeploymentStrategyArgs{
		Type: pulumi.String("RollingUpdate"),
		RollingUpdate: &appsv1.RollingUpdateDeploymentArgs{
			MaxUnavailable: pulumi.Int(0),
			MaxSurge:       pulumi.String("25%"),
		},
	}
}

// HistoryServer is the history data server: a Deployment and a ClusterIP
// Service on port 80.
type HistoryServer struct {
	pulumi.ResourceState

	// ServiceName is "history-server" once the Service exists.
	ServiceName pulumi.StringOutput `pulumi:"serviceName"`
	// URL is http://history-server.production.svc.cluster.local:80.
	URL pulumi.StringOutput `pulumi:"url"`
}

// NewHistoryServer creates the history-server Deployment and Service.
func NewHistoryServer(ctx *pulumi.Context, name string, args *HistoryServerArgs, opts ...pulumi.ResourceOption) (*HistoryServer, error) {
	comp, err := newComponent[HistoryServer](ctx, TypeHistoryServer, name, args, opts)
	if err != nil {
		return nil, err
	}
	labels := historyServerLabels

	probe := func(path string) *corev1.ProbeArgs {
		return httpProbe{
			Path: path, Port: pulumi.String("http"),
			InitialDelaySeconds: 3, PeriodSeconds: 10, TimeoutSeconds: 2, FailureThreshold: 3,
		}.args()
	}

	// Replicas: fixed by the stack, or the HPA's minimum to start from.
	// With the HPA, the replica count is the HPA's: Pulumi ignores
	// changes of spec.replicas, and the provider leaves the field out of
	// its apply once the HPA controller owns it. (Leaving spec.replicas
	// unset instead would make the first apply after switching the HPA
	// on drop the Deployment to 1 pod: Kubernetes' default.)
	replicas := args.Replicas
	managedBy := "pulumi"
	var deploymentOpts []pulumi.ResourceOption
	if a := args.Autoscaling; a != nil {
		replicas = a.MinReplicas
		managedBy = "horizontalpodautoscaler/" + HistoryServerName
		deploymentOpts = append(deploymentOpts, pulumi.IgnoreChanges([]string{"spec.replicas"}))
	}
	meta := objectMeta(HistoryServerName, args.Namespace, labels.all())
	meta.Annotations = pulumi.StringMap{
		annotationPatchForce:        pulumi.String("true"),
		annotationReplicasManagedBy: pulumi.String(managedBy),
	}

	deployment, err := appsv1.NewDeployment(ctx, name, &appsv1.DeploymentArgs{
		// The lab's labels on the Deployment metadata AND on the pod
		// template metadata.
		Metadata: meta,
		Spec: &appsv1.DeploymentSpecArgs{
			Replicas: pulumi.Int(replicas),
			Strategy: historyServerRollout(),
			Selector: labels.podSelector(),
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{Labels: labels.all()},
				Spec: &corev1.PodSpecArgs{
					// The image is built FROM distroless/static:nonroot
					// and needs no service account token.
					AutomountServiceAccountToken: pulumi.Bool(false),
					SecurityContext:              nonRootPodSecurityContext(historyServerUID),
					// Pods of one revision spread over nodes, so a node
					// failure or drain takes as few as possible; a
					// preference, since the API must still scale on one
					// node.
					TopologySpreadConstraints: corev1.TopologySpreadConstraintArray{
						corev1.TopologySpreadConstraintArgs{
							MaxSkew:           pulumi.Int(1),
							TopologyKey:       pulumi.String(labelHostname),
							WhenUnsatisfiable: pulumi.String("ScheduleAnyway"),
							LabelSelector:     labels.podSelector(),
							MatchLabelKeys:    pulumi.StringArray{pulumi.String("pod-template-hash")},
						},
					},
					Containers: corev1.ContainerArray{
						corev1.ContainerArgs{
							Name:  pulumi.String(HistoryServerName),
							Image: args.Image,
							Ports: corev1.ContainerPortArray{
								corev1.ContainerPortArgs{Name: pulumi.String("http"), ContainerPort: pulumi.Int(HistoryServerPort)},
							},
							Env: corev1.EnvVarArray{
								plainEnv("MINIO_URI", args.MinioEndpoint),
								secretEnv("MINIO_ACCESS_KEY", args.MinioSecretName, MinioSecretUserKey),
								secretEnv("MINIO_SECRET_KEY", args.MinioSecretName, MinioSecretPasswordKey),
								plainEnv("MINIO_BUCKET", pulumi.String(PriceDataBucket)),
								plainEnv("PORT", pulumi.Sprintf("%d", HistoryServerPort)),
							},
							LivenessProbe:  probe("/healthz"),
							ReadinessProbe: probe("/readyz"),
							// The server closes its listener on SIGTERM,
							// but the Service still sends new connections
							// to a deleted pod until kube-proxy drops its
							// endpoint: they were refused (measured on the
							// real node). Serving 5 s longer covers that;
							// the 20 s drain after it still fits the 30 s
							// grace period. (Kubernetes >= 1.30.)
							Lifecycle: &corev1.LifecycleArgs{PreStop: &corev1.LifecycleHandlerArgs{
								Sleep: &corev1.SleepActionArgs{Seconds: pulumi.Int(historyServerPreStopSeconds)},
							}},
							Resources: resourceSpec{
								CPURequest: "50m", MemoryRequest: "64Mi",
								CPULimit: "500m", MemoryLimit: "256Mi",
							}.args(),
							// A static Go binary: non-root, read-only
							// root file system; /tmp is an emptyDir.
							SecurityContext: nonRootSecurityContext(historyServerUID, true),
							VolumeMounts: corev1.VolumeMountArray{
								corev1.VolumeMountArgs{Name: pulumi.String("tmp"), MountPath: pulumi.String("/tmp")},
							},
						},
					},
					Volumes: corev1.VolumeArray{
						corev1.VolumeArgs{
							Name:     pulumi.String("tmp"),
							EmptyDir: &corev1.EmptyDirVolumeSourceArgs{SizeLimit: pulumi.String("64Mi")},
						},
					},
				},
			},
		},
	}, append([]pulumi.ResourceOption{pulumi.Parent(comp)}, deploymentOpts...)...)
	if err != nil {
		return nil, err
	}
	if err := newHistoryServerScaling(ctx, comp, name, args, labels, deployment, replicas); err != nil {
		return nil, err
	}

	port := tcpServicePort(HistoryServerServicePort, pulumi.String("http"))
	port.Name = pulumi.String("http")
	svc, err := newAppService(ctx, name, HistoryServerName, args.Namespace, labels, clusterIP(port), pulumi.Parent(comp))
	if err != nil {
		return nil, err
	}

	comp.ServiceName = nameOf(svc.Metadata)
	comp.URL = pulumi.Sprintf("http://%s.%s.svc.cluster.local:%d",
		comp.ServiceName, svc.Metadata.Namespace().Elem(), HistoryServerServicePort)
	return withOutputs(ctx, comp, pulumi.Map{
		"serviceName": comp.ServiceName,
		"url":         comp.URL,
	})
}

// newHistoryServerScaling adds the HPA (when configured) and, when more
// than one pod serves, a PodDisruptionBudget that lets drains and
// evictions take one pod at a time. Unready pods may always be evicted:
// they serve nothing, and a crash-looping pod must not block a node drain.
func newHistoryServerScaling(ctx *pulumi.Context, comp *HistoryServer, name string, args *HistoryServerArgs,
	labels appLabels, deployment *appsv1.Deployment, replicas int) error {
	if a := args.Autoscaling; a != nil {
		_, err := autoscalingv2.NewHorizontalPodAutoscaler(ctx, name, &autoscalingv2.HorizontalPodAutoscalerArgs{
			Metadata: objectMeta(HistoryServerName, args.Namespace, labels.all()),
			Spec: &autoscalingv2.HorizontalPodAutoscalerSpecArgs{
				ScaleTargetRef: &autoscalingv2.CrossVersionObjectReferenceArgs{
					ApiVersion: pulumi.String("apps/v1"),
					Kind:       pulumi.String("Deployment"),
					Name:       nameOf(deployment.Metadata),
				},
				MinReplicas: pulumi.Int(a.MinReplicas),
				MaxReplicas: pulumi.Int(a.MaxReplicas),
				Metrics: autoscalingv2.MetricSpecArray{
					autoscalingv2.MetricSpecArgs{
						Type: pulumi.String("Resource"),
						Resource: &autoscalingv2.ResourceMetricSourceArgs{
							Name: pulumi.String("cpu"),
							Target: &autoscalingv2.MetricTargetArgs{
								Type:               pulumi.String("Utilization"),
								AverageUtilization: pulumi.Int(a.CPUTarget),
							},
						},
					},
				},
			},
		}, pulumi.Parent(comp))
		if err != nil {
			return err
		}
	}
	if replicas < 2 {
		return nil
	}
	_, err := policyv1.NewPodDisruptionBudget(ctx, name, &policyv1.PodDisruptionBudgetArgs{
		Metadata: objectMeta(HistoryServerName, args.Namespace, labels.all()),
		Spec: &policyv1.PodDisruptionBudgetSpecArgs{
			MaxUnavailable:             pulumi.Int(1),
			Selector:                   labels.podSelector(),
			UnhealthyPodEvictionPolicy: pulumi.String("AlwaysAllow"),
		},
	}, pulumi.Parent(comp))
	return err
}
