package infra

import (
	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const (
	PostgresStatefulSetName = "postgresql-hl-test"
	PostgresServiceName     = "postgresql-hl"
	PostgresPort            = 5432
	PostgresReplicas        = 2
	// postgresUID is the uid the bitnami images run as.
	postgresUID = 1001
)

var postgresLabels = appLabels{
	Name: "postgresql", Instance: PostgresStatefulSetName, Component: "database",
	Lab: map[string]string{"app": PostgresStatefulSetName},
}

// PostgresArgs configures the headless-Service demo.
type PostgresArgs struct {
	Namespace pulumi.StringInput
	// Image is bitnami/postgresql:15.4.0 in the lab. (Bitnami moved its
	// public images to docker.io/bitnamilegacy in 2025; postgresImage
	// can point there.)
	Image string
}

// Postgres is the lab's headless Service demo: StatefulSet
// postgresql-hl-test (2 replicas, emptyDir storage) and its headless
// Service postgresql-hl. Test-only (in the lab's cleanup list).
type Postgres struct {
	pulumi.ResourceState

	// ServiceName is "postgresql-hl" once the headless Service exists.
	ServiceName pulumi.StringOutput `pulumi:"serviceName"`

	Service     *corev1.Service
	StatefulSet *appsv1.StatefulSet
}

// NewPostgres creates the headless Service and the StatefulSet.
func NewPostgres(ctx *pulumi.Context, name string, args *PostgresArgs, opts ...pulumi.ResourceOption) (*Postgres, error) {
	comp, err := newComponent[Postgres](ctx, TypePostgres, name, args, opts)
	if err != nil {
		return nil, err
	}
	labels := postgresLabels

	// The headless Service first: the StatefulSet names it as its
	// governing service, which gives the pods their DNS names
	// (postgresql-hl-test-0.postgresql-hl).
	svc, err := newAppService(ctx, name, PostgresServiceName, args.Namespace, labels, &corev1.ServiceSpecArgs{
		ClusterIP: pulumi.String("None"),
		Ports:     corev1.ServicePortArray{tcpServicePort(PostgresPort, pulumi.Int(PostgresPort))},
	}, pulumi.Parent(comp))
	if err != nil {
		return nil, err
	}
	comp.Service = svc
	comp.ServiceName = nameOf(svc.Metadata)

	comp.StatefulSet, err = appsv1.NewStatefulSet(ctx, name, &appsv1.StatefulSetArgs{
		Metadata: objectMeta(PostgresStatefulSetName, args.Namespace, labels.all()),
		Spec: &appsv1.StatefulSetSpecArgs{
			ServiceName: comp.ServiceName.ToStringPtrOutput(),
			Replicas:    pulumi.Int(PostgresReplicas),
			Selector:    labels.podSelector(),
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{Labels: labels.all()},
				Spec: &corev1.PodSpecArgs{
					AutomountServiceAccountToken: pulumi.Bool(false),
					// bitnami images run as uid 1001; fsGroup makes the
					// emptyDir writable for it. The primary group stays
					// the image's (0): bitnami makes its directories
					// group-writable for gid 0, not for gid 1001.
					SecurityContext: bitnamiPodSecurityContext(),
					Containers: corev1.ContainerArray{
						corev1.ContainerArgs{
							Name:  pulumi.String("postgresql"),
							Image: pulumi.String(args.Image),
							// Exactly the lab's values: a throw-away
							// demo database on emptyDir storage.
							Env: corev1.EnvVarArray{
								plainEnv("POSTGRESQL_USERNAME", pulumi.String("test")),
								plainEnv("POSTGRESQL_DATABASE", pulumi.String("test")),
								plainEnv("POSTGRESQL_PASSWORD", pulumi.String("postgres-password")),
							},
							Ports: corev1.ContainerPortArray{
								corev1.ContainerPortArgs{Name: pulumi.String("postgres-port"), ContainerPort: pulumi.Int(PostgresPort)},
							},
							VolumeMounts: corev1.VolumeMountArray{
								corev1.VolumeMountArgs{Name: pulumi.String("postgresql-data"), MountPath: pulumi.String("/bitnami/postgresql")},
							},
							Resources: resourceSpec{
								CPURequest: "100m", MemoryRequest: "128Mi",
								CPULimit: "500m", MemoryLimit: "512Mi",
							}.args(),
							// Non-root (1001), but the bitnami scripts
							// write their config under /opt/bitnami, so
							// the root file system stays writable.
							SecurityContext: bitnamiSecurityContext(),
						},
					},
					Volumes: corev1.VolumeArray{
						corev1.VolumeArgs{
							Name:     pulumi.String("postgresql-data"),
							EmptyDir: &corev1.EmptyDirVolumeSourceArgs{},
						},
					},
				},
			},
		},
	}, pulumi.Parent(comp))
	if err != nil {
		return nil, err
	}

	return withOutputs(ctx, comp, pulumi.Map{"serviceName": comp.ServiceName})
}

func bitnamiPodSecurityContext() *corev1.PodSecurityContextArgs {
	sc := nonRootPodSecurityContext(postgresUID)
	sc.RunAsGroup = nil
	return sc
}

func bitnamiSecurityContext() *corev1.SecurityContextArgs {
	sc := nonRootSecurityContext(postgresUID, false)
	sc.RunAsGroup = nil
	return sc
}
