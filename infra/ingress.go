package infra

import (
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const (
	EchoserverIngressName = "echoserver-ingress"
	// skipAwaitAnnotation tells pulumi-kubernetes not to wait for the
	// Ingress to get a load-balancer address.
	skipAwaitAnnotation = "pulumi.com/skipAwait"
)

// EchoserverIngressArgs configures the lab's Ingress.
type EchoserverIngressArgs struct {
	Namespace pulumi.StringInput
	// Host is echoserver.<publicNodeIP>.nip.io.
	Host string
	// IngressClassName is the controller's IngressClass ("nginx").
	IngressClassName pulumi.StringInput
	// ServiceName and ServicePort are the backend (echoserver:80).
	ServiceName pulumi.StringInput
	ServicePort int
	// SkipAwait sets pulumi.com/skipAwait: on a control plane without a
	// running controller the Ingress never gets an address, and Pulumi
	// would wait for one until it times out.
	SkipAwait bool
	// DependsOn are resources the Ingress must wait for: the ingress
	// controller's (IngressNginx.IngressPrerequisites, so an admission
	// webhook, if any, serves first) and the backend's. They apply to the
	// component and, explicitly, to the Ingress object itself. Pass
	// resources, not components: the Go SDK expands a component to the
	// children registered so far, which races with their registration.
	DependsOn []pulumi.Resource
}

// EchoserverIngress is Ingress echoserver-ingress in default.
type EchoserverIngress struct {
	pulumi.ResourceState

	// Host is the rule's host, from the created Ingress.
	Host pulumi.StringOutput `pulumi:"host"`
}

// NewEchoserverIngress creates the Ingress.
func NewEchoserverIngress(ctx *pulumi.Context, name string, args *EchoserverIngressArgs, opts ...pulumi.ResourceOption) (*EchoserverIngress, error) {
	comp := &EchoserverIngress{}
	deps := pulumi.DependsOn(args.DependsOn)
	if err := ctx.RegisterComponentResource("lab5:infra:EchoserverIngress", name, comp, append(opts, deps)...); err != nil {
		return nil, err
	}

	meta := &metav1.ObjectMetaArgs{
		Name:      pulumi.String(EchoserverIngressName),
		Namespace: args.Namespace,
		Labels:    commonLabels(map[string]string{"name": EchoserverIngressName}),
	}
	if args.SkipAwait {
		meta.Annotations = pulumi.StringMap{skipAwaitAnnotation: pulumi.String("true")}
	}

	ing, err := networkingv1.NewIngress(ctx, name, &networkingv1.IngressArgs{
		Metadata: meta,
		Spec: &networkingv1.IngressSpecArgs{
			IngressClassName: args.IngressClassName,
			Rules: networkingv1.IngressRuleArray{networkingv1.IngressRuleArgs{
				Host: pulumi.String(args.Host),
				Http: &networkingv1.HTTPIngressRuleValueArgs{
					Paths: networkingv1.HTTPIngressPathArray{networkingv1.HTTPIngressPathArgs{
						Path:     pulumi.String("/"),
						PathType: pulumi.String("Prefix"),
						Backend: networkingv1.IngressBackendArgs{
							Service: &networkingv1.IngressServiceBackendArgs{
								Name: args.ServiceName,
								Port: &networkingv1.ServiceBackendPortArgs{Number: pulumi.Int(args.ServicePort)},
							},
						},
					}},
				},
			}},
		},
	}, pulumi.Parent(comp), deps)
	if err != nil {
		return nil, err
	}

	comp.Host = ing.Spec.Rules().Index(pulumi.Int(0)).Host().Elem()
	if err := ctx.RegisterResourceOutputs(comp, pulumi.Map{"host": comp.Host}); err != nil {
		return nil, err
	}
	return comp, nil
}
