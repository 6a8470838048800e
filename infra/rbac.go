package infra

import (
	rbacv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/rbac/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// serviceAccountGrant is what a ServiceAccount may do: Rules in its
// namespace (a Role and its RoleBinding) and ClusterRules cluster-wide (a
// ClusterRole and its ClusterRoleBinding), all named Name; no rules, no such
// role. Every RBAC object of the stack is made here.
type serviceAccountGrant struct {
	URN, Name      string
	Namespace      pulumi.StringInput
	ServiceAccount pulumi.StringInput
	// Labels are the namespaced objects' labels, ClusterLabels the
	// cluster-scoped ones'.
	Labels, ClusterLabels pulumi.StringMap
	Rules, ClusterRules   rbacv1.PolicyRuleArray
}

// create makes the roles and binds them; it returns the bindings, which the
// account's pods must wait for.
func (g serviceAccountGrant) create(ctx *pulumi.Context, parent pulumi.ResourceOption) ([]pulumi.Resource, error) {
	subjects := rbacv1.SubjectArray{rbacv1.SubjectArgs{
		Kind:      pulumi.String("ServiceAccount"),
		Name:      g.ServiceAccount,
		Namespace: g.Namespace,
	}}
	var bindings []pulumi.Resource
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
			RoleRef:  roleRef("Role", nameOf(role.Metadata)),
			Subjects: subjects,
		}, parent)
		if err != nil {
			return nil, err
		}
		bindings = append(bindings, binding)
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
			RoleRef:  roleRef("ClusterRole", nameOf(role.Metadata)),
			Subjects: subjects,
		}, parent)
		if err != nil {
			return nil, err
		}
		bindings = append(bindings, binding)
	}
	return bindings, nil
}

// roleRef is a binding's reference to a Role or ClusterRole (kind).
func roleRef(kind string, name pulumi.StringInput) rbacv1.RoleRefArgs {
	return rbacv1.RoleRefArgs{
		ApiGroup: pulumi.String("rbac.authorization.k8s.io"),
		Kind:     pulumi.String(kind),
		Name:     name,
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
