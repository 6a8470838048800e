package infra

import (
	"fmt"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Shared building blocks for the workloads' pod specs: resource budgets and
// security contexts. Each workload states in its own file why it uses which.

// resourceSpec is a container's requests and limits.
type resourceSpec struct {
	CPURequest, MemoryRequest, CPULimit, MemoryLimit string
}

func (r resourceSpec) args() *corev1.ResourceRequirementsArgs {
	return &corev1.ResourceRequirementsArgs{
		Requests: pulumi.StringMap{
			"cpu":    pulumi.String(r.CPURequest),
			"memory": pulumi.String(r.MemoryRequest),
		},
		Limits: pulumi.StringMap{
			"cpu":    pulumi.String(r.CPULimit),
			"memory": pulumi.String(r.MemoryLimit),
		},
	}
}

// httpProbe is a container probe: an HTTP GET of Path on Port (a number or
// a container port's name). Zero fields stay unset, so the API server's
// defaults apply, as each workload's upstream manifest has it.
type httpProbe struct {
	Path string
	Port pulumi.Input
	// Scheme is "HTTP" where the upstream manifest spells it out.
	Scheme                                                                                 string
	InitialDelaySeconds, PeriodSeconds, TimeoutSeconds, SuccessThreshold, FailureThreshold int
}

func (p httpProbe) args() *corev1.ProbeArgs {
	get := &corev1.HTTPGetActionArgs{Path: pulumi.String(p.Path), Port: p.Port}
	if p.Scheme != "" {
		get.Scheme = pulumi.String(p.Scheme)
	}
	return &corev1.ProbeArgs{
		HttpGet:             get,
		InitialDelaySeconds: intIfSet(p.InitialDelaySeconds),
		PeriodSeconds:       intIfSet(p.PeriodSeconds),
		TimeoutSeconds:      intIfSet(p.TimeoutSeconds),
		SuccessThreshold:    intIfSet(p.SuccessThreshold),
		FailureThreshold:    intIfSet(p.FailureThreshold),
	}
}

// intIfSet leaves a field unset (nil) for 0.
func intIfSet(n int) pulumi.IntPtrInput {
	if n == 0 {
		return nil
	}
	return pulumi.Int(n)
}

// tcpContainerPort is a named TCP container port.
func tcpContainerPort(name string, port int) corev1.ContainerPortArgs {
	return corev1.ContainerPortArgs{Name: pulumi.String(name), ContainerPort: pulumi.Int(port), Protocol: pulumi.String("TCP")}
}

// newAppService creates Service name of the app, labelled as the app and
// selecting its pods (appLabels.selector); spec gives the type and ports.
func newAppService(ctx *pulumi.Context, urn, name string, namespace pulumi.StringInput, app appLabels,
	spec *corev1.ServiceSpecArgs, parent pulumi.ResourceOption,
) (*corev1.Service, error) {
	spec.Selector = app.selector()
	return corev1.NewService(ctx, urn, &corev1.ServiceArgs{Metadata: objectMeta(name, namespace, app.all()), Spec: spec}, parent)
}

// clusterIP is the spec of a ClusterIP Service with these ports.
func clusterIP(ports ...corev1.ServicePortInput) *corev1.ServiceSpecArgs {
	return &corev1.ServiceSpecArgs{Type: pulumi.String("ClusterIP"), Ports: corev1.ServicePortArray(ports)}
}

// tcpServicePort is a TCP Service port onto the pods' target (a number or
// a container port's name).
func tcpServicePort(port int, target pulumi.Input) corev1.ServicePortArgs {
	return corev1.ServicePortArgs{Port: pulumi.Int(port), TargetPort: target, Protocol: pulumi.String("TCP")}
}

// runtimeDefaultSeccomp is the container runtime's default seccomp profile.
func runtimeDefaultSeccomp() *corev1.SeccompProfileArgs {
	return &corev1.SeccompProfileArgs{Type: pulumi.String("RuntimeDefault")}
}

// nonRootSecurityContext is the "restricted" Pod Security Standard for a
// container that runs as the given non-root uid: no privilege escalation, no
// capabilities, RuntimeDefault seccomp.
func nonRootSecurityContext(uid int, readOnlyRootFS bool) *corev1.SecurityContextArgs {
	return &corev1.SecurityContextArgs{
		RunAsNonRoot:             pulumi.Bool(true),
		RunAsUser:                pulumi.Int(uid),
		RunAsGroup:               pulumi.Int(uid),
		AllowPrivilegeEscalation: pulumi.Bool(false),
		ReadOnlyRootFilesystem:   pulumi.Bool(readOnlyRootFS),
		Capabilities: &corev1.CapabilitiesArgs{
			Drop: pulumi.StringArray{pulumi.String("ALL")},
		},
		SeccompProfile: runtimeDefaultSeccomp(),
	}
}

// imageUserSecurityContext is for images that must start as their own
// (root) user: no privilege escalation, every capability dropped except the
// listed ones, RuntimeDefault seccomp.
func imageUserSecurityContext(addCaps ...string) *corev1.SecurityContextArgs {
	caps := &corev1.CapabilitiesArgs{Drop: pulumi.StringArray{pulumi.String("ALL")}}
	if len(addCaps) > 0 {
		caps.Add = pulumi.ToStringArray(addCaps)
	}
	return &corev1.SecurityContextArgs{
		AllowPrivilegeEscalation: pulumi.Bool(false),
		Capabilities:             caps,
		SeccompProfile:           runtimeDefaultSeccomp(),
	}
}

// nonRootPodSecurityContext sets the pod-level uid/gid/fsGroup so that
// volumes (emptyDir, PVCs) are writable by the non-root user.
func nonRootPodSecurityContext(uid int) *corev1.PodSecurityContextArgs {
	return &corev1.PodSecurityContextArgs{
		RunAsNonRoot:   pulumi.Bool(true),
		RunAsUser:      pulumi.Int(uid),
		RunAsGroup:     pulumi.Int(uid),
		FsGroup:        pulumi.Int(uid),
		SeccompProfile: runtimeDefaultSeccomp(),
	}
}

// objectMeta is metadata with an explicit name (never Pulumi auto-naming,
// which would append a random suffix) and namespace.
func objectMeta(name string, namespace pulumi.StringInput, labels pulumi.StringMap) *metav1.ObjectMetaArgs {
	return &metav1.ObjectMetaArgs{
		Name:      pulumi.String(name),
		Namespace: namespace,
		Labels:    labels,
	}
}

// clusterObjectMeta is metadata for cluster-scoped objects.
func clusterObjectMeta(name string, labels pulumi.StringMap) *metav1.ObjectMetaArgs {
	return &metav1.ObjectMetaArgs{
		Name:   pulumi.String(name),
		Labels: labels,
	}
}

// logicalName is the Pulumi logical name of a namespaced object: namespace
// and name, so that objects of the same kind and name in different
// namespaces (echoserver in default and in k8s-lab5) have distinct URNs.
func logicalName(namespace, name string) string {
	return fmt.Sprintf("%s-%s", namespace, name)
}

// secretEnv is an environment variable read from a Secret key.
func secretEnv(envName string, secretName pulumi.StringInput, key string) corev1.EnvVarInput {
	return corev1.EnvVarArgs{
		Name: pulumi.String(envName),
		ValueFrom: &corev1.EnvVarSourceArgs{
			SecretKeyRef: &corev1.SecretKeySelectorArgs{
				Name: secretName,
				Key:  pulumi.String(key),
			},
		},
	}
}

// plainEnv is an environment variable with a literal value.
func plainEnv(name string, value pulumi.StringInput) corev1.EnvVarInput {
	return corev1.EnvVarArgs{Name: pulumi.String(name), Value: value}
}

// nameOf is an object's metadata.name as a StringOutput: using it (instead of
// the literal) in another object makes Pulumi create the referenced object
// first.
func nameOf(meta metav1.ObjectMetaOutput) pulumi.StringOutput {
	return meta.Name().Elem()
}
