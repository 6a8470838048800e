package infra

import (
	"reflect"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
)

// podsStopSlowly tells whether the pods of a workload's typed args take a
// while to stop once deleted: a container with a preStop hook (the
// history-server keeps serving 5 s, ingress-nginx waits for its
// connections) or an explicit termination grace period (Traefik drains on
// SIGTERM). The pod spec is found in the args wherever the kind keeps it
// (a Pod's spec, a Deployment's template, a CronJob's job template). A
// spec that is not plain args (an output) cannot be read, and counts as
// slow.
func podsStopSlowly(props any) bool {
	spec := findPodSpec(reflect.ValueOf(props), 0)
	if spec == nil {
		return true
	}
	if spec.TerminationGracePeriodSeconds != nil {
		return true
	}
	for _, containers := range []corev1.ContainerArrayInput{spec.InitContainers, spec.Containers} {
		if containers == nil {
			continue
		}
		list, ok := containers.(corev1.ContainerArray)
		if !ok {
			return true
		}
		for _, c := range list {
			args, ok := c.(corev1.ContainerArgs)
			if !ok {
				return true
			}
			if args.Lifecycle == nil {
				continue
			}
			lifecycle, ok := args.Lifecycle.(*corev1.LifecycleArgs)
			if !ok || lifecycle.PreStop != nil {
				return true
			}
		}
	}
	return false
}

// podSpecType is the type of a pod spec given as typed args.
var podSpecType = reflect.TypeOf(corev1.PodSpecArgs{})

// findPodSpec is the first PodSpecArgs in v, searched through pointers,
// interfaces and struct fields (a template's spec is three levels down in
// a CronJob); nil when there is none within reach.
func findPodSpec(v reflect.Value, depth int) *corev1.PodSpecArgs {
	if depth > 24 || !v.IsValid() {
		return nil
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return findPodSpec(v.Elem(), depth+1)
	case reflect.Struct:
		if v.Type() == podSpecType {
			spec := v.Interface().(corev1.PodSpecArgs)
			return &spec
		}
		for i := 0; i < v.NumField(); i++ {
			if !v.Type().Field(i).IsExported() {
				continue
			}
			if spec := findPodSpec(v.Field(i), depth+1); spec != nil {
				return spec
			}
		}
	}
	return nil
}
