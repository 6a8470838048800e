package infra

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Type tokens of the program's components, as they appear in URNs.
const (
	TypeLab               = "lab5:infra:Lab"
	TypeNamespaces        = "lab5:infra:Namespaces"
	TypeIngressNginx      = "lab5:infra:IngressNginx"
	TypeEchoserverIngress = "lab5:infra:EchoserverIngress"
	TypeMinio             = "lab5:infra:Minio"
	TypeHistoryServer     = "lab5:infra:HistoryServer"
	TypePriceFetcher      = "lab5:infra:PriceFetcher"
	TypeEchoserver        = "lab5:infra:Echoserver"
	TypeNginx             = "lab5:infra:Nginx"
	TypePostgres          = "lab5:infra:Postgres"
	TypeNetworkPolicies   = "lab5:infra:NetworkPolicies"
	TypeTraefik           = "lab5:infra:Traefik"
	TypeGatewayAPICRDs    = "lab5:infra:GatewayAPICRDs"
	TypeEchoserverGateway = "lab5:infra:EchoserverGateway"
)

// errNilArgs is what a component constructor returns for nil args, rather
// than panicking on the first field it reads.
func errNilArgs(typ string) error {
	return fmt.Errorf("%s: args are required (got nil)", typ)
}

// newComponent is every constructor's first step: it refuses nil args
// (errNilArgs) and registers a new, empty component of type typ (depending
// on what dependent args name), which the constructor then fills.
func newComponent[C any, PC interface {
	*C
	pulumi.ComponentResource
}, A any](ctx *pulumi.Context, typ, name string, args *A, opts []pulumi.ResourceOption) (PC, error) {
	if args == nil {
		return nil, errNilArgs(typ)
	}
	if d, ok := any(args).(dependent); ok {
		opts = append(opts, pulumi.DependsOn(d.dependencies()))
	}
	comp := PC(new(C))
	if err := ctx.RegisterComponentResource(typ, name, comp, opts...); err != nil {
		return nil, err
	}
	return comp, nil
}

// dependent args name resources that the component (and, explicitly, its
// children) must wait for.
type dependent interface {
	dependencies() []pulumi.Resource
}

// withOutputs is every constructor's last step: it records the
// component's outputs and returns the component.
func withOutputs[PC pulumi.ComponentResource](ctx *pulumi.Context, comp PC, outputs pulumi.Map) (PC, error) {
	if err := ctx.RegisterResourceOutputs(comp, outputs); err != nil {
		var none PC
		return none, err
	}
	return comp, nil
}
