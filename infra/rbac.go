package infra

import (
	rbacv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/rbac/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// serviceAccountGrant is what a ServiceAccount may do: Rules in its
// namespace (a Role and its RoleBinding) and ClusterRules cluster-wide (a
// ClusterRole and its ClusterRoleBinding), all named Name; no rules, no such
// role. Every RBAC object of the stack is made here.
//
// A binding names its role and account (and the account's namespace) by
// their names, not by the other resources' outputs: Kubernetes resolves a
// binding's references when it authorizes a request, so a binding needs
// none of them to exist first. pulumi destroy deletes one dependency level
// at a time, so each needless dependency is a level of deletes waited for:
// a ClusterRoleBinding, which no namespace deletion removes, stands at the
// namespaces' own level, and the workloads that use a grant (which wait for
// all of it) stand with every other workload.
type serviceAccountGrant struct {
	URN, Name string
	// Namespace is where the account, its Role and RoleBinding are (the
	// Namespace's name output); AccountNamespace is that name as the
	// bindings' subject names it.
	Namespace        pulumi.StringInput
	AccountNamespace string
	// ServiceAccount is the account's name.
	ServiceAccount string
	// Labels are the namespaced objects' labels, ClusterLabels the
	// cluster-scoped ones'.
	Labels, ClusterLabels pulumi.StringMap
	Rules, ClusterRules   rbacv1.PolicyRuleArray
}

// create makes the roles and binds them; it returns the roles and the
// bindings, all of which the account's pods must wait for.
func (g serviceAccountGrant) create(ctx *pulumi.Context, parent pulumi.ResourceOption) ([]pulumi.Resource, error) {
	subjects := rbacv1.SubjectArray{rbacv1.SubjectArgs{
		Kind:      pulumi.String("ServiceAccount"),
		Name:      pulumi.String(g.ServiceAccount),
		Namespace: pulumi.String(g.AccountNamespace),
	}}
	var grants []pulumi.Resource
	if len(g.Rules) > 0 {
		role, err := rbacv1.NewRole(ctx, g.URN, &rbacv1.RoleArgs{
			Metadata: objectMeta(g.Name, g.Namespace, g.Labels),
			Rules:    g.Rules,
		}, parent)
		if err != nil {
			return nil, err
		}
		binding, err := rbacv1.NewRoleBinding(ctx, g.URN, &rbacv1.RoleBindingArgs{
			Metadata: objectMeta(g.Name, g.Namespace, g.Labels),
			RoleRef:  roleRef("Role", g.Name),
			Subjects: subjects,
		}, parent)
		if err != nil {
			return nil, err
		}
		grants = append(grants, role, binding)
	}
	if len(g.ClusterRules) > 0 {
		role, err := rbacv1.NewClusterRole(ctx, g.URN, &rbacv1.ClusterRoleArgs{
			Metadata: clusterObjectMeta(g.Name, g.ClusterLabels),
			Rules:    g.ClusterRules,
		}, parent)
		if err != nil {
			return nil, err
		}
		binding, err := rbacv1.NewClusterRoleBinding(ctx, g.URN, &rbacv1.ClusterRoleBindingArgs{
			Metadata: clusterObjectMeta(g.Name, g.ClusterLabels),
			RoleRef:  roleRef("ClusterRole", g.Name),
			Subjects: subjects,
		}, parent)
		if err != nil {
			return nil, err
		}
		grants = append(grants, role, binding)
	}
	return grants, nil
}

// roleRef is a binding's reference to a Role or ClusterRole (kind).
func roleRef(kind, name string) rbacv1.RoleRefArgs {
	return rbacv1.RoleRefArgs{
		ApiGroup: pulumi.String("rbac.authorization.k8s.io"),
		Kind:     pulumi.String(kind),
		Name:     pulumi.String(name),
	}
}

// policyRule is one rule: verbs on resources of the API groups, limited to
// resourceNames when given.
func policyRule(groups, resources, verbs []string, resourceNames ...string) rbacv1.PolicyRuleInput {
	r := rbacv1.PolicyRuleArgs{
		ApiGroups: pulumi.ToStringArray(groups),
		Resources: pulumi.ToStringArray(resources),
		Verbs:     pulumi.ToStringArray(verbs),
	}
	if len(resourceNames) > 0 {
		r.ResourceNames = pulumi.ToStringArray(resourceNames)
	}
	return r
}

// API groups and verbs the rules name.
var (
	core      = []string{""}
	netK8s    = []string{"networking.k8s.io"}
	coordK8s  = []string{"coordination.k8s.io"}
	discovery = []string{"discovery.k8s.io"}
	getListW  = []string{"get", "list", "watch"}
)
