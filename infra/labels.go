package infra

import (
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Kubernetes recommended labels
// (https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/).
const (
	labelName      = "app.kubernetes.io/name"
	labelInstance  = "app.kubernetes.io/instance"
	labelComponent = "app.kubernetes.io/component"
	labelPartOf    = "app.kubernetes.io/part-of"
	labelManagedBy = "app.kubernetes.io/managed-by"

	partOfLab5      = "lab5"
	managedByPulumi = "pulumi"
)

// appLabels describes the labels of one workload.
//
// Lab holds the labels the lab itself prescribes (app=minio, name=nginx,
// app=electricity-calculator + microservice=history-server, ...). They are the
// only labels used in selectors, so that the lab's `kubectl get pods -l ...`
// commands and Service/NetworkPolicy selectors keep working exactly as written
// in the lab. The recommended app.kubernetes.io/* labels are added on top, on
// object and pod template metadata only: selectors are immutable on
// Deployments and StatefulSets, and metadata labels are free to evolve.
type appLabels struct {
	Name      string // app.kubernetes.io/name
	Instance  string // app.kubernetes.io/instance
	Component string // app.kubernetes.io/component
	Lab       map[string]string
}

// all returns the lab's labels merged with the recommended labels. On a key
// clash the lab's label wins (none of the lab's keys is app.kubernetes.io/*).
func (l appLabels) all() pulumi.StringMap {
	return withLabels(commonLabels(map[string]string{
		labelName:      l.Name,
		labelInstance:  l.Instance,
		labelComponent: l.Component,
	}), l.Lab)
}

// selector returns only the lab's labels, for selectors.
func (l appLabels) selector() pulumi.StringMap {
	return pulumi.ToStringMap(l.Lab)
}

// podSelector selects the workload's pods by the lab's labels: the one
// selector of an app, for its Deployment or StatefulSet, its Services,
// PodDisruptionBudget and spread constraints, and the NetworkPolicies that
// name its pods.
func (l appLabels) podSelector() *metav1.LabelSelectorArgs {
	return &metav1.LabelSelectorArgs{MatchLabels: l.selector()}
}

// commonLabels are the labels of objects that are not part of one workload
// (Namespaces, NetworkPolicies, Ingresses): part-of and managed-by plus extra.
func commonLabels(extra map[string]string) pulumi.StringMap {
	return withLabels(pulumi.StringMap{
		labelPartOf:    pulumi.String(partOfLab5),
		labelManagedBy: pulumi.String(managedByPulumi),
	}, extra)
}

// withLabels adds extra to m (extra wins on a clash) and returns m.
func withLabels(m pulumi.StringMap, extra map[string]string) pulumi.StringMap {
	for k, v := range extra {
		m[k] = pulumi.String(v)
	}
	return m
}
