package infra

import (
	"fmt"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// MinIO object names and ports, as in the lab.
const (
	MinioName        = "minio"
	MinioSecretName  = "minio-secret"
	MinioAPIPort     = 9000
	MinioConsolePort = 9001
	// Keys of minio-secret, read by MinIO itself and by history-server.
	MinioSecretUserKey     = "MINIO_ROOT_USER"
	MinioSecretPasswordKey = "MINIO_ROOT_PASSWORD"
	// minioUID is a non-root uid; the MinIO image runs as any uid as long as
	// /data is writable, which fsGroup ensures for the PVC.
	minioUID = 1000
)

// MinioArgs configures the Minio component.
type MinioArgs struct {
	Namespace    pulumi.StringInput
	Image        string
	RootUser     string
	RootPassword pulumi.StringInput // a secret output
	StorageSize  string
	StorageClass string // empty: cluster default
}

// Minio is MinIO as a one-replica StatefulSet with a PVC, its credentials
// Secret and its ClusterIP Service.
type Minio struct {
	pulumi.ResourceState

	// ServiceName is "minio" once the Service exists.
	ServiceName pulumi.StringOutput `pulumi:"serviceName"`
	// SecretName is "minio-secret" once the Secret exists.
	SecretName pulumi.StringOutput `pulumi:"secretName"`
	// Endpoint is the in-namespace address, host:port ("minio:9000").
	Endpoint pulumi.StringOutput `pulumi:"endpoint"`
	// URL is the cluster-wide URL:
	// http://minio.production.svc.cluster.local:9000.
	URL pulumi.StringOutput `pulumi:"url"`
}

// NewMinio creates MinIO.
func NewMinio(ctx *pulumi.Context, name string, args *MinioArgs, opts ...pulumi.ResourceOption) (*Minio, error) {
	comp := &Minio{}
	if err := ctx.RegisterComponentResource("lab5:infra:Minio", name, comp, opts...); err != nil {
		return nil, err
	}
	labels := appLabels{
		Name: "minio", Instance: "minio", Component: "object-storage",
		Lab: map[string]string{"app": MinioName},
	}

	secret, err := corev1.NewSecret(ctx, name+"-secret", &corev1.SecretArgs{
		Metadata: objectMeta(MinioSecretName, args.Namespace, labels.all()),
		Type:     pulumi.String("Opaque"),
		StringData: pulumi.StringMap{
			MinioSecretUserKey: pulumi.String(args.RootUser),
			// The password stays a secret output: encrypted in state,
			// masked in previews.
			MinioSecretPasswordKey: args.RootPassword,
		},
	}, pulumi.Parent(comp), pulumi.AdditionalSecretOutputs([]string{"data", "stringData"}))
	if err != nil {
		return nil, err
	}
	secretName := nameOf(secret.Metadata)

	pvcSpec := &corev1.PersistentVolumeClaimSpecArgs{
		AccessModes: pulumi.StringArray{pulumi.String("ReadWriteOnce")},
		Resources: &corev1.VolumeResourceRequirementsArgs{
			Requests: pulumi.StringMap{"storage": pulumi.String(args.StorageSize)},
		},
	}
	if args.StorageClass != "" {
		pvcSpec.StorageClassName = pulumi.String(args.StorageClass)
	}

	healthProbe := func(path string, initialDelay int) *corev1.ProbeArgs {
		return &corev1.ProbeArgs{
			HttpGet: &corev1.HTTPGetActionArgs{
				Path:   pulumi.String(path),
				Port:   pulumi.Int(MinioAPIPort),
				Scheme: pulumi.String("HTTP"),
			},
			InitialDelaySeconds: pulumi.Int(initialDelay),
			PeriodSeconds:       pulumi.Int(10),
			TimeoutSeconds:      pulumi.Int(5),
			FailureThreshold:    pulumi.Int(3),
		}
	}

	// The Service is created before the StatefulSet that names it as its
	// governing service (spec.serviceName).
	svc, err := corev1.NewService(ctx, name, &corev1.ServiceArgs{
		Metadata: objectMeta(MinioName, args.Namespace, labels.all()),
		Spec: &corev1.ServiceSpecArgs{
			Type:     pulumi.String("ClusterIP"),
			Selector: labels.selector(),
			Ports: corev1.ServicePortArray{
				corev1.ServicePortArgs{
					Port:       pulumi.Int(MinioAPIPort),
					TargetPort: pulumi.Int(MinioAPIPort),
				},
			},
		},
	}, pulumi.Parent(comp))
	if err != nil {
		return nil, err
	}

	_, err = appsv1.NewStatefulSet(ctx, name, &appsv1.StatefulSetArgs{
		Metadata: objectMeta(MinioName, args.Namespace, labels.all()),
		Spec: &appsv1.StatefulSetSpecArgs{
			ServiceName: nameOf(svc.Metadata).ToStringPtrOutput(),
			Replicas:    pulumi.Int(1),
			Selector:    &metav1.LabelSelectorArgs{MatchLabels: labels.selector()},
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{Labels: labels.all()},
				Spec: &corev1.PodSpecArgs{
					SecurityContext: nonRootPodSecurityContext(minioUID),
					Containers: corev1.ContainerArray{
						corev1.ContainerArgs{
							Name:  pulumi.String("minio"),
							Image: pulumi.String(args.Image),
							Args: pulumi.StringArray{
								pulumi.String("server"),
								pulumi.String("/data"),
								pulumi.String("--console-address"),
								pulumi.String(fmt.Sprintf(":%d", MinioConsolePort)),
							},
							Ports: corev1.ContainerPortArray{
								corev1.ContainerPortArgs{Name: pulumi.String("api"), ContainerPort: pulumi.Int(MinioAPIPort)},
								corev1.ContainerPortArgs{Name: pulumi.String("console"), ContainerPort: pulumi.Int(MinioConsolePort)},
							},
							Env: corev1.EnvVarArray{
								secretEnv("MINIO_ROOT_USER", secretName, MinioSecretUserKey),
								secretEnv("MINIO_ROOT_PASSWORD", secretName, MinioSecretPasswordKey),
							},
							VolumeMounts: corev1.VolumeMountArray{
								corev1.VolumeMountArgs{Name: pulumi.String("data"), MountPath: pulumi.String("/data")},
							},
							LivenessProbe:  healthProbe("/minio/health/live", 10),
							ReadinessProbe: healthProbe("/minio/health/ready", 5),
							Resources: resourceSpec{
								CPURequest: "100m", MemoryRequest: "256Mi",
								CPULimit: "1", MemoryLimit: "1Gi",
							}.args(),
							// MinIO writes only to /data (and its
							// config under it), but it also creates
							// ${HOME}/.minio at start, so the root file
							// system stays writable.
							SecurityContext: nonRootSecurityContext(minioUID, false),
						},
					},
				},
			},
			VolumeClaimTemplates: corev1.PersistentVolumeClaimTypeArray{
				corev1.PersistentVolumeClaimTypeArgs{
					Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("data"), Labels: labels.all()},
					Spec:     pvcSpec,
				},
			},
		},
	}, pulumi.Parent(comp))
	if err != nil {
		return nil, err
	}

	comp.ServiceName = nameOf(svc.Metadata)
	comp.SecretName = secretName
	comp.Endpoint = pulumi.Sprintf("%s:%d", comp.ServiceName, MinioAPIPort)
	comp.URL = pulumi.Sprintf("http://%s.%s.svc.cluster.local:%d", comp.ServiceName, svc.Metadata.Namespace().Elem(), MinioAPIPort)
	if err := ctx.RegisterResourceOutputs(comp, pulumi.Map{
		"serviceName": comp.ServiceName,
		"secretName":  comp.SecretName,
		"endpoint":    comp.Endpoint,
		"url":         comp.URL,
	}); err != nil {
		return nil, err
	}
	return comp, nil
}
