package infra

import (
	batchv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/batch/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const (
	PriceFetcherName = "price-fetcher"
	// priceFetcherUID is the distroless "nonroot" user the image runs as.
	priceFetcherUID = 65532
)

var priceFetcherLabels = appLabels{
	Name: PriceFetcherName, Instance: PriceFetcherName, Component: "fetcher",
	Lab: map[string]string{"app": "electricity-calculator", "microservice": "price-fetcher"},
}

// PriceFetcherArgs configures the PriceFetcher component.
type PriceFetcherArgs struct {
	Namespace pulumi.StringInput
	// Image is the container image: a GoImage's pinned ref, or a
	// configured prebuilt image.
	Image    pulumi.StringInput
	Schedule string
	TimeZone string
	// HistoryServerURI is the value of HISTORY_SERVER_URI:
	// http://history-server.production.svc.cluster.local:80.
	HistoryServerURI pulumi.StringInput
}

// PriceFetcher is the CronJob that fetches tomorrow's prices from Elering
// and POSTs them to the history server.
type PriceFetcher struct {
	pulumi.ResourceState

	// CronJobName is "price-fetcher" once the CronJob exists.
	CronJobName pulumi.StringOutput `pulumi:"cronJobName"`
}

// NewPriceFetcher creates the price-fetcher CronJob.
func NewPriceFetcher(ctx *pulumi.Context, name string, args *PriceFetcherArgs, opts ...pulumi.ResourceOption) (*PriceFetcher, error) {
	comp, err := newComponent[PriceFetcher](ctx, TypePriceFetcher, name, args, opts)
	if err != nil {
		return nil, err
	}
	labels := priceFetcherLabels

	cj, err := batchv1.NewCronJob(ctx, name, &batchv1.CronJobArgs{
		Metadata: objectMeta(PriceFetcherName, args.Namespace, labels.all()),
		Spec: &batchv1.CronJobSpecArgs{
			Schedule: pulumi.String(args.Schedule),
			TimeZone: pulumi.String(args.TimeZone),
			// One run at a time; a late start is still useful for ten
			// minutes, after that the next day's run takes over.
			ConcurrencyPolicy:          pulumi.String("Forbid"),
			StartingDeadlineSeconds:    pulumi.Int(600),
			SuccessfulJobsHistoryLimit: pulumi.Int(3),
			FailedJobsHistoryLimit:     pulumi.Int(3),
			JobTemplate: &batchv1.JobTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{Labels: labels.all()},
				Spec: &batchv1.JobSpecArgs{
					BackoffLimit:          pulumi.Int(2),
					ActiveDeadlineSeconds: pulumi.Int(300),
					Template: &corev1.PodTemplateSpecArgs{
						Metadata: &metav1.ObjectMetaArgs{Labels: labels.all()},
						Spec: &corev1.PodSpecArgs{
							// Never: each retry is a new pod whose logs
							// stay readable after a failure.
							RestartPolicy:                pulumi.String("Never"),
							AutomountServiceAccountToken: pulumi.Bool(false),
							SecurityContext:              nonRootPodSecurityContext(priceFetcherUID),
							Containers: corev1.ContainerArray{
								corev1.ContainerArgs{
									Name:  pulumi.String(PriceFetcherName),
									Image: args.Image,
									Env: corev1.EnvVarArray{
										plainEnv("HISTORY_SERVER_URI", args.HistoryServerURI),
									},
									Resources: resourceSpec{
										CPURequest: "50m", MemoryRequest: "32Mi",
										CPULimit: "250m", MemoryLimit: "128Mi",
									}.args(),
									// A static Go binary: non-root,
									// read-only root file system.
									SecurityContext: nonRootSecurityContext(priceFetcherUID, true),
								},
							},
						},
					},
				},
			},
		},
	}, pulumi.Parent(comp))
	if err != nil {
		return nil, err
	}

	comp.CronJobName = nameOf(cj.Metadata)
	return withOutputs(ctx, comp, pulumi.Map{"cronJobName": comp.CronJobName})
}
