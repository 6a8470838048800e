package infra

import (
	"reflect"
	"slices"
	"sync"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Deleting a namespace deletes everything in it: the namespace controller
// removes its contents before the namespace itself goes, and the
// provider's delete of a Namespace returns only once it is gone. So an
// object in a namespace the stack owns needs no delete of its own when its
// namespace is deleted in the same operation (pulumi destroy, or an update
// that drops k8s-lab5): such objects carry pulumi.DeletedWith(namespace)
// and the engine skips their deletes then. pulumi deletes one dependency
// level at a time, and the provider's await of a delete takes 0.1-0.2 s
// even when the object goes at once, so each level of awaited deletes
// before the namespaces' delayed them. Removed on its own (its namespace
// stays), an object is deleted by pulumi as before.
//
// The namespace controller makes its first pass 5 s after a namespace's
// deletion starts; pods still there then, with their grace period, make it
// come back 5 s later (10.4 s against 5.3 s for a namespace with one
// Deployment, on the local control plane), and so does a claim whose
// protection finalizer it races. So each such object is also owned by its
// Namespace (ownerReferences, by the Namespace's uid, blocking): pulumi
// deletes a Namespace with foreground propagation, and the garbage
// collector deletes its dependents, and so the pods of its workloads, as
// soon as the namespace's deletion starts, during that 5 s wait; the first
// pass then finds the namespace (nearly) empty, and is shorter for it.
//
// Except the workloads whose pods take a while to stop (podsStopSlowly: the
// history-server's 5 s preStop sleep, an ingress controller's drain): the
// garbage collector reaches pods only seconds after the namespace's
// deletion starts (a Deployment's pods are three owners down), so pulumi
// deletes such workloads itself, ahead of the namespace, with background
// propagation (the delete returns once the object is gone), and their pods
// stop during the wait.
//
// Objects in `default` (never deleted by the stack), cluster-scoped objects
// and custom resources (their controller may hold them with a finalizer
// only it removes, so they go while it runs) keep their own delete.

// deletionPropagationAnnotation set to background makes the provider's
// delete of a workload return once the object is gone, its pods going on
// terminating.
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
	if podOwnerTypes[args.Type] && podsStopSlowly(args.Props) {
		// Deleted by pulumi, ahead of the namespace.
		background, ok := withMetadata(args.Props, func(meta *metav1.ObjectMetaArgs) bool {
			return addAnnotation(meta, deletionPropagationAnnotation, "background")
		})
		if !ok {
			return nil
		}
		return &pulumi.ResourceTransformationResult{Props: background, Opts: args.Opts}
	}
	props, owned := withMetadata(args.Props, func(meta *metav1.ObjectMetaArgs) bool {
		return addNamespaceOwner(meta, ns)
	})
	if !owned {
		if podOwnerTypes[args.Type] {
			return nil // its pods must go before the namespace controller's first pass
		}
		props = args.Props
	}
	return &pulumi.ResourceTransformationResult{
		Props: props,
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

// withMetadata is a copy of a Kubernetes object's typed args whose
// metadata is a copy that change has changed; false when the args are not
// such a struct or change returns false (it could not make the change).
func withMetadata(props pulumi.Input, change func(*metav1.ObjectMetaArgs) bool) (pulumi.Input, bool) {
	args, meta := typedMetadata(props)
	if meta == nil {
		return nil, false
	}
	metaCopy := *meta
	if !change(&metaCopy) {
		return nil, false
	}
	argsCopy := reflect.New(args.Type())
	argsCopy.Elem().Set(args)
	argsCopy.Elem().FieldByName("Metadata").Set(reflect.ValueOf(&metaCopy))
	return argsCopy.Interface().(pulumi.Input), true
}

// addAnnotation sets an annotation in a copy of the metadata's
// annotations; false when they are not a plain map (an output).
func addAnnotation(meta *metav1.ObjectMetaArgs, key, value string) bool {
	annotations := pulumi.StringMap{}
	switch a := meta.Annotations.(type) {
	case nil:
	case pulumi.StringMap:
		for k, v := range a {
			annotations[k] = v
		}
	default:
		return false
	}
	annotations[key] = pulumi.String(value)
	meta.Annotations = annotations
	return true
}

// addNamespaceOwner makes the Namespace ns the object's owner (by its uid,
// blocking the namespace's foreground deletion until the object is gone);
// false when ns is not a Namespace or the object already declares owners.
func addNamespaceOwner(meta *metav1.ObjectMetaArgs, ns pulumi.Resource) bool {
	namespace, ok := ns.(*corev1.Namespace)
	if !ok || meta.OwnerReferences != nil {
		return false
	}
	meta.OwnerReferences = namespaceOwnerReference(namespace.Metadata)
	return true
}

// namespaceOwnerReference is the owner reference to a live Namespace. A
// Namespace without a uid (manifests rendered to YAML, where nothing is
// created) makes none: a reference needs the uid.
func namespaceOwnerReference(meta metav1.ObjectMetaOutput) metav1.OwnerReferenceArrayOutput {
	return pulumi.All(meta.Name(), meta.Uid()).ApplyT(func(v []any) []metav1.OwnerReference {
		name, uid := v[0].(*string), v[1].(*string)
		if name == nil || uid == nil || *uid == "" {
			return nil
		}
		block := true
		return []metav1.OwnerReference{{ApiVersion: "v1", Kind: "Namespace", Name: *name, Uid: *uid, BlockOwnerDeletion: &block}}
	}).(metav1.OwnerReferenceArrayOutput)
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
