package infra

import (
	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const (
	NginxName = "nginx"
	NginxPort = 80
)

// nginxLabLabels: the lab selects these pods with `-l name=nginx` and its
// echoserver NetworkPolicy admits podSelector name=nginx.
func nginxLabels(namespace string) appLabels {
	return appLabels{
		Name: NginxName, Instance: NginxName + "-" + namespace, Component: "client",
		Lab: map[string]string{"name": NginxName},
	}
}

// NginxArgs configures one nginx Deployment.
type NginxArgs struct {
	Namespace     pulumi.StringInput
	NamespaceName string
	Image         string
}

// Nginx is the lab's nginx client Deployment: the pod the lab execs into
// to curl the echoserver across the NetworkPolicy.
type Nginx struct {
	pulumi.ResourceState

	// DeploymentName is "nginx" once the Deployment exists.
	DeploymentName pulumi.StringOutput `pulumi:"deploymentName"`

	Deployment *appsv1.Deployment
}

// NewNginx creates Deployment nginx in one namespace.
func NewNginx(ctx *pulumi.Context, name string, args *NginxArgs, opts ...pulumi.ResourceOption) (*Nginx, error) {
	comp, err := newComponent[Nginx](ctx, TypeNginx, name, args, opts)
	if err != nil {
		return nil, err
	}
	labels := nginxLabels(args.NamespaceName)

	dep, err := appsv1.NewDeployment(ctx, name, &appsv1.DeploymentArgs{
		Metadata: objectMeta(NginxName, args.Namespace, labels.all()),
		Spec: &appsv1.DeploymentSpecArgs{
			Replicas: pulumi.Int(1),
			Selector: labels.podSelector(),
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{Labels: labels.all()},
				Spec: &corev1.PodSpecArgs{
					AutomountServiceAccountToken: pulumi.Bool(false),
					Containers: corev1.ContainerArray{
						corev1.ContainerArgs{
							Name:  pulumi.String(NginxName),
							Image: pulumi.String(args.Image),
							Ports: corev1.ContainerPortArray{
								corev1.ContainerPortArgs{Name: pulumi.String("http"), ContainerPort: pulumi.Int(NginxPort)},
							},
							Resources: resourceSpec{
								CPURequest: "10m", MemoryRequest: "16Mi",
								CPULimit: "200m", MemoryLimit: "128Mi",
							}.args(),
							// The official nginx image starts its master
							// process as root (it binds :80, chowns its
							// cache directories and switches workers to
							// user nginx), so it keeps exactly the
							// capabilities for that; no privilege
							// escalation, RuntimeDefault seccomp.
							SecurityContext: imageUserSecurityContext(
								"CHOWN", "DAC_OVERRIDE", "SETGID", "SETUID", "NET_BIND_SERVICE"),
						},
					},
				},
			},
		},
	}, pulumi.Parent(comp))
	if err != nil {
		return nil, err
	}

	comp.Deployment = dep
	comp.DeploymentName = nameOf(dep.Metadata)
	return withOutputs(ctx, comp, pulumi.Map{"deploymentName": comp.DeploymentName})
}
