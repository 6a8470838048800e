package main

import (
	"context"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// skipAwaitAnnotation tells pulumi-kubernetes not to wait for a resource
// to become ready after creating or updating it.
const skipAwaitAnnotation = "pulumi.com/skipAwait"

// skipServiceAwait is a stack-wide transform that marks every Service,
// except LoadBalancer ones, with pulumi.com/skipAwait.
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
func skipServiceAwait(_ context.Context, a *pulumi.ResourceTransformArgs) *pulumi.ResourceTransformResult {
	if a.Type != "kubernetes:core/v1:Service" {
		return nil
	}
	if spec, ok := a.Props["spec"].(pulumi.Map); ok {
		if t, set := spec["type"]; set {
			if s, known := t.(pulumi.String); !known || s == "LoadBalancer" {
				return nil // a LoadBalancer, or a type not known yet: keep the await
			}
		}
	}
	md, ok := a.Props["metadata"].(pulumi.Map)
	if !ok {
		md = pulumi.Map{}
	}
	annotations, ok := md["annotations"].(pulumi.Map)
	if !ok {
		if _, set := md["annotations"]; set {
			return nil // annotations not known yet: leave them alone
		}
		annotations = pulumi.Map{}
	}
	annotations[skipAwaitAnnotation] = pulumi.String("true")
	md["annotations"] = annotations
	a.Props["metadata"] = md
	return &pulumi.ResourceTransformResult{Props: a.Props, Opts: a.Opts}
}
