package main

import (
	"maps"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// skipAwaitAnnotation tells pulumi-kubernetes not to wait for a resource
// to become ready after creating or updating it.
const skipAwaitAnnotation = "pulumi.com/skipAwait"

// serviceType is the type token of a Service.
const serviceType = "kubernetes:core/v1:Service"

// skipServiceAwait is a transformation of the Lab (and so of every
// resource in it) that marks every Service, except LoadBalancer ones,
// with pulumi.com/skipAwait.
//
// Why: pulumi-kubernetes waits on a Service until its Endpoints have not
// changed for 10 s, and the workloads behind the stack's Services wait for
// their Service first (serviceName, env, dependencies), so every Service
// put 10 s on the critical path of `pulumi up`: 23 s against 9 s without
// (measured here, 53 resources). It is correct for this stack because
// each Service's pods come from a Deployment, StatefulSet or Pod of the
// same stack, and those are still awaited until Ready: when up returns,
// the workloads are ready and their endpoints follow. A LoadBalancer
// Service keeps its await, which is also what waits for its address.
//
// It is an SDK transformation, not an engine transform
// (ctx.RegisterResourceTransform): the Go SDK (v3.259.0) answers an engine
// transform with resource options that lack DeletedWith, so every Service
// it touched lost the DeletedWith(namespace) the Lab gives objects of its
// own namespaces, and destroy deleted them one by one again. An SDK
// transformation sees the typed args, so only literal values are read: a
// Service whose type or annotations are outputs keeps its await.
func skipServiceAwait(a *pulumi.ResourceTransformationArgs) *pulumi.ResourceTransformationResult {
	if a.Type != serviceType {
		return nil
	}
	svc, ok := a.Props.(*corev1.ServiceArgs)
	if !ok || svc == nil {
		return nil
	}
	if svc.Spec != nil {
		spec, ok := svc.Spec.(*corev1.ServiceSpecArgs)
		if !ok || spec == nil {
			return nil // spec not known yet: keep the await
		}
		if spec.Type != nil {
			if t, known := spec.Type.(pulumi.String); !known || t == "LoadBalancer" {
				return nil // a LoadBalancer, or a type not known yet
			}
		}
	}
	meta := metav1.ObjectMetaArgs{}
	if svc.Metadata != nil {
		m, ok := svc.Metadata.(*metav1.ObjectMetaArgs)
		if !ok || m == nil {
			return nil // metadata not known yet: leave it alone
		}
		meta = *m
	}
	annotations := pulumi.StringMap{}
	if meta.Annotations != nil {
		given, ok := meta.Annotations.(pulumi.StringMap)
		if !ok {
			return nil // annotations not known yet: leave them alone
		}
		maps.Copy(annotations, given)
	}
	annotations[skipAwaitAnnotation] = pulumi.String("true")
	meta.Annotations = annotations
	// Copies: the component's own args stay as it wrote them.
	out := *svc
	out.Metadata = &meta
	return &pulumi.ResourceTransformationResult{Props: &out, Opts: a.Opts}
}
