package infra

import (
	"fmt"
	"strings"

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
	// controller's (IngressController.Prerequisites, so an admission
	// webhook, if any, serves first) and the backend's. They apply to the
	// Ingress object, not to the component, whose level in pulumi's
	// dependency order would add one to the Ingress's (destroy deletes
	// one level at a time). Pass resources, not components: the Go SDK
	// expands a component to the children registered so far, which races
	// with their registration.
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
	comp, err := newComponent[EchoserverIngress](ctx, TypeEchoserverIngress, name, args, opts)
	if err != nil {
		return nil, err
	}
	deps := pulumi.DependsOn(args.DependsOn)

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
	return withOutputs(ctx, comp, pulumi.Map{"host": comp.Host})
}

// Ingress controller and route selection (stack config ingressController,
// ingressRoute, traefikImage).
const (
	keyIngressController = "ingressController"
	keyIngressRoute      = "ingressRoute"
	keyTraefikImage      = "traefikImage"

	// IngressControllerNginx is the lab as written: ingress-nginx v1.15.1,
	// retired upstream (no fixes after March 2026).
	IngressControllerNginx = "ingress-nginx"
	// IngressControllerTraefik serves the same Ingress (class nginx) with
	// Traefik's ingress-nginx provider (traefik.go).
	IngressControllerTraefik = "traefik"

	// IngressRouteIngress routes echoserver with the lab's Ingress.
	IngressRouteIngress = "ingress"
	// IngressRouteGateway routes it with Gateway API objects instead
	// (gateway.go); only Traefik implements them here.
	IngressRouteGateway = "gateway"

	// Pulumi logical names of the two controller components: each
	// component's IngressClass aliases the other's (ingressClassAlias).
	ingressNginxComponentName = "ingress-nginx"
	traefikComponentName      = "traefik"
)

// IngressConfig chooses who serves the echoserver route and how it is
// declared.
type IngressConfig struct {
	// Controller is IngressControllerNginx (default) or
	// IngressControllerTraefik.
	Controller string
	// Route is IngressRouteIngress (default) or IngressRouteGateway.
	Route string
	// TraefikImage is Traefik's container image (with Controller traefik).
	TraefikImage string
}

// loadIngressConfig reads and checks the ingress keys.
func loadIngressConfig(r *configReader, c *Config) {
	c.Ingress = IngressConfig{
		Controller:   r.str(keyIngressController, IngressControllerNginx),
		Route:        r.str(keyIngressRoute, IngressRouteIngress),
		TraefikImage: r.image(keyTraefikImage, DefaultTraefikImage),
	}
	switch c.Ingress.Controller {
	case IngressControllerNginx, IngressControllerTraefik:
	default:
		r.fail(keyIngressController, "must be %q (the lab's controller) or %q, got %q",
			IngressControllerNginx, IngressControllerTraefik, c.Ingress.Controller)
	}
	switch c.Ingress.Route {
	case IngressRouteIngress:
	case IngressRouteGateway:
		if c.Ingress.Controller == IngressControllerNginx {
			r.fail(keyIngressRoute, "%q needs %s %q: ingress-nginx does not implement Gateway API (run `pulumi config set %s %s`)",
				IngressRouteGateway, r.key(keyIngressController), IngressControllerTraefik, keyIngressController, IngressControllerTraefik)
		}
	default:
		r.fail(keyIngressRoute, "must be %q (the lab's Ingress) or %q (Gateway API HTTPRoute), got %q",
			IngressRouteIngress, IngressRouteGateway, c.Ingress.Route)
	}
}

// ingressControllerParts is what the rest of the lab needs from whichever
// controller serves the route.
type ingressControllerParts struct {
	IngressController
	// NamespaceName and PodLabels identify the controller pods for the
	// NetworkPolicy that admits them to echoserver.
	NamespaceName string
	PodLabels     map[string]string
	// GatewayAPICRDs are the Gateway API CRDs (ingressRoute=gateway).
	GatewayAPICRDs []pulumi.Resource
}

// ingressClassAlias lets two components own "the same" IngressClass nginx:
// the IngressClass of this component (self) is declared as an alias of the
// one the other controller component declares under otherType/otherName
// with logical name otherClass. Switching controllers then updates the one
// cluster object in place (its labels) instead of creating a second
// IngressClass named nginx, which the API server refuses while the old one
// still exists (Pulumi creates replacements before deleting what a program
// no longer declares).
//
// The alias is a full URN: self's URN with its own type and name replaced
// by the other component's, so both components must be siblings (children
// of the Lab).
func ingressClassAlias(self pulumi.Resource, otherType, otherName, otherClass string) pulumi.Alias {
	return pulumi.Alias{URN: self.URN().ApplyT(func(u pulumi.URN) (pulumi.URN, error) {
		return siblingChildURN(string(u), otherType, otherName, ingressClassType, otherClass)
	}).(pulumi.URNOutput)}
}

const ingressClassType = "kubernetes:networking.k8s.io/v1:IngressClass"

// siblingChildURN is the URN of resource childName (type childType) under
// the component otherType::otherName that is a sibling of the component
// whose URN is self: urn:pulumi:<stack>::<project>::<parent chain>$<type>::<name>.
func siblingChildURN(self, otherType, otherName, childType, childName string) (pulumi.URN, error) {
	parts := strings.Split(self, "::")
	if len(parts) != 4 || !strings.HasPrefix(parts[0], "urn:pulumi:") {
		return "", fmt.Errorf("unexpected URN %q", self)
	}
	chain := parts[2]
	if i := strings.LastIndex(chain, "$"); i >= 0 {
		chain = chain[:i+1] // keep the parents' types and the "$"
	} else {
		chain = ""
	}
	return pulumi.URN(fmt.Sprintf("%s::%s::%s%s$%s::%s", parts[0], parts[1], chain, otherType, childType, childName)), nil
}

// newIngressController creates the configured controller (a child of the
// Lab, named ingressNginxComponentName or traefikComponentName).
func (lab *Lab) newIngressController(ctx *pulumi.Context, cfg *Config, opts ...pulumi.ResourceOption) (*ingressControllerParts, error) {
	var err error
	if cfg.Ingress.Controller == IngressControllerTraefik {
		var crds []pulumi.Resource
		if cfg.Ingress.Route == IngressRouteGateway {
			// Traefik's Gateway API provider needs the CRDs before it
			// starts.
			c, err := NewGatewayAPICRDs(ctx, "gateway-api-crds", opts...)
			if err != nil {
				return nil, err
			}
			crds = c.CRDs
		}
		if lab.Traefik, err = NewTraefik(ctx, traefikComponentName, &TraefikArgs{
			Image:        cfg.Ingress.TraefikImage,
			PublicNodeIP: cfg.PublicNodeIP,
			GatewayAPI:   cfg.Ingress.Route == IngressRouteGateway,
			DependsOn:    crds,
		}, opts...); err != nil {
			return nil, err
		}
		return &ingressControllerParts{
			IngressController: lab.Traefik.IngressController,
			NamespaceName:     TraefikNamespace, PodLabels: traefikLabels.Lab,
			GatewayAPICRDs: crds,
		}, nil
	}
	if lab.IngressNginx, err = NewIngressNginx(ctx, ingressNginxComponentName, &IngressNginxArgs{
		AdmissionWebhook: cfg.IngressAdmissionWebhook,
	}, opts...); err != nil {
		return nil, err
	}
	return &ingressControllerParts{
		IngressController: lab.IngressNginx.IngressController,
		NamespaceName:     IngressNginxNamespace, PodLabels: ingressNginxPodLabels,
	}, nil
}

// ingressNginxPodLabels are ingress-nginx's controller pod labels (its
// Deployment's selector), for the NetworkPolicy peer.
var ingressNginxPodLabels = map[string]string{
	labelComponent: "controller",
	labelInstance:  ingressNginxInstance,
	labelName:      "ingress-nginx",
}

// newEchoserverRoute routes echoserver.<publicNodeIP>.nip.io to echoserver:80
// with the lab's Ingress or, with ingressRoute=gateway, with Gateway API
// objects; it returns the route's host.
func (lab *Lab) newEchoserverRoute(ctx *pulumi.Context, cfg *Config, ctl *ingressControllerParts, opts ...pulumi.ResourceOption) (pulumi.StringOutput, error) {
	deps := append(append([]pulumi.Resource{}, ctl.Prerequisites...), lab.Echoserver.Backend()...)
	var err error
	if cfg.Ingress.Route == IngressRouteGateway {
		// The Gateway and its route wait for Traefik itself too.
		deps = append(append(deps, ctl.Deployment), ctl.GatewayAPICRDs...)
		if lab.Gateway, err = NewEchoserverGateway(ctx, "echoserver-gateway", &EchoserverGatewayArgs{
			GatewayNamespace: ctl.Namespace,
			RouteNamespace:   lab.Namespaces.Default,
			Host:             cfg.IngressHost(),
			ServiceName:      EchoserverName,
			ServicePort:      EchoserverPort,
			DependsOn:        deps,
		}, opts...); err != nil {
			return pulumi.StringOutput{}, err
		}
		return lab.Gateway.Host, nil
	}
	if lab.Ingress, err = NewEchoserverIngress(ctx, EchoserverIngressName, &EchoserverIngressArgs{
		Namespace:        lab.Namespaces.Default,
		Host:             cfg.IngressHost(),
		IngressClassName: ctl.IngressClassName,
		ServiceName:      lab.Echoserver.ServiceName,
		ServicePort:      EchoserverPort,
		SkipAwait:        !cfg.AwaitIngress,
		DependsOn:        deps,
	}, opts...); err != nil {
		return pulumi.StringOutput{}, err
	}
	return lab.Ingress.Host, nil
}
