package infra

import (
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// What the two ingress controllers (ingress-nginx, Traefik) have in common:
// their outputs, a namespace of their own, a ServiceAccount (bound to their
// RBAC by serviceAccountGrant), a NodePort Service with ports http and https, and IngressClass
// nginx. One controller replaces the other in place, so these are built
// once, here.

// IngressController is what either controller reports.
type IngressController struct {
	// Namespace is the controller's namespace once it exists.
	Namespace pulumi.StringOutput
	// IngressClassName is "nginx" once the IngressClass exists.
	IngressClassName pulumi.StringOutput
	// ServiceName is the controller's NodePort Service.
	ServiceName pulumi.StringOutput
	// HTTPNodePort and HTTPSNodePort are the node ports of the Service's
	// http and https ports, as the API server allocated them.
	HTTPNodePort  pulumi.IntOutput
	HTTPSNodePort pulumi.IntOutput
	// Prerequisites are what a route served by the controller must be
	// created after: the Service, the IngressClass and, with
	// ingress-nginx's admission webhook, the webhook's server (the
	// Deployment), its ValidatingWebhookConfiguration and the Job that
	// patches its CA. Without a webhook an Ingress needs no running
	// controller to be created (the controller reads it when it starts),
	// and not depending on the Deployment keeps the Ingress at the same
	// dependency level as the workloads, so that pulumi destroy deletes it
	// in the same level as those it deletes itself. (Use these rather than
	// pulumi.DependsOn on the component: the Go SDK expands a component to
	// the children registered so far, which races with their asynchronous
	// registration.)
	Prerequisites []pulumi.Resource
	// Deployment is the controller's Deployment.
	Deployment pulumi.Resource
}

// outputs are the controller component's registered outputs.
func (c *IngressController) outputs() pulumi.Map {
	return pulumi.Map{
		"namespace":        c.Namespace,
		"ingressClassName": c.IngressClassName,
		"serviceName":      c.ServiceName,
		"httpNodePort":     c.HTTPNodePort,
		"httpsNodePort":    c.HTTPSNodePort,
	}
}

// newControllerNamespace creates the controller's namespace, labelled for
// its Pod Security level, and returns its name once it exists.
func newControllerNamespace(ctx *pulumi.Context, urn, namespace string, labels pulumi.StringMap, parent pulumi.ResourceOption) (pulumi.StringOutput, error) {
	ns, err := corev1.NewNamespace(ctx, urn, &corev1.NamespaceArgs{
		Metadata: clusterObjectMeta(namespace, withLabels(labels, podSecurityLabels(PodSecurityLevels[namespace]))),
	}, parent)
	if err != nil {
		return pulumi.StringOutput{}, err
	}
	return nameOf(ns.Metadata), nil
}

// newTokenServiceAccount creates a ServiceAccount whose pods get its token
// mounted (they watch the API with it) and returns its name once it exists.
func newTokenServiceAccount(ctx *pulumi.Context, urn, name string, namespace pulumi.StringInput, labels pulumi.StringMap, parent pulumi.ResourceOption) (pulumi.StringOutput, error) {
	sa, err := corev1.NewServiceAccount(ctx, urn, &corev1.ServiceAccountArgs{
		Metadata:                     objectMeta(name, namespace, labels),
		AutomountServiceAccountToken: pulumi.Bool(true),
	}, parent)
	if err != nil {
		return pulumi.StringOutput{}, err
	}
	return nameOf(sa.Metadata), nil
}

// newControllerService creates the controller's NodePort Service: http 80
// and https 443 onto the container ports httpTarget and httpsTarget, node
// ports allocated by the API server (the lab reads the http one). It sets
// the controller's ServiceName and node ports.
func (c *IngressController) newControllerService(ctx *pulumi.Context, urn, name string, labels, selector pulumi.StringMap,
	httpTarget, httpsTarget string, parent pulumi.ResourceOption,
) (*corev1.Service, error) {
	port := func(name string, port int, target string) corev1.ServicePortArgs {
		return corev1.ServicePortArgs{
			Name: pulumi.String(name), AppProtocol: pulumi.String(name), Protocol: pulumi.String("TCP"),
			Port: pulumi.Int(port), TargetPort: pulumi.String(target),
		}
	}
	svc, err := corev1.NewService(ctx, urn, &corev1.ServiceArgs{
		Metadata: objectMeta(name, c.Namespace, labels),
		Spec: &corev1.ServiceSpecArgs{
			Type:           pulumi.String("NodePort"),
			IpFamilies:     pulumi.StringArray{pulumi.String("IPv4")},
			IpFamilyPolicy: pulumi.String("SingleStack"),
			Selector:       selector,
			// The names (http, https) are ingress-nginx's, so the lab's
			// commands reading the http node port work with both.
			Ports: corev1.ServicePortArray{port("http", 80, httpTarget), port("https", 443, httpsTarget)},
		},
	}, parent)
	if err != nil {
		return nil, err
	}
	c.ServiceName = nameOf(svc.Metadata)
	c.HTTPNodePort = nodePortOf(ctx, svc, "http")
	c.HTTPSNodePort = nodePortOf(ctx, svc, "https")
	return svc, nil
}

// newIngressClassNginx creates IngressClass nginx with ingress-nginx's
// controller value (what Traefik's NGINX provider also selects Ingresses
// by) and sets the controller's IngressClassName. self is the controller
// component; the alias names the other controller's IngressClass (other
// type and component name), so that switching controllers is an in-place
// update of this one object (ingressClassAlias).
func (c *IngressController) newIngressClassNginx(ctx *pulumi.Context, self pulumi.Resource, urnPrefix string, labels pulumi.StringMap,
	otherType, otherName string, parent pulumi.ResourceOption,
) (*networkingv1.IngressClass, error) {
	ic, err := networkingv1.NewIngressClass(ctx, urnPrefix+"-"+IngressClassNginx, &networkingv1.IngressClassArgs{
		Metadata: clusterObjectMeta(IngressClassNginx, labels),
		Spec:     &networkingv1.IngressClassSpecArgs{Controller: pulumi.String(ingressNginxControllerCls)},
	}, parent, pulumi.Aliases([]pulumi.Alias{
		ingressClassAlias(self, otherType, otherName, otherName+"-"+IngressClassNginx),
	}))
	if err != nil {
		return nil, err
	}
	c.IngressClassName = nameOf(ic.Metadata)
	return ic, nil
}
