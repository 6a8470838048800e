package infra

import (
	"fmt"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const (
	EchoserverName            = "echoserver"
	EchoserverNodePortSvcName = "echoserver-service-nodeport"
	EchoserverPort            = 80
	// EchoserverNodePort is the lab's fixed node port.
	EchoserverNodePort = 30001
)

// echoserverLabels are the labels of the echoserver in one namespace; the
// lab's app=echoserver selects its pods.
func echoserverLabels(namespace string) appLabels {
	return appLabels{
		Name: EchoserverName, Instance: EchoserverName + "-" + namespace, Component: "echo",
		Lab: map[string]string{"app": EchoserverName},
	}
}

// EchoserverArgs configures one echoserver instance.
type EchoserverArgs struct {
	// Namespace is the namespace to deploy into: an output of a created
	// Namespace, or pulumi.String("default").
	Namespace pulumi.StringInput
	// NamespaceName is the same namespace as a plain string, for Pulumi
	// resource names and labels.
	NamespaceName string
	Image         string
	// NodePort, when not 0, also creates the NodePort Service
	// echoserver-service-nodeport with this nodePort.
	NodePort int
}

// Echoserver is the lab's echoserver: a bare Pod (as in lab 3), its
// ClusterIP Service and, optionally, a NodePort Service.
type Echoserver struct {
	pulumi.ResourceState

	// ServiceName is "echoserver" once the ClusterIP Service exists.
	ServiceName pulumi.StringOutput `pulumi:"serviceName"`
	// ServicePort is the ClusterIP Service's port (80).
	ServicePort pulumi.IntOutput `pulumi:"servicePort"`
	// NodePort is the created NodePort Service's nodePort (30001); only set
	// when EchoserverArgs.NodePort != 0.
	NodePort pulumi.IntOutput `pulumi:"nodePort"`

	// Pod and Service are the echoserver and its ClusterIP Service (an
	// Ingress routing to them depends on both).
	Pod     *corev1.Pod
	Service *corev1.Service
	// NodePortService is echoserver-service-nodeport; nil unless
	// EchoserverArgs.NodePort != 0.
	NodePortService *corev1.Service
}

// Backend is what an Ingress routing to this echoserver depends on.
func (e *Echoserver) Backend() []pulumi.Resource { return []pulumi.Resource{e.Pod, e.Service} }

// NewEchoserver creates an echoserver in one namespace.
func NewEchoserver(ctx *pulumi.Context, name string, args *EchoserverArgs, opts ...pulumi.ResourceOption) (*Echoserver, error) {
	comp, err := newComponent[Echoserver](ctx, TypeEchoserver, name, args, opts)
	if err != nil {
		return nil, err
	}
	labels := echoserverLabels(args.NamespaceName)

	pod, err := corev1.NewPod(ctx, name, &corev1.PodArgs{
		Metadata: objectMeta(EchoserverName, args.Namespace, labels.all()),
		Spec: &corev1.PodSpecArgs{
			AutomountServiceAccountToken: pulumi.Bool(false),
			Containers: corev1.ContainerArray{
				corev1.ContainerArgs{
					Name:  pulumi.String(EchoserverName),
					Image: pulumi.String(args.Image),
					Env: corev1.EnvVarArray{
						plainEnv("PORT", pulumi.Sprintf("%d", EchoserverPort)),
					},
					Ports: corev1.ContainerPortArray{
						corev1.ContainerPortArgs{Name: pulumi.String("http"), ContainerPort: pulumi.Int(EchoserverPort)},
					},
					Resources: resourceSpec{
						CPURequest: "10m", MemoryRequest: "32Mi",
						CPULimit: "200m", MemoryLimit: "128Mi",
					}.args(),
					// ealen/echo-server runs as the image's (root) user
					// and binds port 80, so it cannot be forced to a
					// non-root uid; it keeps only NET_BIND_SERVICE, with
					// no privilege escalation and RuntimeDefault seccomp.
					SecurityContext: imageUserSecurityContext("NET_BIND_SERVICE"),
				},
			},
		},
	}, pulumi.Parent(comp))
	if err != nil {
		return nil, err
	}

	port := tcpServicePort(EchoserverPort, pulumi.Int(EchoserverPort))
	svc, err := newAppService(ctx, name, EchoserverName, args.Namespace, labels, clusterIP(port), pulumi.Parent(comp))
	if err != nil {
		return nil, err
	}
	comp.Pod, comp.Service = pod, svc
	comp.ServiceName = nameOf(svc.Metadata)
	comp.ServicePort = pulumi.Int(EchoserverPort).ToIntOutput()
	outputs := pulumi.Map{"serviceName": comp.ServiceName, "servicePort": comp.ServicePort}

	if args.NodePort != 0 {
		// The same port, on the lab's fixed node port.
		port.NodePort = pulumi.Int(args.NodePort)
		np, err := newAppService(ctx, name+"-nodeport", EchoserverNodePortSvcName, args.Namespace, labels, &corev1.ServiceSpecArgs{
			Type:  pulumi.String("NodePort"),
			Ports: corev1.ServicePortArray{port},
		}, pulumi.Parent(comp))
		if err != nil {
			return nil, err
		}
		comp.NodePortService = np
		comp.NodePort = nodePortOf(ctx, np, "")
		outputs["nodePort"] = comp.NodePort
	}

	return withOutputs(ctx, comp, outputs)
}

// nodePortOf reads the nodePort of the port named portName (or of the
// first port when portName is empty) from a created Service: the value the
// API server allocated or accepted, not the requested one. A Service that no
// API server has made yet (a preview of a create, or manifests the provider
// only renders: both report the inputs, without a uid) has none, and the
// output is then 0; a Service the API server made without one is an error
// rather than a silently wrong URL.
func nodePortOf(ctx *pulumi.Context, svc *corev1.Service, portName string) pulumi.IntOutput {
	dryRun := ctx.DryRun()
	return pulumi.All(svc.Metadata.Uid(), svc.Spec.Ports()).ApplyT(func(v []any) (int, error) {
		uid, _ := v[0].(*string)
		ports, _ := v[1].([]corev1.ServicePort)
		for _, p := range ports {
			if portName != "" && (p.Name == nil || *p.Name != portName) {
				continue
			}
			if p.NodePort != nil && *p.NodePort != 0 {
				return *p.NodePort, nil
			}
			break
		}
		if dryRun || uid == nil || *uid == "" {
			return 0, nil
		}
		return 0, fmt.Errorf("service has no nodePort for port %q", portName)
	}).(pulumi.IntOutput)
}
