package infra

import (
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// deletionMocks are the harness's mocks that also record each resource's
// DeletedWith option, as the engine receives it.
type deletionMocks struct {
	*mocks
	mu          sync.Mutex
	deletedWith map[string]string // parent URN + "$" + type + "::" + name -> URN
}

func (m *deletionMocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	if args.RegisterRPC != nil {
		m.mu.Lock()
		m.deletedWith[args.RegisterRPC.GetParent()+"$"+args.TypeToken+"::"+args.Name] = args.RegisterRPC.GetDeletedWith()
		m.mu.Unlock()
	}
	return m.mocks.NewResource(args)
}

func (m *deletionMocks) of(parent, token, name string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.deletedWith[parent+"$"+token+"::"+name]
}

// TestObjectsOfOwnedNamespacesAreDeletedWithTheirNamespace: destroy deletes
// a namespace the stack owns and lets the garbage collector and the
// namespace controller delete its contents, so every object in such a
// namespace carries DeletedWith that very Namespace and is owned by it (its
// uid, blocking, so that the collector deletes it as soon as the
// namespace's deletion starts), except custom resources (deleted while
// their controller still runs) and the workloads whose pods stop slowly
// (deleted by pulumi first, with background propagation, so that their
// pods stop during the namespace controller's wait). Objects in default
// (which the stack never deletes) and cluster-scoped objects (which no
// namespace deletion removes) carry neither and keep their own delete.
func TestObjectsOfOwnedNamespacesAreDeletedWithTheirNamespace(t *testing.T) {
	for name, config := range map[string]map[string]string{
		"defaults":                      baseConfig(),
		"no test-only objects":          with(keyLabTestResources, "false"),
		"traefik with Gateway API":      with("ingressController", IngressControllerTraefik, "ingressRoute", IngressRouteGateway),
		"distributed MinIO, autoscaled": with(keyMinioReplicas, "4", keyHistoryServerAutoscale, "true"),
		"no admission webhook":          with(keyIngressAdmissionWebhook, "false"),
	} {
		t.Run(name, func(t *testing.T) {
			m := &deletionMocks{mocks: newMocks(), deletedWith: map[string]string{}}
			err := pulumi.RunErr(func(ctx *pulumi.Context) error {
				cfg, err := LoadConfig(ctx)
				if err != nil {
					return err
				}
				_, err = NewLab(ctx, "lab5", cfg)
				return err
			}, pulumi.WithMocks("lab5", "dev", m), withConfig(config, []string{"lab5:minioRootPassword"}))
			if err != nil {
				t.Fatal(err)
			}

			// The Namespaces by logical name, to read DeletedWith URNs, and
			// their uids by name.
			namespaceNames, uids := map[string]string{}, map[string]string{}
			for _, o := range m.objects {
				if o.Token == namespaceType {
					namespaceNames[o.URNName] = o.Name
					uids[o.Name] = "uid-" + o.URNName
				}
			}
			targetNamespace := func(urn string) string {
				if urn == "" {
					return ""
				}
				logical := urn[strings.LastIndex(urn, "::")+2:]
				if !strings.HasSuffix(urn, "$"+namespaceType+"::"+logical) {
					return "not a Namespace: " + urn
				}
				return namespaceNames[logical]
			}

			counts := map[string]int{}
			for _, o := range m.objects {
				want, category := "", "cluster-scoped"
				switch o.Namespace {
				case "":
				case NamespaceDefault:
					category = "default"
				default:
					want, category = o.Namespace, "owned namespace"
					if podOwnerTypes[o.Token] {
						category = "pod owner in owned namespace"
						if stopsSlowly(o) {
							want, category = "", "slowly stopping pod owner in owned namespace"
						}
					}
					if strings.HasPrefix(o.APIVersion, "gateway.networking.k8s.io/") {
						want, category = "", "custom resource in owned namespace"
					}
				}
				counts[category]++
				if got := targetNamespace(m.of(o.Parent, o.Token, o.URNName)); got != want {
					t.Errorf("%s (%s): deleted with namespace %q, want %q", o.key(), category, got, want)
				}
				propagation := o.labels("metadata.annotations")[deletionPropagationAnnotation]
				if wantBackground := category == "slowly stopping pod owner in owned namespace"; (propagation == "background") != wantBackground || (!wantBackground && propagation != "") {
					t.Errorf("%s (%s): deletion propagation %q, want background only for slowly stopping pod owners in owned namespaces", o.key(), category, propagation)
				}
				owners := toSlice(o.dig("metadata.ownerReferences"))
				if want == "" {
					if len(owners) != 0 {
						t.Errorf("%s (%s): owner references %v, want none", o.key(), category, owners)
					}
					continue
				}
				expectFields(t, o.key()+" owner reference", o.single(t, "metadata.ownerReferences"), map[string]any{
					"apiVersion": "v1", "kind": "Namespace", "name": o.Namespace, "uid": uids[o.Namespace],
					"blockOwnerDeletion": true,
				})
			}
			// A patch of an object the stack does not create (a volume
			// claim) changes it, never deletes it.
			for _, p := range m.patches {
				if got := m.of(p.Parent, p.Token, p.URNName); got != "" || !p.RetainOnDelete {
					t.Errorf("patch %s: deleted with %q, retainOnDelete %v; want no delete of the object at all", p.URNName, got, p.RetainOnDelete)
				}
			}
			for _, img := range m.images {
				if got := m.of(img.Parent, img.Token, img.URNName); got != "" {
					t.Errorf("image %s: deleted with %s, want its own delete", img.URNName, got)
				}
			}
			// Each side of the rule was exercised.
			for _, category := range []string{"owned namespace", "pod owner in owned namespace", "slowly stopping pod owner in owned namespace", "default", "cluster-scoped"} {
				if counts[category] == 0 {
					t.Errorf("no %s objects in this configuration", category)
				}
			}
		})
	}
}

// stopsSlowly: the workload's pods have a container with a preStop hook or
// an explicit termination grace period.
func stopsSlowly(o *k8sObject) bool {
	spec := podSpecPath(o.Kind)
	if o.dig(spec+".terminationGracePeriodSeconds") != nil {
		return true
	}
	for _, list := range []string{".initContainers", ".containers"} {
		for _, c := range toSlice(o.dig(spec + list)) {
			if dig(c, "lifecycle.preStop") != nil {
				return true
			}
		}
	}
	return false
}

// TestWorkloadsThatStopSlowly names the workloads whose pods take a while
// to stop, in each ingress controller's stack: those pulumi deletes ahead
// of their namespace.
func TestWorkloadsThatStopSlowly(t *testing.T) {
	for controller, want := range map[string][]string{
		IngressControllerNginx:   {"Deployment ingress-nginx/ingress-nginx-controller", "Deployment production/history-server"},
		IngressControllerTraefik: {"Deployment production/history-server", "Deployment traefik/traefik"},
	} {
		r := mustRun(t, with("ingressController", controller))
		var got []string
		for _, o := range r.objects {
			if podOwnerTypes[o.Token] && o.Namespace != NamespaceDefault && stopsSlowly(o) {
				got = append(got, o.key())
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s: slowly stopping workloads %v, want %v", controller, got, want)
		}
	}
}
