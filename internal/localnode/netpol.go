package localnode

import (
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// KubeRouterUser is the identity of the node's NetworkPolicy engine
// (kube-router with only its firewall controller): the CN of its client
// certificate.
const KubeRouterUser = "lab5:kube-router"

// KubeRouterRBAC lets the NetworkPolicy engine read what its rules derive
// from, and nothing else.
func KubeRouterRBAC() ([]byte, error) {
	meta := metav1.ObjectMeta{Name: KubeRouterUser, Labels: map[string]string{"app.kubernetes.io/part-of": "lab5-local-cluster"}}
	read := []string{"get", "list", "watch"}
	objects := []any{
		&rbacv1.ClusterRole{
			TypeMeta:   typeMeta("rbac.authorization.k8s.io/v1", "ClusterRole"),
			ObjectMeta: meta,
			Rules: []rbacv1.PolicyRule{
				{APIGroups: []string{""}, Resources: []string{"pods", "namespaces", "nodes", "services", "endpoints"}, Verbs: read},
				{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: read},
				{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"networkpolicies"}, Verbs: read},
			},
		},
		&rbacv1.ClusterRoleBinding{
			TypeMeta:   typeMeta("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
			ObjectMeta: meta,
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: KubeRouterUser},
			Subjects:   []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: KubeRouterUser}},
		},
	}
	return manifests(objects)
}
