package infra

import (
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const (
	EchoserverNetworkPolicyName = "echoserver-network-policy"
	MinioNetworkPolicyName      = "minio-network-policy"
)

// NetworkPoliciesArgs configures the lab's NetworkPolicies.
type NetworkPoliciesArgs struct {
	// DefaultNamespace is "default" (echoserver-network-policy).
	DefaultNamespace pulumi.StringInput
	// ProductionNamespace is "production" (minio-network-policy).
	ProductionNamespace pulumi.StringInput
	// LabTestResources creates echoserver-network-policy (test-only: in
	// the lab's cleanup list).
	LabTestResources bool
}

// NetworkPolicies holds the lab's two NetworkPolicies.
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

// NewNetworkPolicies creates the policies.
func NewNetworkPolicies(ctx *pulumi.Context, name string, args *NetworkPoliciesArgs, opts ...pulumi.ResourceOption) (*NetworkPolicies, error) {
	comp := &NetworkPolicies{}
	if err := ctx.RegisterComponentResource("lab5:infra:NetworkPolicies", name, comp, opts...); err != nil {
		return nil, err
	}
	names := pulumi.StringArray{}

	if args.LabTestResources {
		// Exactly the lab's policy: echoserver pods in default accept TCP
		// 80 from ONE rule with TWO peers (OR-ed): any pod in namespace
		// k8s-lab5, or pods labelled name=nginx in default itself.
		np, err := networkingv1.NewNetworkPolicy(ctx, urnName(NamespaceDefault, EchoserverNetworkPolicyName), &networkingv1.NetworkPolicyArgs{
			Metadata: objectMeta(EchoserverNetworkPolicyName, args.DefaultNamespace, commonLabels(nil)),
			Spec: &networkingv1.NetworkPolicySpecArgs{
				PodSelector: metav1.LabelSelectorArgs{MatchLabels: stringMap(echoserverLabLabels)},
				PolicyTypes: pulumi.StringArray{pulumi.String("Ingress")},
				Ingress: networkingv1.NetworkPolicyIngressRuleArray{networkingv1.NetworkPolicyIngressRuleArgs{
					From: networkingv1.NetworkPolicyPeerArray{
						networkingv1.NetworkPolicyPeerArgs{
							NamespaceSelector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{
								"kubernetes.io/metadata.name": pulumi.String(NamespaceK8sLab5),
							}},
						},
						networkingv1.NetworkPolicyPeerArgs{
							PodSelector: &metav1.LabelSelectorArgs{MatchLabels: stringMap(nginxLabLabels)},
						},
					},
					Ports: tcpPort(EchoserverPort),
				}},
			},
		}, pulumi.Parent(comp))
		if err != nil {
			return nil, err
		}
		names = append(names, pulumi.Sprintf("%s/%s", np.Metadata.Namespace().Elem(), nameOf(np.Metadata)))
	}

	// MinIO accepts connections only from the history-server pods of its
	// own namespace (no namespaceSelector: same namespace), on the API
	// port.
	np, err := networkingv1.NewNetworkPolicy(ctx, urnName(NamespaceProduction, MinioNetworkPolicyName), &networkingv1.NetworkPolicyArgs{
		Metadata: objectMeta(MinioNetworkPolicyName, args.ProductionNamespace, commonLabels(nil)),
		Spec: &networkingv1.NetworkPolicySpecArgs{
			PodSelector: metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{"app": pulumi.String(MinioName)}},
			PolicyTypes: pulumi.StringArray{pulumi.String("Ingress")},
			Ingress: networkingv1.NetworkPolicyIngressRuleArray{networkingv1.NetworkPolicyIngressRuleArgs{
				From: networkingv1.NetworkPolicyPeerArray{
					networkingv1.NetworkPolicyPeerArgs{
						PodSelector: &metav1.LabelSelectorArgs{MatchLabels: stringMap(historyServerLabLabels)},
					},
				},
				Ports: tcpPort(MinioAPIPort),
			}},
		},
	}, pulumi.Parent(comp))
	if err != nil {
		return nil, err
	}
	names = append(names, pulumi.Sprintf("%s/%s", np.Metadata.Namespace().Elem(), nameOf(np.Metadata)))

	comp.Names = names.ToStringArrayOutput()
	if err := ctx.RegisterResourceOutputs(comp, pulumi.Map{"names": comp.Names}); err != nil {
		return nil, err
	}
	return comp, nil
}
