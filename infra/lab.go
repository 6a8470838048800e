package infra

import (
	"fmt"
	"reflect"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Lab is the whole lab 5 deployment.
type Lab struct {
	pulumi.ResourceState

	Namespaces      *Namespaces
	IngressNginx    *IngressNginx // nil unless ingressController=ingress-nginx
	Traefik         *Traefik      // nil unless ingressController=traefik
	Minio           *Minio
	HistoryServer   *HistoryServer
	PriceFetcher    *PriceFetcher
	Echoserver      *Echoserver // in default
	EchoserverLab5  *Echoserver // in k8s-lab5; nil unless LabTestResources
	NginxTest       *Nginx
	NginxDefault    *Nginx    // nil unless LabTestResources
	Postgres        *Postgres // nil unless LabTestResources
	NetworkPolicies *NetworkPolicies
	Ingress         *EchoserverIngress // nil with ingressRoute=gateway
	Gateway         *EchoserverGateway // nil unless ingressRoute=gateway

	// HistoryServerImage and PriceFetcherImage are the apps' images built
	// from apps/; nil when a prebuilt image is pinned by config.
	HistoryServerImage *GoImage
	PriceFetcherImage  *GoImage

	// HistoryServerURL is http://history-server.production.svc.cluster.local:80.
	HistoryServerURL pulumi.StringOutput `export:"historyServerUrl"`
	// MinioURL is http://minio.production.svc.cluster.local:9000.
	MinioURL pulumi.StringOutput `export:"minioUrl"`
	// EchoserverNodePortURL is http://<publicNodeIP>:30001; only set when
	// LabTestResources.
	EchoserverNodePortURL pulumi.StringOutput `export:"echoserverNodePortUrl"`
	// IngressURL is http://echoserver.<publicNodeIP>.nip.io:<http nodePort>.
	IngressURL pulumi.StringOutput `export:"ingressUrl"`
	// IngressHTTPNodePort is the ingress controller's http node port.
	IngressHTTPNodePort pulumi.IntOutput `export:"ingressHttpNodePort"`
	// NamespaceNames lists the namespaces the stack owns.
	NamespaceNames pulumi.StringArrayOutput `export:"namespaces"`
}

// Outputs returns the stack outputs: every field of Lab tagged
// `export:"<name>"` that is set, under that name. The fields above are their
// one source; main.go exports exactly these. (Not `pulumi:` tags: the SDK
// would make an output of its own for each such field of a component.)
func (l *Lab) Outputs() pulumi.Map {
	out := pulumi.Map{}
	v := reflect.ValueOf(l).Elem()
	for i := range v.NumField() {
		name := v.Type().Field(i).Tag.Get("export")
		if name == "" || v.Field(i).IsZero() {
			continue
		}
		if o, ok := v.Field(i).Interface().(pulumi.Output); ok {
			out[name] = o
		}
	}
	return out
}

// NewLab creates every component of the lab, in dependency order.
func NewLab(ctx *pulumi.Context, name string, cfg *Config, opts ...pulumi.ResourceOption) (*Lab, error) {
	if cfg == nil {
		return nil, fmt.Errorf("%s: a Config is required (infra.LoadConfig reads it)", TypeLab)
	}
	lab := &Lab{}
	// Objects of the stack's own namespaces are deleted with their
	// namespace (deletion.go); this transformation comes after the
	// caller's.
	deletion := newNamespaceDeletion()
	if err := ctx.RegisterComponentResource(TypeLab, name, lab, append(slices.Clip(opts), deletion.option())...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(lab)
	var err error

	if lab.Namespaces, err = NewNamespaces(ctx, "namespaces", &NamespacesArgs{
		LabTestResources: cfg.LabTestResources,
	}, parent); err != nil {
		return nil, err
	}
	ns := lab.Namespaces
	for namespace, name := range ns.created {
		deletion.addNamespace(name, namespace)
	}
	deletion.notOwned(ns.Default)

	// Exactly one ingress controller (ingress.go, traefik.go).
	ingressCtl, err := lab.newIngressController(ctx, cfg, parent)
	if err != nil {
		return nil, err
	}

	// production: MinIO, history-server, price-fetcher.
	if lab.Minio, err = NewMinio(ctx, "minio", &MinioArgs{
		Namespace:    ns.Production,
		NamespaceUID: ns.ProductionUID,
		Image:        cfg.MinioImage,
		RootUser:     cfg.MinioRootUser,
		RootPassword: cfg.MinioRootPassword,
		StorageSize:  cfg.MinioStorageSize,
		StorageClass: cfg.MinioStorageClass,
		Replicas:     cfg.MinioReplicas,
	}, parent); err != nil {
		return nil, err
	}
	// The apps' images: built from apps/ and deployed by digest, unless
	// pinned by config. A changed digest rolls exactly the workload using it.
	hsImage, hsBuilt, err := appImage(ctx, cfg, HistoryServerName, cfg.HistoryServerImage, parent)
	if err != nil {
		return nil, err
	}
	pfImage, pfBuilt, err := appImage(ctx, cfg, PriceFetcherName, cfg.PriceFetcherImage, parent)
	if err != nil {
		return nil, err
	}
	lab.HistoryServerImage, lab.PriceFetcherImage = hsBuilt, pfBuilt

	if lab.HistoryServer, err = NewHistoryServer(ctx, "history-server", &HistoryServerArgs{
		Namespace:       ns.Production,
		Image:           hsImage,
		Replicas:        cfg.HistoryServerReplicas,
		MinioEndpoint:   lab.Minio.Endpoint,
		MinioSecretName: lab.Minio.SecretName,
		Autoscaling:     cfg.historyServerAutoscaling(),
	}, parent); err != nil {
		return nil, err
	}
	if lab.PriceFetcher, err = NewPriceFetcher(ctx, "price-fetcher", &PriceFetcherArgs{
		Namespace:        ns.Production,
		Image:            pfImage,
		Schedule:         cfg.PriceFetcherSchedule,
		TimeZone:         cfg.PriceFetcherTimeZone,
		HistoryServerURI: lab.HistoryServer.URL,
	}, parent); err != nil {
		return nil, err
	}

	// echoserver in default (kept) and in k8s-lab5 (test-only).
	echoNodePort := 0
	if cfg.LabTestResources {
		echoNodePort = EchoserverNodePort
	}
	if lab.Echoserver, err = NewEchoserver(ctx, logicalName(NamespaceDefault, EchoserverName), &EchoserverArgs{
		Namespace:     ns.Default,
		NamespaceName: NamespaceDefault,
		Image:         cfg.EchoserverImage,
		NodePort:      echoNodePort,
	}, parent); err != nil {
		return nil, err
	}
	if cfg.LabTestResources {
		if lab.EchoserverLab5, err = NewEchoserver(ctx, logicalName(NamespaceK8sLab5, EchoserverName), &EchoserverArgs{
			Namespace:     ns.K8sLab5,
			NamespaceName: NamespaceK8sLab5,
			Image:         cfg.EchoserverImage,
		}, parent); err != nil {
			return nil, err
		}
	}

	// nginx clients: test (kept, it shows the policy blocking) and default
	// (test-only).
	if lab.NginxTest, err = NewNginx(ctx, logicalName(NamespaceTest, NginxName), &NginxArgs{
		Namespace: ns.Test, NamespaceName: NamespaceTest, Image: cfg.NginxImage,
	}, parent); err != nil {
		return nil, err
	}
	if cfg.LabTestResources {
		if lab.NginxDefault, err = NewNginx(ctx, logicalName(NamespaceDefault, NginxName), &NginxArgs{
			Namespace: ns.Default, NamespaceName: NamespaceDefault, Image: cfg.NginxImage,
		}, parent); err != nil {
			return nil, err
		}
		if lab.Postgres, err = NewPostgres(ctx, "postgresql-hl", &PostgresArgs{
			Namespace: ns.Test, Image: cfg.PostgresImage,
		}, parent); err != nil {
			return nil, err
		}
	}

	if lab.NetworkPolicies, err = NewNetworkPolicies(ctx, "network-policies", &NetworkPoliciesArgs{
		DefaultNamespace:      ns.Default,
		ProductionNamespace:   ns.Production,
		LabTestResources:      cfg.LabTestResources,
		ProductionLockdown:    cfg.ProductionLockdown,
		InternetEgressExcept:  cfg.InternetEgressExcept,
		MinioPeers:            cfg.MinioReplicas > 1,
		IngressController:     ingressCtl.NamespaceName,
		IngressControllerPods: ingressCtl.PodLabels,
	}, parent); err != nil {
		return nil, err
	}

	// The route (the Ingress, or the Gateway API objects) comes last:
	// after the controller (and its admission webhook, when deployed) and
	// after its backend Service.
	routeHost, err := lab.newEchoserverRoute(ctx, cfg, ingressCtl, parent)
	if err != nil {
		return nil, err
	}

	lab.HistoryServerURL = lab.HistoryServer.URL
	lab.MinioURL = lab.Minio.URL
	lab.IngressHTTPNodePort = ingressCtl.HTTPNodePort
	lab.IngressURL = pulumi.Sprintf("http://%s:%d", routeHost, lab.IngressHTTPNodePort)
	lab.NamespaceNames = pulumi.All(ns.Names, ingressCtl.Namespace).ApplyT(func(v []any) []string {
		return append(append([]string{}, v[0].([]string)...), v[1].(string))
	}).(pulumi.StringArrayOutput)

	if cfg.LabTestResources {
		lab.EchoserverNodePortURL = pulumi.Sprintf("http://%s:%d", cfg.PublicNodeIP, lab.Echoserver.NodePort)
	}

	if err := ctx.RegisterResourceOutputs(lab, lab.Outputs()); err != nil {
		return nil, err
	}
	return lab, nil
}
