package infra

import (
	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
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
)

// historyServerLabLabels are the labels the lab prescribes for the
// Deployment and its pod template.
var historyServerLabLabels = map[string]string{
	"app":          "electricity-calculator",
	"microservice": "history-server",
}

// HistoryServerArgs configures the HistoryServer component.
type HistoryServerArgs struct {
	Namespace pulumi.StringInput
	Image     string
	Replicas  int
	// MinioEndpoint is MinIO's host:port (MINIO_URI), e.g. "minio:9000".
	MinioEndpoint pulumi.StringInput
	// MinioSecretName is the Secret with MINIO_ROOT_USER/PASSWORD.
	MinioSecretName pulumi.StringInput
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
	comp := &HistoryServer{}
	if err := ctx.RegisterComponentResource("lab5:infra:HistoryServer", name, comp, opts...); err != nil {
		return nil, err
	}
	labels := appLabels{
		Name: HistoryServerName, Instance: HistoryServerName, Component: "api",
		Lab: historyServerLabLabels,
	}

	probe := func(path string) *corev1.ProbeArgs {
		return &corev1.ProbeArgs{
			HttpGet: &corev1.HTTPGetActionArgs{
				Path: pulumi.String(path),
				Port: pulumi.String("http"),
			},
			InitialDelaySeconds: pulumi.Int(3),
			PeriodSeconds:       pulumi.Int(10),
			TimeoutSeconds:      pulumi.Int(2),
			FailureThreshold:    pulumi.Int(3),
		}
	}

	_, err := appsv1.NewDeployment(ctx, name, &appsv1.DeploymentArgs{
		// The lab's labels on the Deployment metadata AND on the pod
		// template metadata.
		Metadata: objectMeta(HistoryServerName, args.Namespace, labels.all()),
		Spec: &appsv1.DeploymentSpecArgs{
			Replicas: pulumi.Int(args.Replicas),
			Selector: &metav1.LabelSelectorArgs{MatchLabels: labels.selector()},
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{Labels: labels.all()},
				Spec: &corev1.PodSpecArgs{
					// The image is built FROM distroless/static:nonroot
					// and needs no service account token.
					AutomountServiceAccountToken: pulumi.Bool(false),
					SecurityContext:              nonRootPodSecurityContext(historyServerUID),
					Containers: corev1.ContainerArray{
						corev1.ContainerArgs{
							Name:  pulumi.String(HistoryServerName),
							Image: pulumi.String(args.Image),
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
	}, pulumi.Parent(comp))
	if err != nil {
		return nil, err
	}

	svc, err := corev1.NewService(ctx, name, &corev1.ServiceArgs{
		Metadata: objectMeta(HistoryServerName, args.Namespace, labels.all()),
		Spec: &corev1.ServiceSpecArgs{
			Type:     pulumi.String("ClusterIP"),
			Selector: labels.selector(),
			Ports: corev1.ServicePortArray{
				corev1.ServicePortArgs{
					Name:       pulumi.String("http"),
					Port:       pulumi.Int(HistoryServerServicePort),
					TargetPort: pulumi.String("http"),
					Protocol:   pulumi.String("TCP"),
				},
			},
		},
	}, pulumi.Parent(comp))
	if err != nil {
		return nil, err
	}

	comp.ServiceName = nameOf(svc.Metadata)
	comp.URL = pulumi.Sprintf("http://%s.%s.svc.cluster.local:%d",
		comp.ServiceName, svc.Metadata.Namespace().Elem(), HistoryServerServicePort)
	if err := ctx.RegisterResourceOutputs(comp, pulumi.Map{
		"serviceName": comp.ServiceName,
		"url":         comp.URL,
	}); err != nil {
		return nil, err
	}
	return comp, nil
}
