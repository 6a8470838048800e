package infra

import (
	"reflect"
	"slices"
	"sync"

	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Deleting a namespace deletes everything in it: the namespace controller
// removes its contents before the namespace itself goes, and the
// provider's delete of a Namespace returns only once it is gone. So an
// object in a namespace the stack owns needs no delete of its own when its
// namespace is deleted in the same operation (pulumi destroy, or an update
// that drops k8s-lab5): such objects carry pulumi.DeletedWith(namespace)
// and the engine skips their deletes then. Without it, destroy deleted
// them one dependency level after the other, each delete awaited, before
// the namespaces' own deletes could even start. Removed on its own (its
// namespace stays), an object is deleted as before.
//
// Objects in `default` (never deleted by the stack) and cluster-scoped
// objects keep their own delete, and so do the objects that own pods
// (podOwnerTypes): the namespace controller makes its first pass 5 s after
// the namespace is deleted, and pods that were never deleted are all there
// then, with their grace period, which makes it come back at least 5 s
// later, where a namespace whose pods are gone goes in one pass (measured
// on the local control plane: 10.4 s against 5.3 s for a namespace with
// one Deployment). Deleting the workloads first costs one level of
// deletes, which background propagation keeps short (see
// deletionPropagationAnnotation).

// A workload in an owned namespace is deleted with background propagation
// (deletionPropagationAnnotation): its delete returns once the object is
// gone, its pods going on terminating, so the namespace's delete starts a
// second or more earlier (the provider's default, foreground, waited for
// every pod: 1.3 s for a StatefulSet on fake nodes, 6 s for a history-server
// pod with its preStop sleep on the real node) and the pods' termination
// overlaps the namespace controller's 5 s wait before its first pass,
// as under kubectl delete. Pods that outlast that wait cost the namespace
// a second pass, no more than waiting for them first did. Workloads in
// default keep the foreground delete: nothing else waits for their pods.
const deletionPropagationAnnotation = "pulumi.com/deletionPropagationPolicy"

// namespaceType is the type token of a Namespace.
const namespaceType = "kubernetes:core/v1:Namespace"

// podOwnerTypes are the types whose objects are, or make, pods.
var podOwnerTypes = map[string]bool{
	"kubernetes:core/v1:Pod":         true,
	"kubernetes:apps/v1:Deployment":  true,
	"kubernetes:apps/v1:ReplicaSet":  true,
	"kubernetes:apps/v1:StatefulSet": true,
	"kubernetes:apps/v1:DaemonSet":   true,
	"kubernetes:batch/v1:Job":        true,
	"kubernetes:batch/v1:CronJob":    true,
}

// namespaceDeletion gives DeletedWith(namespace) to the objects of the
// stack's own namespaces. It is a transformation of the Lab, so it sees
// every resource the Lab's components register, before registration.
type namespaceDeletion struct {
	mu sync.Mutex
	// byName maps the name output of an owned namespace (what the
	// components are given as their objects' metadata.namespace) to the
	// Namespace; to nil for default.
	byName map[pulumi.StringOutput]pulumi.Resource
	// createdBy maps a component to the one Namespace it created itself
	// (an ingress controller's namespace): its namespaced objects are in
	// it. nil when it created more than one.
	createdBy map[pulumi.Resource]pulumi.Resource
}

func newNamespaceDeletion() *namespaceDeletion {
	return &namespaceDeletion{
		byName:    map[pulumi.StringOutput]pulumi.Resource{},
		createdBy: map[pulumi.Resource]pulumi.Resource{},
	}
}

// addNamespace registers an owned namespace: objects given name as their
// metadata.namespace are deleted with ns.
func (d *namespaceDeletion) addNamespace(name pulumi.StringOutput, ns pulumi.Resource) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.byName[name] = ns
}

// notOwned registers the name output of a namespace the stack does not
// own (default): its objects keep their own delete, whichever component
// declares them.
func (d *namespaceDeletion) notOwned(name pulumi.StringOutput) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.byName[name] = nil
}

// option is the resource option that applies the transformation to a
// component and all its descendants. It must be the last transformation
// to answer for a resource: the SDK hands every transformation the
// resource's original options and keeps those of the last one that
// answers, so one after it would drop DeletedWith again. NewLab puts it
// after the caller's (cmd/lab5's skipServiceAwait).
func (d *namespaceDeletion) option() pulumi.ResourceOption {
	return pulumi.Transformations([]pulumi.ResourceTransformation{d.transform})
}

func (d *namespaceDeletion) transform(args *pulumi.ResourceTransformationArgs) *pulumi.ResourceTransformationResult {
	parent := parentOf(args.Opts)
	if args.Type == namespaceType {
		d.mu.Lock()
		defer d.mu.Unlock()
		if _, seen := d.createdBy[parent]; seen {
			d.createdBy[parent] = nil
		} else {
			d.createdBy[parent] = args.Resource
		}
		return nil
	}
	namespace := metadataNamespace(args.Props)
	if namespace == nil {
		return nil // cluster-scoped
	}
	ns := d.namespaceOf(namespace, parent)
	if ns == nil {
		return nil
	}
	if podOwnerTypes[args.Type] {
		props, ok := withAnnotation(args.Props, deletionPropagationAnnotation, "background")
		if !ok {
			return nil
		}
		return &pulumi.ResourceTransformationResult{Props: props, Opts: args.Opts}
	}
	return &pulumi.ResourceTransformationResult{
		Props: args.Props,
		Opts:  append(slices.Clone(args.Opts), pulumi.DeletedWith(ns)),
	}
}

// namespaceOf is the owned Namespace an object of the given component
// with that metadata.namespace input is in, or nil (default, or not
// known to be owned).
func (d *namespaceDeletion) namespaceOf(namespace pulumi.StringPtrInput, parent pulumi.Resource) pulumi.Resource {
	// An owned namespace's name is only ever an output of its Namespace;
	// a literal name (such as "default") is never one of them.
	name, ok := namespace.(pulumi.StringOutput)
	if !ok {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if ns, ok := d.byName[name]; ok {
		return ns
	}
	if parent == nil {
		return nil
	}
	return d.createdBy[parent]
}

// parentOf is the parent given in opts (nil: the stack).
func parentOf(opts []pulumi.ResourceOption) pulumi.Resource {
	o, err := pulumi.NewResourceOptions(opts...)
	if err != nil {
		return nil
	}
	return o.Parent
}

// withAnnotation is a copy of a Kubernetes object's typed args with the
// annotation added to metadata.annotations; false when the args are not
// such a struct or the annotations are not a plain map (an output).
func withAnnotation(props pulumi.Input, key, value string) (pulumi.Input, bool) {
	args, meta := typedMetadata(props)
	if meta == nil {
		return nil, false
	}
	annotations := pulumi.StringMap{}
	switch a := meta.Annotations.(type) {
	case nil:
	case pulumi.StringMap:
		for k, v := range a {
			annotations[k] = v
		}
	default:
		return nil, false
	}
	annotations[key] = pulumi.String(value)
	metaCopy := *meta
	metaCopy.Annotations = annotations
	argsCopy := reflect.New(args.Type())
	argsCopy.Elem().Set(args)
	argsCopy.Elem().FieldByName("Metadata").Set(reflect.ValueOf(&metaCopy))
	return argsCopy.Interface().(pulumi.Input), true
}

// metadataNamespace is the metadata.namespace input of a Kubernetes
// object's typed args, or nil: cluster-scoped, metadata not given as
// ObjectMetaArgs, or a custom resource (untyped args: the Gateway). Those
// keep their own delete; for a custom resource that is also the safe
// order, since its controller (Traefik for the Gateway) may hold it with a
// finalizer that only the running controller removes, and the controller
// is deleted after it.
func metadataNamespace(props pulumi.Input) pulumi.StringPtrInput {
	if _, meta := typedMetadata(props); meta != nil {
		return meta.Namespace
	}
	return nil
}

// typedMetadata is the args struct of a Kubernetes object's typed args
// (props dereferenced) and its metadata, given as ObjectMetaArgs or a
// pointer to one; a nil metadata otherwise.
func typedMetadata(props pulumi.Input) (reflect.Value, *metav1.ObjectMetaArgs) {
	v := reflect.ValueOf(props)
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return reflect.Value{}, nil
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return reflect.Value{}, nil
	}
	field := v.FieldByName("Metadata")
	if !field.IsValid() || !field.CanInterface() {
		return reflect.Value{}, nil
	}
	switch m := field.Interface().(type) {
	case *metav1.ObjectMetaArgs:
		return v, m
	case metav1.ObjectMetaArgs:
		return v, &m
	}
	return reflect.Value{}, nil
}
