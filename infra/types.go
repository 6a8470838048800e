package infra

import "fmt"

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
