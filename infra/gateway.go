package infra

import (
	"embed"
	"encoding/json"
	"fmt"
	"path"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	k8smeta "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// Gateway API (ingressRoute=gateway): the echoserver route as a
// GatewayClass, a Gateway and an HTTPRoute served by Traefik's
// kubernetesGateway provider, and the Gateway API CRDs they need.
//
// The objects are typed with the upstream Go types of
// sigs.k8s.io/gateway-api (the module version go.mod pins) and registered
// through newTypedCustomResource; the CRDs are the upstream standard-channel
// manifests of the same release, decoded into apiextensions/v1 types.

// GatewayAPIVersion is the Gateway API release whose CRDs the stack installs;
// it must be the sigs.k8s.io/gateway-api version in go.mod (gateway_test.go).
const GatewayAPIVersion = "v1.6.3"

// Names of the Gateway API objects.
const (
	// TraefikGatewayClassName is the GatewayClass Traefik's provider
	// claims (controllerName traefik.io/gateway-controller).
	TraefikGatewayClassName = "traefik"
	// LabGatewayName is the Gateway, in Traefik's namespace (the
	// infrastructure's owner); its listener admits routes from default.
	LabGatewayName = "lab5-gateway"
	// EchoserverRouteName is the HTTPRoute in default that replaces
	// echoserver-ingress.
	EchoserverRouteName = "echoserver-route"
	// gatewayListenerName is the Gateway's HTTP listener. Its port is
	// Traefik's web entry point: Traefik attaches a listener to the entry
	// point with the same port.
	gatewayListenerName = "web"

	gatewayAPIGroup = "gateway.networking.k8s.io"
)

// gatewayAPICRDs are the CRDs of the standard channel that Traefik's
// provider watches (it waits for all of them to sync before it serves
// anything). The channel's ListenerSet, TCPRoute, TLSRoute and UDPRoute
// are left out: no controller here serves them (Traefik v3.6 reads
// TCPRoute/TLSRoute only as v1alpha2, with its experimental channel).
var gatewayAPICRDs = []string{
	"gatewayclasses", "gateways", "httproutes", "grpcroutes", "referencegrants", "backendtlspolicies",
}

// gatewayAPICRDFiles are the upstream manifests, unchanged
// (config/crd/standard/ of the module; gateway_test.go compares them).
//
//go:embed crds/gateway-api-v1.6.3/*.yaml
var gatewayAPICRDFiles embed.FS

// gatewayAPICRDFile is the embedded manifest of one CRD.
func gatewayAPICRDFile(plural string) string {
	return path.Join("crds", "gateway-api-"+GatewayAPIVersion, gatewayAPIGroup+"_"+plural+".yaml")
}

// loadGatewayAPICRD reads and strictly decodes one embedded CRD.
func loadGatewayAPICRD(plural string) (*apiextv1.CustomResourceDefinition, error) {
	b, err := gatewayAPICRDFiles.ReadFile(gatewayAPICRDFile(plural))
	if err != nil {
		return nil, err
	}
	crd := &apiextv1.CustomResourceDefinition{}
	if err := yaml.UnmarshalStrict(b, crd); err != nil {
		return nil, fmt.Errorf("gateway API CRD %s: %w", plural, err)
	}
	if crd.Spec.Group != gatewayAPIGroup || crd.Spec.Names.Plural != plural || crd.Annotations["gateway.networking.k8s.io/bundle-version"] != GatewayAPIVersion {
		return nil, fmt.Errorf("gateway API CRD %s: unexpected group %q, plural %q or bundle version %q",
			plural, crd.Spec.Group, crd.Spec.Names.Plural, crd.Annotations["gateway.networking.k8s.io/bundle-version"])
	}
	return crd, nil
}

// newTypedCustomResource registers a Kubernetes object of any kind whose
// body is a typed Go value (an upstream API type): the fields are encoded
// with the type's own JSON tags here, the one place that turns them into
// the provider's untyped inputs, so callers only ever build typed values. The Pulumi type token is kubernetes:<apiVersion>:<kind>,
// the provider's own for built-in kinds such as CustomResourceDefinition.
func newTypedCustomResource[T any](ctx *pulumi.Context, name, apiVersion, kind string,
	meta *metav1.ObjectMetaArgs, fields map[string]T, opts ...pulumi.ResourceOption,
) (*apiextensions.CustomResource, error) {
	other := kubernetes.UntypedArgs{}
	for field, v := range fields {
		plain, err := plainJSON(v)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %s: %w", kind, name, field, err)
		}
		other[field] = plain
	}
	return apiextensions.NewCustomResource(ctx, name, &apiextensions.CustomResourceArgs{
		ApiVersion:  pulumi.String(apiVersion),
		Kind:        pulumi.String(kind),
		Metadata:    meta,
		OtherFields: other,
	}, opts...)
}

// plainJSON is v as the provider receives it: JSON values, with explicit
// nulls (fields a type marshals without omitempty) dropped, as the API
// server would default them.
func plainJSON(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return dropNulls(out), nil
}

func dropNulls(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if e == nil {
				delete(x, k)
				continue
			}
			x[k] = dropNulls(e)
		}
	case []any:
		for i, e := range x {
			x[i] = dropNulls(e)
		}
	}
	return v
}

// GatewayAPICRDs installs the Gateway API CRDs Traefik needs.
type GatewayAPICRDs struct {
	pulumi.ResourceState

	// CRDs are the created CustomResourceDefinitions: everything that
	// uses the API (Traefik, Gateway API objects) depends on them.
	CRDs []pulumi.Resource
}

// NewGatewayAPICRDs creates the CRDs.
func NewGatewayAPICRDs(ctx *pulumi.Context, name string, opts ...pulumi.ResourceOption) (*GatewayAPICRDs, error) {
	comp := &GatewayAPICRDs{}
	if err := ctx.RegisterComponentResource(TypeGatewayAPICRDs, name, comp, opts...); err != nil {
		return nil, err
	}
	for _, plural := range gatewayAPICRDs {
		crd, err := loadGatewayAPICRD(plural)
		if err != nil {
			return nil, err
		}
		meta := &metav1.ObjectMetaArgs{
			Name: pulumi.String(crd.Name),
			// The release's annotations (bundle version, channel,
			// api-approved) identify what is installed; the labels are
			// the project's.
			Annotations: pulumi.ToStringMap(crd.Annotations),
			Labels:      commonLabels(map[string]string{labelName: "gateway-api", "app.kubernetes.io/version": GatewayAPIVersion}),
		}
		res, err := newTypedCustomResource(ctx, name+"-"+plural, "apiextensions.k8s.io/v1", "CustomResourceDefinition",
			meta, map[string]apiextv1.CustomResourceDefinitionSpec{"spec": crd.Spec}, pulumi.Parent(comp))
		if err != nil {
			return nil, err
		}
		comp.CRDs = append(comp.CRDs, res)
	}
	return withOutputs(ctx, comp, pulumi.Map{})
}

// EchoserverGatewayArgs configures the Gateway API route.
type EchoserverGatewayArgs struct {
	// GatewayNamespace is Traefik's namespace (where the Gateway lives);
	// RouteNamespace is default (echoserver's).
	GatewayNamespace pulumi.StringInput
	RouteNamespace   pulumi.StringInput
	// Host is echoserver.<publicNodeIP>.nip.io.
	Host string
	// ServiceName and ServicePort are the backend (echoserver:80).
	ServiceName string
	ServicePort int
	// DependsOn: the CRDs, the controller and the backend Service.
	DependsOn []pulumi.Resource
}

func (a *EchoserverGatewayArgs) dependencies() []pulumi.Resource { return a.DependsOn }

// EchoserverGateway is the echoserver route as Gateway API objects.
type EchoserverGateway struct {
	pulumi.ResourceState

	// Host is the HTTPRoute's host name.
	Host pulumi.StringOutput `pulumi:"host"`
}

// gatewayClassSpec, gatewaySpec and echoserverRouteSpec are the objects'
// specs, typed with the upstream API.
func gatewayClassSpec() gatewayv1.GatewayClassSpec {
	return gatewayv1.GatewayClassSpec{ControllerName: traefikGatewayController}
}

func gatewaySpec() gatewayv1.GatewaySpec {
	return gatewayv1.GatewaySpec{
		GatewayClassName: TraefikGatewayClassName,
		Listeners: []gatewayv1.Listener{{
			Name:     gatewayListenerName,
			Protocol: gatewayv1.HTTPProtocolType,
			Port:     traefikWebPort,
			AllowedRoutes: &gatewayv1.AllowedRoutes{
				// Only routes of echoserver's namespace attach: the
				// Gateway is shared infrastructure, its routes are not.
				Namespaces: &gatewayv1.RouteNamespaces{
					From: ptr.To(gatewayv1.NamespacesFromSelector),
					Selector: &k8smeta.LabelSelector{MatchLabels: map[string]string{
						labelNamespaceName: NamespaceDefault,
					}},
				},
				Kinds: []gatewayv1.RouteGroupKind{{Group: ptr.To(gatewayv1.Group(gatewayAPIGroup)), Kind: "HTTPRoute"}},
			},
		}},
	}
}

func echoserverRouteSpec(host, service string, port int) gatewayv1.HTTPRouteSpec {
	return gatewayv1.HTTPRouteSpec{
		CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{
			Name:        LabGatewayName,
			Namespace:   ptr.To(gatewayv1.Namespace(TraefikNamespace)),
			SectionName: ptr.To(gatewayv1.SectionName(gatewayListenerName)),
		}}},
		Hostnames: []gatewayv1.Hostname{gatewayv1.Hostname(host)},
		// The Ingress's rule: every path under / to echoserver:80.
		Rules: []gatewayv1.HTTPRouteRule{{
			Matches: []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{
				Type: ptr.To(gatewayv1.PathMatchPathPrefix), Value: ptr.To("/"),
			}}},
			BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{
				BackendObjectReference: gatewayv1.BackendObjectReference{
					Name: gatewayv1.ObjectName(service),
					Port: ptr.To(gatewayv1.PortNumber(port)),
				},
			}}},
		}},
	}
}

// NewEchoserverGateway creates the GatewayClass, the Gateway and the
// HTTPRoute.
func NewEchoserverGateway(ctx *pulumi.Context, name string, args *EchoserverGatewayArgs, opts ...pulumi.ResourceOption) (*EchoserverGateway, error) {
	comp, err := newComponent[EchoserverGateway](ctx, TypeEchoserverGateway, name, args, opts)
	if err != nil {
		return nil, err
	}
	deps := pulumi.DependsOn(args.DependsOn)
	apiVersion := gatewayAPIGroup + "/" + gatewayv1.GroupVersion.Version
	labels := commonLabels(nil)

	class, err := newTypedCustomResource(ctx, name+"-class", apiVersion, "GatewayClass",
		clusterObjectMeta(TraefikGatewayClassName, labels),
		map[string]gatewayv1.GatewayClassSpec{"spec": gatewayClassSpec()}, pulumi.Parent(comp), deps)
	if err != nil {
		return nil, err
	}
	gateway, err := newTypedCustomResource(ctx, name+"-gateway", apiVersion, "Gateway",
		objectMeta(LabGatewayName, args.GatewayNamespace, labels),
		map[string]gatewayv1.GatewaySpec{"spec": gatewaySpec()}, pulumi.Parent(comp), deps,
		pulumi.DependsOn([]pulumi.Resource{class}))
	if err != nil {
		return nil, err
	}
	if _, err := newTypedCustomResource(ctx, name+"-route", apiVersion, "HTTPRoute",
		objectMeta(EchoserverRouteName, args.RouteNamespace, commonLabels(map[string]string{"name": EchoserverRouteName})),
		map[string]gatewayv1.HTTPRouteSpec{"spec": echoserverRouteSpec(args.Host, args.ServiceName, args.ServicePort)},
		pulumi.Parent(comp), deps, pulumi.DependsOn([]pulumi.Resource{gateway})); err != nil {
		return nil, err
	}

	comp.Host = pulumi.String(args.Host).ToStringOutput()
	return withOutputs(ctx, comp, pulumi.Map{"host": comp.Host})
}
