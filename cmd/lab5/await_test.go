package main

import (
	"context"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

func TestSkipServiceAwait(t *testing.T) {
	service := func(props pulumi.Map) *pulumi.ResourceTransformArgs {
		return &pulumi.ResourceTransformArgs{Custom: true, Type: "kubernetes:core/v1:Service", Name: "s", Props: props}
	}
	annotation := func(r *pulumi.ResourceTransformResult) (pulumi.Input, bool) {
		if r == nil {
			return nil, false
		}
		md, _ := r.Props["metadata"].(pulumi.Map)
		ann, _ := md["annotations"].(pulumi.Map)
		v, ok := ann[skipAwaitAnnotation]
		return v, ok
	}

	// A ClusterIP Service keeps its name and other annotations and gains
	// the skipAwait one.
	r := skipServiceAwait(context.Background(), service(pulumi.Map{
		"metadata": pulumi.Map{"name": pulumi.String("minio"), "annotations": pulumi.Map{"a": pulumi.String("b")}},
		"spec":     pulumi.Map{"type": pulumi.String("ClusterIP")},
	}))
	if v, ok := annotation(r); !ok || v != pulumi.String("true") {
		t.Fatalf("ClusterIP Service: skipAwait = %v, %v; want \"true\"", v, ok)
	}
	md := r.Props["metadata"].(pulumi.Map)
	if md["name"] != pulumi.String("minio") || md["annotations"].(pulumi.Map)["a"] != pulumi.String("b") {
		t.Fatalf("metadata changed beyond the annotation: %v", md)
	}

	// No metadata or type at all (a NodePort/ClusterIP default): annotated.
	if _, ok := annotation(skipServiceAwait(context.Background(), service(pulumi.Map{}))); !ok {
		t.Fatal("a Service without metadata is not annotated")
	}

	// A LoadBalancer keeps its await (it waits for the address), so does a
	// Service whose type is not known yet, and anything else than a Service.
	for name, args := range map[string]*pulumi.ResourceTransformArgs{
		"LoadBalancer": service(pulumi.Map{"spec": pulumi.Map{"type": pulumi.String("LoadBalancer")}}),
		"unknown type": service(pulumi.Map{"spec": pulumi.Map{"type": pulumi.StringOutput{}}}),
		"Deployment":   {Custom: true, Type: "kubernetes:apps/v1:Deployment", Name: "d", Props: pulumi.Map{}},
	} {
		if r := skipServiceAwait(context.Background(), args); r != nil {
			t.Errorf("%s: transformed (%v), want untouched", name, r.Props)
		}
	}
}
