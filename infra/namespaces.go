package infra

import (
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Namespace names used by the lab.
const (
	// NamespaceDefault is Kubernetes' own namespace. It is referenced by
	// name only and never declared: a Pulumi-owned `default` would be
	// "created" over the existing one and deleted on `pulumi destroy`,
	// which the API server refuses (and which would break the cluster).
	NamespaceDefault    = "default"
	NamespaceProduction = "production"
	NamespaceTest       = "test"
	// NamespaceK8sLab5 is the lab's test namespace for cross-namespace
	// service discovery (test-only: in the lab's cleanup list).
	NamespaceK8sLab5 = "k8s-lab5"
)

// Pod Security Admission
// (https://kubernetes.io/docs/concepts/security/pod-security-admission/):
// each owned namespace enforces, audits and warns at one Pod Security
// Standard level, pinned to the v1.34 rules so that a cluster upgrade never
// tightens them behind the program's back (raise the version after checking
// the pods against the new rules). The API server rejects any pod of a
// namespace whose enforce level it does not meet, so the level of each
// namespace is the strictest that ALL its workloads meet (checked by
// podsecurity_test.go against the declared pod templates):
//
//   - production: restricted. MinIO, history-server and price-fetcher run
//     as non-root uids, with allowPrivilegeEscalation=false, every
//     capability dropped and the RuntimeDefault seccomp profile, on
//     PVC/emptyDir volumes only.
//   - test: baseline. The official nginx image starts as root and keeps
//     CHOWN, DAC_OVERRIDE, SETGID, SETUID and NET_BIND_SERVICE, all in
//     baseline's allowed set but not allowed by restricted (root, added
//     capabilities); bitnami PostgreSQL alone would meet restricted.
//   - k8s-lab5: baseline. The echoserver runs as the image's root user
//     with NET_BIND_SERVICE.
//   - ingress-nginx: restricted. The controller runs as uid 101 with every
//     capability dropped but NET_BIND_SERVICE (the one restricted allows),
//     the certgen Jobs as 65532. The IngressNginx component owns this
//     namespace and applies the labels.
//
// `default` is not owned, so it is not labelled.
const (
	PodSecurityEnforceLabel        = "pod-security.kubernetes.io/enforce"
	PodSecurityEnforceVersionLabel = "pod-security.kubernetes.io/enforce-version"
	PodSecurityAuditLabel          = "pod-security.kubernetes.io/audit"
	PodSecurityAuditVersionLabel   = "pod-security.kubernetes.io/audit-version"
	PodSecurityWarnLabel           = "pod-security.kubernetes.io/warn"
	PodSecurityWarnVersionLabel    = "pod-security.kubernetes.io/warn-version"

	PodSecurityRestricted = "restricted"
	PodSecurityBaseline   = "baseline"
	// PodSecurityVersion pins the Pod Security Standards' rules to those
	// of Kubernetes v1.34.
	PodSecurityVersion = "v1.34"
)

// PodSecurityLevels is the Pod Security Standard each owned namespace
// enforces.
var PodSecurityLevels = map[string]string{
	NamespaceProduction: PodSecurityRestricted,
	NamespaceTest:       PodSecurityBaseline,
	NamespaceK8sLab5:    PodSecurityBaseline,
	// Labelled by the IngressNginx component, which owns the namespace.
	IngressNginxNamespace: PodSecurityRestricted,
	// Labelled by the Traefik component (ingressController=traefik): uid
	// 65532, every capability dropped, read-only root file system.
	TraefikNamespace: PodSecurityRestricted,
}

// podSecurityLabels are the enforce/audit/warn labels (and their versions)
// at one level.
func podSecurityLabels(level string) map[string]string {
	return map[string]string{
		PodSecurityEnforceLabel:        level,
		PodSecurityEnforceVersionLabel: PodSecurityVersion,
		PodSecurityAuditLabel:          level,
		PodSecurityAuditVersionLabel:   PodSecurityVersion,
		PodSecurityWarnLabel:           level,
		PodSecurityWarnVersionLabel:    PodSecurityVersion,
	}
}

// NamespacesArgs configures the Namespaces component.
type NamespacesArgs struct {
	// LabTestResources creates k8s-lab5.
	LabTestResources bool
}

// Namespaces owns the lab's namespaces: production, test and (test-only)
// k8s-lab5. `default` is not owned; ingress-nginx belongs to IngressNginx.
type Namespaces struct {
	pulumi.ResourceState

	// Production is "production", resolved once the Namespace exists:
	// objects using it as metadata.namespace are created after it.
	Production pulumi.StringOutput `pulumi:"production"`
	// ProductionUID is the production Namespace's uid: MinIO's volume
	// claims name it as their owner (see ownedByNamespace).
	ProductionUID pulumi.StringOutput
	// Test is "test", likewise.
	Test pulumi.StringOutput `pulumi:"test"`
	// K8sLab5 is "k8s-lab5"; only set when LabTestResources.
	K8sLab5 pulumi.StringOutput `pulumi:"k8sLab5"`
	// Default is the literal "default" (never a created resource).
	Default pulumi.StringOutput `pulumi:"default"`
	// Names lists the namespaces this component created.
	Names pulumi.StringArrayOutput `pulumi:"names"`

	// created pairs each created namespace's name output (Production,
	// Test, K8sLab5) with its Namespace, for namespaceDeletion.
	created map[*corev1.Namespace]pulumi.StringOutput
}

// NewNamespaces creates the lab's namespaces.
func NewNamespaces(ctx *pulumi.Context, name string, args *NamespacesArgs, opts ...pulumi.ResourceOption) (*Namespaces, error) {
	if args == nil {
		args = &NamespacesArgs{}
	}
	comp := &Namespaces{created: map[*corev1.Namespace]pulumi.StringOutput{}}
	if err := ctx.RegisterComponentResource(TypeNamespaces, name, comp, opts...); err != nil {
		return nil, err
	}

	// create returns the namespace's name and uid outputs.
	create := func(ns string) (pulumi.StringOutput, pulumi.StringOutput, error) {
		var extra map[string]string
		if level, ok := PodSecurityLevels[ns]; ok {
			extra = podSecurityLabels(level)
		}
		res, err := corev1.NewNamespace(ctx, ns, &corev1.NamespaceArgs{
			Metadata: clusterObjectMeta(ns, commonLabels(extra)),
		}, pulumi.Parent(comp))
		if err != nil {
			return pulumi.StringOutput{}, pulumi.StringOutput{}, err
		}
		name := nameOf(res.Metadata)
		comp.created[res] = name
		return name, res.Metadata.Uid().Elem(), nil
	}

	var err error
	names := pulumi.StringArray{}
	if comp.Production, comp.ProductionUID, err = create(NamespaceProduction); err != nil {
		return nil, err
	}
	names = append(names, comp.Production)
	if comp.Test, _, err = create(NamespaceTest); err != nil {
		return nil, err
	}
	names = append(names, comp.Test)
	if args.LabTestResources {
		if comp.K8sLab5, _, err = create(NamespaceK8sLab5); err != nil {
			return nil, err
		}
		names = append(names, comp.K8sLab5)
	}
	comp.Default = pulumi.String(NamespaceDefault).ToStringOutput()
	comp.Names = names.ToStringArrayOutput()

	outputs := pulumi.Map{
		"production": comp.Production,
		"test":       comp.Test,
		"names":      comp.Names,
	}
	if args.LabTestResources {
		outputs["k8sLab5"] = comp.K8sLab5
	}
	if err := ctx.RegisterResourceOutputs(comp, outputs); err != nil {
		return nil, err
	}
	return comp, nil
}
