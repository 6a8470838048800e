package main

import (
	"strings"
	"sync"
	"testing"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/lab5/k8s-networking/infra"
)

// annotations returns the annotations a transformation result gives a
// Service (nil result: none).
func annotations(t *testing.T, r *pulumi.ResourceTransformationResult) pulumi.StringMap {
	t.Helper()
	if r == nil {
		return nil
	}
	meta, ok := r.Props.(*corev1.ServiceArgs).Metadata.(*metav1.ObjectMetaArgs)
	if !ok {
		t.Fatalf("metadata is %T", r.Props.(*corev1.ServiceArgs).Metadata)
	}
	a, _ := meta.Annotations.(pulumi.StringMap)
	return a
}

func TestSkipServiceAwait(t *testing.T) {
	service := func(args *corev1.ServiceArgs) *pulumi.ResourceTransformationArgs {
		return &pulumi.ResourceTransformationArgs{Type: serviceType, Name: "s", Props: args}
	}

	// A ClusterIP Service keeps its name and other annotations and gains
	// the skipAwait one; the component's own args are not modified.
	given := &corev1.ServiceArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("minio"), Annotations: pulumi.StringMap{"a": pulumi.String("b")}},
		Spec:     &corev1.ServiceSpecArgs{Type: pulumi.String("ClusterIP")},
	}
	r := skipServiceAwait(service(given))
	got := annotations(t, r)
	if got[skipAwaitAnnotation] != pulumi.String("true") || got["a"] != pulumi.String("b") || len(got) != 2 {
		t.Fatalf("ClusterIP Service: annotations %v, want a=b and %s=true", got, skipAwaitAnnotation)
	}
	if r.Props.(*corev1.ServiceArgs).Metadata.(*metav1.ObjectMetaArgs).Name != pulumi.String("minio") {
		t.Fatal("the name was lost")
	}
	if len(given.Metadata.(*metav1.ObjectMetaArgs).Annotations.(pulumi.StringMap)) != 1 {
		t.Fatal("the component's args were modified")
	}

	// No metadata or type at all (a ClusterIP by default): annotated.
	if got := annotations(t, skipServiceAwait(service(&corev1.ServiceArgs{}))); got[skipAwaitAnnotation] != pulumi.String("true") {
		t.Fatalf("a Service without metadata: annotations %v", got)
	}

	// A LoadBalancer keeps its await (it waits for the address), so does a
	// Service whose type or annotations are not known yet, and anything
	// else than a Service.
	for name, args := range map[string]*pulumi.ResourceTransformationArgs{
		"LoadBalancer": service(&corev1.ServiceArgs{Spec: &corev1.ServiceSpecArgs{Type: pulumi.String("LoadBalancer")}}),
		"unknown type": service(&corev1.ServiceArgs{Spec: &corev1.ServiceSpecArgs{Type: pulumi.StringOutput{}}}),
		"unknown annotations": service(&corev1.ServiceArgs{
			Metadata: &metav1.ObjectMetaArgs{Annotations: pulumi.StringMapOutput{}},
		}),
		"Deployment": {Type: "kubernetes:apps/v1:Deployment", Name: "d", Props: &corev1.ServiceArgs{}},
	} {
		if r := skipServiceAwait(args); r != nil {
			t.Errorf("%s: transformed (%v), want untouched", name, r.Props)
		}
	}
}

// serviceMocks record each Service as the engine receives it.
type serviceMocks struct {
	mu       sync.Mutex
	services []registeredService
	nodePort int
}

type registeredService struct {
	namespace, name, deletedWith string
	annotations                  resource.PropertyMap
}

func (m *serviceMocks) Call(pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return resource.PropertyMap{}, nil
}

func (m *serviceMocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	out := args.Inputs.Copy()
	if args.TypeToken != serviceType {
		return args.Name, out, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	meta := args.Inputs["metadata"].ObjectValue()
	s := registeredService{name: meta["name"].StringValue(), deletedWith: args.RegisterRPC.GetDeletedWith()}
	if ns, ok := meta["namespace"]; ok {
		s.namespace = ns.StringValue()
	}
	if a, ok := meta["annotations"]; ok {
		s.annotations = a.ObjectValue()
	}
	m.services = append(m.services, s)
	// Like the API server: node ports of a NodePort Service are allocated.
	spec := out["spec"].ObjectValue().Copy()
	var ports []resource.PropertyValue
	for _, p := range spec["ports"].ArrayValue() {
		port := p.ObjectValue().Copy()
		m.nodePort++
		port["nodePort"] = resource.NewNumberProperty(float64(30000 + m.nodePort))
		ports = append(ports, resource.NewObjectProperty(port))
	}
	spec["ports"] = resource.NewArrayProperty(ports)
	out["spec"] = resource.NewObjectProperty(spec)
	return args.Name, out, nil
}

// TestServicesSkipAwaitAndKeepDeletedWith runs the Lab as main does: every
// Service is marked skipAwait, and the Services of the stack's own
// namespaces still carry DeletedWith their namespace (the two
// transformations compose), those in default none.
func TestServicesSkipAwaitAndKeepDeletedWith(t *testing.T) {
	m := &serviceMocks{}
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		cfg, err := infra.LoadConfig(ctx)
		if err != nil {
			return err
		}
		_, err = infra.NewLab(ctx, "lab5", cfg, pulumi.Transformations([]pulumi.ResourceTransformation{skipServiceAwait}))
		return err
	}, pulumi.WithMocks("lab5", "dev", m), func(info *pulumi.RunInfo) {
		info.Config = map[string]string{
			"lab5:minioRootPassword":  "t3st-minio-passw0rd",
			"lab5:imageRepository":    "localhost:5000/lab5",
			"lab5:historyServerImage": "example.org/history-server:1",
			"lab5:priceFetcherImage":  "example.org/price-fetcher:1",
		}
		info.ConfigSecretKeys = []string{"lab5:minioRootPassword"}
	})
	if err != nil {
		t.Fatal(err)
	}
	owned, inDefault := 0, 0
	for _, s := range m.services {
		if v, ok := s.annotations[skipAwaitAnnotation]; !ok || !v.IsString() || v.StringValue() != "true" {
			t.Errorf("Service %s/%s: annotations %v, want %s=true", s.namespace, s.name, s.annotations, skipAwaitAnnotation)
		}
		switch s.namespace {
		case "", infra.NamespaceDefault:
			inDefault++
			if s.deletedWith != "" {
				t.Errorf("Service %s/%s in default: deleted with %s, want its own delete", s.namespace, s.name, s.deletedWith)
			}
		default:
			owned++
			// Each Namespace's logical name is its name.
			if !strings.HasSuffix(s.deletedWith, "$kubernetes:core/v1:Namespace::"+s.namespace) {
				t.Errorf("Service %s/%s: deleted with %q, want its Namespace", s.namespace, s.name, s.deletedWith)
			}
		}
	}
	if owned == 0 || inDefault == 0 {
		t.Fatalf("%d Services in owned namespaces and %d in default: the program declared fewer than the test expects", owned, inDefault)
	}
}
