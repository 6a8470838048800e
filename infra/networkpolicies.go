package infra

import (
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// The lab's two policies (names, selectors, peers and ports exactly as the
// lab writes them) and, with productionLockdown, a default-deny production
// namespace with one allow policy per arrow of the lab's data flow.
//
// NetworkPolicy ports are the ports of the selected POD (the container
// port), never a Service port: a Service's port is translated to its
// targetPort before any policy sees the packet. price-fetcher calls
// http://history-server.production.svc.cluster.local:80, whose Service
// port 80 targets the named container port "http" = 8080, so the policies
// admit TCP 8080 (HistoryServerPort), not 80. MinIO's Service maps 9000 to
// 9000, echoserver's 80 to 80.
//
// Not subject to any NetworkPolicy (by Kubernetes' definition): traffic
// between a pod and the node it runs on (kubelet probes, `curl <pod IP>`
// from that node) and `kubectl port-forward` / `kubectl exec`, which go
// through the kubelet. netpol_table_test.go evaluates every policy below
// with a NetworkPolicy engine and asserts the resulting truth table.
const (
	EchoserverNetworkPolicyName = "echoserver-network-policy"
	MinioNetworkPolicyName      = "minio-network-policy"

	// EchoserverAllowIngressControllerName admits the ingress
	// controller (ingress-nginx's or Traefik's pods) to the echoserver pods
	// of default. It exists exactly
	// when echoserver-network-policy does: that policy isolates the
	// echoserver pods for ingress, and without this one the lab's own
	// echoserver-ingress would time out.
	EchoserverAllowIngressControllerName = "echoserver-allow-ingress-controller"

	// Production lockdown (productionLockdown=true).
	DefaultDenyAllName             = "default-deny-all"
	AllowDNSEgressName             = "allow-dns-egress"
	HistoryServerNetworkPolicyName = "history-server-network-policy"
	PriceFetcherNetworkPolicyName  = "price-fetcher-network-policy"
	// MinioPeerEgressName lets distributed MinIO's pods reach each other
	// (minioReplicas >= 4 with the lockdown).
	MinioPeerEgressName = "minio-peer-egress"

	// HistoryServerClientLabel marks pods, in any namespace, that may call
	// the history-server API directly (users' and graders' curl pods):
	//   kubectl run curl -n default --rm -it --restart=Never \
	//     --labels=lab5.io/history-server-client=true --image=curlimages/curl -- \
	//     curl -s 'http://history-server.production.svc.cluster.local/api/prices/?day=2024-09-29'
	// A client in production itself also needs egress, which only
	// price-fetcher has: run such pods outside production. Also open
	// without the label: `kubectl port-forward -n production
	// svc/history-server 8080:80` (through the kubelet) and curl from the
	// node a history-server pod runs on. Curl from another node reaches
	// the pod as that node's address, which CNIs such as Cilium do filter:
	// the lab's `curl <Service IP>:80` from the control plane works only
	// where a history-server pod runs there.
	HistoryServerClientLabel = "lab5.io/history-server-client"

	kubeSystemNamespace = "kube-system"
	// dnsPort is DNS on UDP and TCP (TCP for truncated answers).
	dnsPort = 53
	// httpsPort is the only port price-fetcher may use on the internet
	// (the Elering API).
	httpsPort = 443
	// labelNamespaceName is set by the API server on every namespace.
	labelNamespaceName = "kubernetes.io/metadata.name"
)

// kubeDNSLabels select the cluster DNS pods (CoreDNS keeps kube-dns's
// k8s-app label for compatibility).
var kubeDNSLabels = map[string]string{"k8s-app": "kube-dns"}

// NetworkPoliciesArgs configures the lab's NetworkPolicies.
type NetworkPoliciesArgs struct {
	// DefaultNamespace is "default" (echoserver-network-policy).
	DefaultNamespace pulumi.StringInput
	// ProductionNamespace is "production" (minio-network-policy).
	ProductionNamespace pulumi.StringInput
	// LabTestResources creates echoserver-network-policy (test-only: in
	// the lab's cleanup list) and, with it,
	// echoserver-allow-ingress-controller.
	LabTestResources bool
	// ProductionLockdown creates default-deny-all and the allow policies
	// in production.
	ProductionLockdown bool
	// InternetEgressExcept are the CIDRs excepted from price-fetcher's
	// 0.0.0.0/0 HTTPS egress (cluster and private ranges).
	InternetEgressExcept []string
	// MinioPeers admits MinIO pod-to-pod traffic on the API port
	// (distributed MinIO): in minio-network-policy and, with the
	// lockdown, in minio-peer-egress.
	MinioPeers bool
	// IngressController and IngressControllerPods are the namespace and
	// pod labels of the ingress controller that
	// echoserver-allow-ingress-controller admits (ingress-nginx's
	// controller pods when empty).
	IngressController     string
	IngressControllerPods map[string]string
}

// NetworkPolicies holds the lab's NetworkPolicies.
type NetworkPolicies struct {
	pulumi.ResourceState

	// Names lists the created policies as namespace/name.
	Names pulumi.StringArrayOutput `pulumi:"names"`
}

func tcpPort(port int) networkingv1.NetworkPolicyPortArray {
	return networkingv1.NetworkPolicyPortArray{networkingv1.NetworkPolicyPortArgs{
		Protocol: pulumi.String("TCP"),
		Port:     pulumi.Int(port),
	}}
}

// namespacePods is a peer selecting the pods with those labels in the named
// namespace (ONE peer with both selectors: they are AND-ed).
func namespacePods(namespace string, podLabels pulumi.StringMap) networkingv1.NetworkPolicyPeerArgs {
	return networkingv1.NetworkPolicyPeerArgs{
		NamespaceSelector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{
			labelNamespaceName: pulumi.String(namespace),
		}},
		PodSelector: &metav1.LabelSelectorArgs{MatchLabels: podLabels},
	}
}

// samePods is a peer selecting pods of the policy's own namespace.
func samePods(app appLabels) networkingv1.NetworkPolicyPeerArgs {
	return networkingv1.NetworkPolicyPeerArgs{PodSelector: app.podSelector()}
}

// egressToPods is an egress rule to the app's pods of the policy's own
// namespace on a TCP port.
func egressToPods(app appLabels, port int) networkingv1.NetworkPolicyEgressRuleArgs {
	return networkingv1.NetworkPolicyEgressRuleArgs{
		To:    networkingv1.NetworkPolicyPeerArray{samePods(app)},
		Ports: tcpPort(port),
	}
}

// policyMaker creates the component's NetworkPolicies and lists them as
// namespace/name.
type policyMaker struct {
	ctx    *pulumi.Context
	parent pulumi.ResourceOption
	names  pulumi.StringArray
}

// create makes policy name in namespace (namespaceName: the same, as a
// plain string for the logical name).
func (m *policyMaker) create(namespaceName string, namespace pulumi.StringInput, name string,
	spec *networkingv1.NetworkPolicySpecArgs, opts ...pulumi.ResourceOption,
) (*networkingv1.NetworkPolicy, error) {
	np, err := networkingv1.NewNetworkPolicy(m.ctx, logicalName(namespaceName, name), &networkingv1.NetworkPolicyArgs{
		Metadata: objectMeta(name, namespace, commonLabels(nil)),
		Spec:     spec,
	}, append([]pulumi.ResourceOption{m.parent}, opts...)...)
	if err != nil {
		return nil, err
	}
	m.names = append(m.names, pulumi.Sprintf("%s/%s", np.Metadata.Namespace().Elem(), nameOf(np.Metadata)))
	return np, nil
}

// NewNetworkPolicies creates the policies.
func NewNetworkPolicies(ctx *pulumi.Context, name string, args *NetworkPoliciesArgs, opts ...pulumi.ResourceOption) (*NetworkPolicies, error) {
	comp, err := newComponent[NetworkPolicies](ctx, TypeNetworkPolicies, name, args, opts)
	if err != nil {
		return nil, err
	}
	policies := &policyMaker{ctx: ctx, parent: pulumi.Parent(comp)}

	if args.LabTestResources {
		// echoserverFrom admits peers to the echoserver pods of default on
		// TCP 80, in one rule.
		echoserverFrom := func(name string, peers ...networkingv1.NetworkPolicyPeerInput) error {
			_, err := policies.create(NamespaceDefault, args.DefaultNamespace, name, &networkingv1.NetworkPolicySpecArgs{
				PodSelector: echoserverLabels(NamespaceDefault).podSelector(),
				PolicyTypes: pulumi.StringArray{pulumi.String("Ingress")},
				Ingress: networkingv1.NetworkPolicyIngressRuleArray{networkingv1.NetworkPolicyIngressRuleArgs{
					From:  networkingv1.NetworkPolicyPeerArray(peers),
					Ports: tcpPort(EchoserverPort),
				}},
			})
			return err
		}
		// Exactly the lab's policy: echoserver pods in default accept TCP
		// 80 from ONE rule with TWO peers (OR-ed): any pod in namespace
		// k8s-lab5, or pods labelled name=nginx in default itself.
		if err := echoserverFrom(EchoserverNetworkPolicyName,
			networkingv1.NetworkPolicyPeerArgs{
				NamespaceSelector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{
					"kubernetes.io/metadata.name": pulumi.String(NamespaceK8sLab5),
				}},
			},
			samePods(nginxLabels(NamespaceDefault)),
		); err != nil {
			return nil, err
		}

		// The lab's policy isolates the echoserver pods, so the ingress
		// controller's pods (ingress-nginx's in namespace ingress-nginx,
		// or Traefik's in traefik) must be admitted too, or the route
		// to echoserver stops working. A separate policy keeps the lab's
		// exactly as written (policies are additive).
		ctlNS, ctlPods := args.IngressController, pulumi.ToStringMap(args.IngressControllerPods)
		if ctlNS == "" {
			ctlNS, ctlPods = IngressNginxNamespace, ingressNginxSelector()
		}
		if err := echoserverFrom(EchoserverAllowIngressControllerName, namespacePods(ctlNS, ctlPods)); err != nil {
			return nil, err
		}
	}

	// MinIO accepts connections only from the history-server pods of its
	// own namespace (no namespaceSelector: same namespace), on the API
	// port. Distributed MinIO's servers also call each other there (the
	// same port carries the S3 API and MinIO's internode traffic): a
	// second rule, so the lab's rule stays exactly as written.
	minioIngress := networkingv1.NetworkPolicyIngressRuleArray{networkingv1.NetworkPolicyIngressRuleArgs{
		From: networkingv1.NetworkPolicyPeerArray{
			samePods(historyServerLabels),
		},
		Ports: tcpPort(MinioAPIPort),
	}}
	if args.MinioPeers {
		minioIngress = append(minioIngress, networkingv1.NetworkPolicyIngressRuleArgs{
			From:  networkingv1.NetworkPolicyPeerArray{samePods(minioLabels)},
			Ports: tcpPort(MinioAPIPort),
		})
	}
	if _, err := policies.create(NamespaceProduction, args.ProductionNamespace, MinioNetworkPolicyName, &networkingv1.NetworkPolicySpecArgs{
		PodSelector: minioLabels.podSelector(),
		PolicyTypes: pulumi.StringArray{pulumi.String("Ingress")},
		Ingress:     minioIngress,
	}); err != nil {
		return nil, err
	}

	if args.ProductionLockdown {
		if err := newProductionLockdown(policies, args); err != nil {
			return nil, err
		}
	}

	comp.Names = policies.names.ToStringArrayOutput()
	return withOutputs(ctx, comp, pulumi.Map{"names": comp.Names})
}

// newProductionLockdown creates production's default-deny policy and the
// allow policies of the lab's data flow:
//
//	price-fetcher  -> history-server pods, TCP 8080 (Service port 80)
//	price-fetcher  -> internet (0.0.0.0/0 except InternetEgressExcept), TCP 443
//	history-server -> MinIO pods, TCP 9000 (ingress side: minio-network-policy)
//	MinIO pod      -> MinIO pods, TCP 9000 (distributed MinIO only)
//	every pod      -> kube-system DNS pods, UDP+TCP 53
//	clients        -> history-server pods, TCP 8080 (HistoryServerClientLabel)
//
// A connection between two production pods needs both the source's egress
// and the destination's ingress allowed: each workload's policy states both
// of its sides. Anything else in or out of production is denied (MinIO's
// console port 9001 included), except what Kubernetes never filters (node
// to local pod, kubectl port-forward/exec).
func newProductionLockdown(policies *policyMaker, args *NetworkPoliciesArgs) error {
	// allows are the policies created so far: the deny-all policy waits
	// for them.
	var allows []pulumi.Resource
	create := func(name string, spec *networkingv1.NetworkPolicySpecArgs, opts ...pulumi.ResourceOption) error {
		np, err := policies.create(NamespaceProduction, args.ProductionNamespace, name, spec, opts...)
		if err != nil {
			return err
		}
		allows = append(allows, np)
		return nil
	}
	ingressEgress := pulumi.StringArray{pulumi.String("Ingress"), pulumi.String("Egress")}

	// DNS for every production pod: ONE peer, kube-system's kube-dns pods
	// (namespace AND pod selector), UDP and TCP 53. Policies see the
	// packet after the kube-dns Service IP is translated to a pod IP.
	err := create(AllowDNSEgressName, &networkingv1.NetworkPolicySpecArgs{
		PodSelector: metav1.LabelSelectorArgs{},
		PolicyTypes: pulumi.StringArray{pulumi.String("Egress")},
		Egress: networkingv1.NetworkPolicyEgressRuleArray{networkingv1.NetworkPolicyEgressRuleArgs{
			To: networkingv1.NetworkPolicyPeerArray{namespacePods(kubeSystemNamespace, pulumi.ToStringMap(kubeDNSLabels))},
			Ports: networkingv1.NetworkPolicyPortArray{
				networkingv1.NetworkPolicyPortArgs{Protocol: pulumi.String("UDP"), Port: pulumi.Int(dnsPort)},
				networkingv1.NetworkPolicyPortArgs{Protocol: pulumi.String("TCP"), Port: pulumi.Int(dnsPort)},
			},
		}},
	})
	if err != nil {
		return err
	}

	// history-server: called by price-fetcher (POST) and by labelled
	// client pods of any namespace (users' GETs); calls MinIO.
	err = create(HistoryServerNetworkPolicyName, &networkingv1.NetworkPolicySpecArgs{
		PodSelector: historyServerLabels.podSelector(),
		PolicyTypes: ingressEgress,
		Ingress: networkingv1.NetworkPolicyIngressRuleArray{networkingv1.NetworkPolicyIngressRuleArgs{
			From: networkingv1.NetworkPolicyPeerArray{
				samePods(priceFetcherLabels),
				networkingv1.NetworkPolicyPeerArgs{
					NamespaceSelector: &metav1.LabelSelectorArgs{},
					PodSelector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{
						HistoryServerClientLabel: pulumi.String("true"),
					}},
				},
			},
			// The container port behind Service port 80.
			Ports: tcpPort(HistoryServerPort),
		}},
		Egress: networkingv1.NetworkPolicyEgressRuleArray{egressToPods(minioLabels, MinioAPIPort)},
	})
	if err != nil {
		return err
	}

	// price-fetcher: calls history-server and the Elering API over HTTPS.
	// It has no ingress rules: nothing calls a CronJob's pods.
	except := pulumi.ToStringArray(args.InternetEgressExcept)
	err = create(PriceFetcherNetworkPolicyName, &networkingv1.NetworkPolicySpecArgs{
		PodSelector: priceFetcherLabels.podSelector(),
		PolicyTypes: ingressEgress,
		Egress: networkingv1.NetworkPolicyEgressRuleArray{
			egressToPods(historyServerLabels, HistoryServerPort),
			networkingv1.NetworkPolicyEgressRuleArgs{
				To: networkingv1.NetworkPolicyPeerArray{networkingv1.NetworkPolicyPeerArgs{
					IpBlock: &networkingv1.IPBlockArgs{Cidr: pulumi.String("0.0.0.0/0"), Except: except},
				}},
				Ports: tcpPort(httpsPort),
			},
		},
	})
	if err != nil {
		return err
	}

	// Distributed MinIO: each server calls the others on the API port
	// (their ingress side is minio-network-policy). MinIO needs nothing
	// else but DNS, which allow-dns-egress gives every pod.
	if args.MinioPeers {
		err := create(MinioPeerEgressName, &networkingv1.NetworkPolicySpecArgs{
			PodSelector: minioLabels.podSelector(),
			PolicyTypes: pulumi.StringArray{pulumi.String("Egress")},
			Egress:      networkingv1.NetworkPolicyEgressRuleArray{egressToPods(minioLabels, MinioAPIPort)},
		})
		if err != nil {
			return err
		}
	}

	// Everything else: every production pod isolated in both directions.
	// Created after the allow policies (and so deleted before them), so
	// that switching the lockdown on or off never cuts the data flow.
	if err := create(DefaultDenyAllName, &networkingv1.NetworkPolicySpecArgs{
		PodSelector: metav1.LabelSelectorArgs{},
		PolicyTypes: ingressEgress,
	}, pulumi.DependsOn(allows)); err != nil {
		return err
	}
	return nil
}
