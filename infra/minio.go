package infra

import (
	"fmt"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	policyv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/policy/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// MinIO object names and ports, as in the lab.
const (
	MinioName        = "minio"
	MinioSecretName  = "minio-secret"
	MinioAPIPort     = 9000
	MinioConsolePort = 9001
	// Keys of minio-secret, read by MinIO itself and by history-server.
	MinioSecretUserKey     = "MINIO_ROOT_USER"
	MinioSecretPasswordKey = "MINIO_ROOT_PASSWORD"
	// minioUID is a non-root uid; the MinIO image runs as any uid as long as
	// /data is writable, which fsGroup ensures for the PVC.
	minioUID = 1000

	// Distributed MinIO (minioReplicas >= 4).
	//
	// MinioHeadlessServiceName governs the StatefulSet: it gives each pod
	// the stable DNS name <pod>.minio-hl.<ns>.svc.cluster.local that the
	// server's endpoint list names. The ClusterIP Service "minio" stays
	// what clients use.
	MinioHeadlessServiceName = "minio-hl"
	// MinioDistributedMinReplicas is the smallest distributed MinIO this
	// stack declares: MinIO's documented minimum of servers for a
	// distributed deployment.
	MinioDistributedMinReplicas = 4
	// minioVolume is the PVC template of every layout: PVCs
	// data-<statefulset>-<i>, the lab's data-minio-0.
	minioVolume = "data"
	// minioDataPath is where every MinIO pod mounts its volume.
	minioDataPath = "/data"

	// labelHostname is the node label that topology spread constraints
	// use to tell nodes apart.
	labelHostname = "kubernetes.io/hostname"
)

// minioLabels: the lab's app=minio selects the MinIO pods.
var minioLabels = appLabels{
	Name: "minio", Instance: "minio", Component: "object-storage",
	Lab: map[string]string{"app": MinioName},
}

// minioMaxSetSize is the largest erasure set MinIO forms. Its smallest is
// 2, but sets of 2 or 3 drives get parity 1 and the 2-drive set accepts no
// write with one pod down, so this stack only accepts layouts whose sets
// have at least MinioDistributedMinReplicas drives (MinIO's minimum for a
// distributed deployment).
const minioMaxSetSize = 16

// minioErasureSetSize is the erasure set size MinIO chooses for n servers
// with one drive each, given as one {0...n-1} pattern: the largest size
// between 2 and 16 that divides n (fewest sets), or 0 when none does
// (MinIO refuses to start). Mirrors MinIO's endpoint-ellipses rules.
func minioErasureSetSize(n int) int {
	for size := min(n, minioMaxSetSize); size >= 2; size-- {
		if n%size == 0 {
			return size
		}
	}
	return 0
}

// minioDefaultParity is MinIO's default parity (storage class STANDARD)
// for an erasure set of that size.
func minioDefaultParity(setSize int) int {
	switch {
	case setSize <= 1:
		return 0
	case setSize <= 3:
		return 1
	case setSize <= 5:
		return 2
	case setSize <= 7:
		return 3
	}
	return 4
}

// minioWriteTolerance is how many drives of one erasure set (here: pods)
// may be down while MinIO still accepts writes: the set size minus the
// write quorum, which is the data drive count, plus one when data and
// parity counts are equal (so that two halves cannot both win). Reads
// survive parity-many drives down, so this is the stricter bound.
func minioWriteTolerance(setSize int) int {
	parity := minioDefaultParity(setSize)
	data := setSize - parity
	quorum := data
	if data == parity {
		quorum++
	}
	return setSize - quorum
}

// validateMinioReplicas accepts 1 (standalone) and the distributed counts
// whose erasure sets have at least MinioDistributedMinReplicas drives.
func validateMinioReplicas(n int) error {
	switch {
	case n < 1:
		return fmt.Errorf("must be 1 (standalone MinIO) or at least %d (distributed MinIO), got %d", MinioDistributedMinReplicas, n)
	case n == 1:
		return nil
	case n < MinioDistributedMinReplicas:
		return fmt.Errorf("must be 1 or at least %d, got %d: distributed MinIO needs at least %d servers "+
			"(2 or 3 get parity 1, and with 2 one pod down stops all writes)", MinioDistributedMinReplicas, n, MinioDistributedMinReplicas)
	}
	if size := minioErasureSetSize(n); size < MinioDistributedMinReplicas {
		return fmt.Errorf("cannot be %d: MinIO splits the drives into equal erasure sets of 2 to %d drives, and %d %s; "+
			"use 4 to 16, or a multiple of a size in 4..16 (18, 20, 24, 32, ...)", n, minioMaxSetSize, n, setSizeReason(n, size))
	}
	return nil
}

// ownedByNamespace makes the namespace the owner of the volume claims a
// StatefulSet created (claims; opts must make it wait for the StatefulSet,
// which creates them). Why: the namespace controller removes a deleted
// namespace's objects 5 s after the deletion starts and then lists what is
// left. A claim it deletes then still carries its kubernetes.io/pvc-
// protection finalizer for the few milliseconds the PVC protection
// controller takes, so the namespace controller nearly always came back 5 s
// later (production took 11 s to go on destroy, and as long under kubectl
// delete). Owned by the namespace, a claim is deleted by the garbage
// collector as soon as the namespace's deletion starts (pulumi deletes
// with foreground propagation), its pod long gone, and is gone before that
// first pass. Nothing else changes: a claim still outlives its StatefulSet
// (a layout change keeps the old layout's data), and it never outlived its
// namespace. The patches are RetainOnDelete, so deleting one (destroy, a
// layout change) leaves the reference in place, and skip the provider's
// await, which on a WaitForFirstConsumer storage class (local-path) waits
// for the claim to be Pending, never true of a claim its pod has bound.
func ownedByNamespace(ctx *pulumi.Context, urn string, claims []string, namespace, uid pulumi.StringInput, opts ...pulumi.ResourceOption) error {
	for _, claim := range claims {
		if _, err := corev1.NewPersistentVolumeClaimPatch(ctx, urn+"-"+claim, &corev1.PersistentVolumeClaimPatchArgs{
			Metadata: &metav1.ObjectMetaPatchArgs{
				Name:        pulumi.String(claim),
				Namespace:   namespace,
				Annotations: pulumi.StringMap{skipAwaitAnnotation: pulumi.String("true")},
				OwnerReferences: metav1.OwnerReferencePatchArray{metav1.OwnerReferencePatchArgs{
					ApiVersion: pulumi.String("v1"),
					Kind:       pulumi.String("Namespace"),
					Name:       namespace,
					Uid:        uid,
					// The namespace's foreground deletion waits for the
					// claim, so the garbage collector deletes it then.
					BlockOwnerDeletion: pulumi.Bool(true),
				}},
			},
		}, append(opts, pulumi.RetainOnDelete(true))...); err != nil {
			return err
		}
	}
	return nil
}

func setSizeReason(n, size int) string {
	if size == 0 {
		return "is divisible by none of those sizes"
	}
	return fmt.Sprintf("only splits into sets of %d drives (parity %d)", size, minioDefaultParity(size))
}

// minioStatefulSetName is the StatefulSet of a layout: the lab's "minio"
// for the standalone server, minio-dist<N> for N servers.
//
// Each layout has a StatefulSet, and so volumes (PVCs data-<name>-<i>), of
// its own: MinIO cannot turn a standalone drive into an erasure-set member,
// nor change the size of an erasure set, in place. With separate volumes a
// change of minioReplicas starts an empty MinIO instead of one that
// refuses the old drive format, and the previous layout's PVCs (kept: the
// StatefulSet's retention policy is Retain) still hold its objects.
// Separate names also make the change a create-before-delete replace:
// the provider's preview of a same-name StatefulSet replacement fails
// (pulumi-kubernetes issue 3984), its dry run meeting the old object.
func minioStatefulSetName(replicas int) string {
	if replicas <= 1 {
		return MinioName
	}
	return fmt.Sprintf("%s-dist%d", MinioName, replicas)
}

// minioLayoutWarning is logged (on the MinIO component) whenever the stack
// declares distributed MinIO, previews included: whether the change from
// another layout is pending cannot be known from inside the program, so the
// warning says what such a change does.
func minioLayoutWarning(replicas int) string {
	size := minioErasureSetSize(replicas)
	name := minioStatefulSetName(replicas)
	return fmt.Sprintf("minioReplicas=%d: distributed MinIO in StatefulSet %s, %d erasure set(s) of %d drives "+
		"(parity %d, writes survive %d pod(s) down per set), volumes %s-%s-0..%d. Changing minioReplicas to or from "+
		"this value REPLACES the MinIO StatefulSet: MinIO starts empty on that layout's volumes, and objects stored "+
		"under the previous layout are NOT copied (they stay in its PVCs); see README, \"Scaling MinIO\", for moving them",
		replicas, name, replicas/size, size, minioDefaultParity(size), minioWriteTolerance(size),
		minioVolume, name, replicas-1)
}

// MinioArgs configures the Minio component.
type MinioArgs struct {
	Namespace pulumi.StringInput
	// NamespaceUID is the uid of Namespace, when the stack owns it: the
	// volume claims are then owned by the namespace (ownedByNamespace).
	NamespaceUID pulumi.StringInput
	Image        string
	RootUser     string
	RootPassword pulumi.StringInput // a secret output
	StorageSize  string
	StorageClass string // empty: cluster default
	// Replicas is 1 (the lab's standalone MinIO) or a distributed count
	// that validateMinioReplicas accepts.
	Replicas int
}

// Minio is MinIO as a StatefulSet with a PVC per pod, its credentials
// Secret and its ClusterIP Service: one standalone pod (the lab's layout),
// or distributed MinIO over Replicas pods with a headless Service and a
// PodDisruptionBudget.
type Minio struct {
	pulumi.ResourceState

	// ServiceName is "minio" once the Service exists.
	ServiceName pulumi.StringOutput `pulumi:"serviceName"`
	// SecretName is "minio-secret" once the Secret exists.
	SecretName pulumi.StringOutput `pulumi:"secretName"`
	// Endpoint is the in-namespace address, host:port ("minio:9000").
	Endpoint pulumi.StringOutput `pulumi:"endpoint"`
	// URL is the cluster-wide URL:
	// http://minio.production.svc.cluster.local:9000.
	URL pulumi.StringOutput `pulumi:"url"`
}

// NewMinio creates MinIO.
func NewMinio(ctx *pulumi.Context, name string, args *MinioArgs, opts ...pulumi.ResourceOption) (*Minio, error) {
	comp, err := newComponent[Minio](ctx, TypeMinio, name, args, opts)
	if err != nil {
		return nil, err
	}
	labels := minioLabels

	secret, err := corev1.NewSecret(ctx, name+"-secret", &corev1.SecretArgs{
		Metadata: objectMeta(MinioSecretName, args.Namespace, labels.all()),
		Type:     pulumi.String("Opaque"),
		StringData: pulumi.StringMap{
			MinioSecretUserKey: pulumi.String(args.RootUser),
			// The password stays a secret output: encrypted in state,
			// masked in previews.
			MinioSecretPasswordKey: args.RootPassword,
		},
	}, pulumi.Parent(comp), pulumi.AdditionalSecretOutputs([]string{"data", "stringData"}))
	if err != nil {
		return nil, err
	}
	secretName := nameOf(secret.Metadata)

	pvcSpec := &corev1.PersistentVolumeClaimSpecArgs{
		AccessModes: pulumi.StringArray{pulumi.String("ReadWriteOnce")},
		Resources: &corev1.VolumeResourceRequirementsArgs{
			Requests: pulumi.StringMap{"storage": pulumi.String(args.StorageSize)},
		},
	}
	if args.StorageClass != "" {
		pvcSpec.StorageClassName = pulumi.String(args.StorageClass)
	}

	healthProbe := func(path string, initialDelay int) *corev1.ProbeArgs {
		return httpProbe{
			Path: path, Port: pulumi.Int(MinioAPIPort), Scheme: "HTTP",
			InitialDelaySeconds: initialDelay, PeriodSeconds: 10, TimeoutSeconds: 5, FailureThreshold: 3,
		}.args()
	}

	// The Service is created before the StatefulSet that names it as its
	// governing service (spec.serviceName) in the standalone layout.
	svc, err := newAppService(ctx, name, MinioName, args.Namespace, labels,
		clusterIP(corev1.ServicePortArgs{Port: pulumi.Int(MinioAPIPort), TargetPort: pulumi.Int(MinioAPIPort)}), pulumi.Parent(comp))
	if err != nil {
		return nil, err
	}

	// The lab's layout: one server on one drive, governed by "minio".
	replicas := max(args.Replicas, 1)
	// The StatefulSet, its pods and PVCs are this layout's instance of
	// MinIO (the lab's instance "minio" stays as it was).
	stsLabels := labels
	stsLabels.Instance = minioStatefulSetName(replicas)
	distributed := replicas > 1
	governing := nameOf(svc.Metadata)
	serverArgs := pulumi.StringArray{pulumi.String("server"), pulumi.String(minioDataPath)}
	readiness := healthProbe("/minio/health/ready", 5)
	spec := &appsv1.StatefulSetSpecArgs{}

	if distributed {
		// Peers find each other through the headless Service before any
		// of them is ready (readiness needs the cluster formed), so it
		// publishes not-ready addresses.
		port := tcpServicePort(MinioAPIPort, pulumi.Int(MinioAPIPort))
		port.Name = pulumi.String("api")
		hl, err := newAppService(ctx, name+"-hl", MinioHeadlessServiceName, args.Namespace, labels, &corev1.ServiceSpecArgs{
			ClusterIP:                pulumi.String("None"),
			PublishNotReadyAddresses: pulumi.Bool(true),
			Ports:                    corev1.ServicePortArray{port},
		}, pulumi.Parent(comp))
		if err != nil {
			return nil, err
		}
		governing = nameOf(hl.Metadata)
		// One endpoint per pod, in MinIO's {x...y} notation; each server
		// recognises itself among them by its own host name.
		serverArgs = pulumi.StringArray{
			pulumi.String("server"),
			pulumi.Sprintf("http://%s-{0...%d}.%s.%s.svc.cluster.local:%d%s",
				minioStatefulSetName(replicas), replicas-1, governing, args.Namespace, MinioAPIPort, minioDataPath),
		}
		// Ready = this server has joined the cluster AND the cluster has
		// read quorum: the "minio" Service routes to servers that can
		// answer. Read rather than write quorum (/minio/health/cluster):
		// with more pods down than writes survive, MinIO still serves
		// GETs and refuses PUTs itself, instead of the Service going
		// empty. Liveness stays /minio/health/live: a lost quorum must
		// not restart every pod.
		readiness = healthProbe("/minio/health/cluster/read", 5)
		// All pods start together: none becomes ready before a quorum of
		// them runs, so OrderedReady would wait forever for pod 0.
		spec.PodManagementPolicy = pulumi.String("Parallel")
	}
	serverArgs = append(serverArgs, pulumi.String("--console-address"), pulumi.String(fmt.Sprintf(":%d", MinioConsolePort)))

	podSpec := &corev1.PodSpecArgs{
		SecurityContext: nonRootPodSecurityContext(minioUID),
		Containers: corev1.ContainerArray{
			corev1.ContainerArgs{
				Name:  pulumi.String("minio"),
				Image: pulumi.String(args.Image),
				Args:  serverArgs,
				Ports: corev1.ContainerPortArray{
					corev1.ContainerPortArgs{Name: pulumi.String("api"), ContainerPort: pulumi.Int(MinioAPIPort)},
					corev1.ContainerPortArgs{Name: pulumi.String("console"), ContainerPort: pulumi.Int(MinioConsolePort)},
				},
				Env: corev1.EnvVarArray{
					secretEnv("MINIO_ROOT_USER", secretName, MinioSecretUserKey),
					secretEnv("MINIO_ROOT_PASSWORD", secretName, MinioSecretPasswordKey),
				},
				VolumeMounts: corev1.VolumeMountArray{
					corev1.VolumeMountArgs{Name: pulumi.String(minioVolume), MountPath: pulumi.String(minioDataPath)},
				},
				LivenessProbe:  healthProbe("/minio/health/live", 10),
				ReadinessProbe: readiness,
				Resources: resourceSpec{
					CPURequest: "100m", MemoryRequest: "256Mi",
					CPULimit: "1", MemoryLimit: "1Gi",
				}.args(),
				// MinIO writes only to /data (and its
				// config under it), but it also creates
				// ${HOME}/.minio at start, so the root file
				// system stays writable.
				SecurityContext: nonRootSecurityContext(minioUID, false),
			},
		},
	}
	if distributed {
		// Erasure coding only protects against a node failure if the
		// pods are spread over nodes: at most one more pod on any node
		// than on another, and a pod that would break that stays
		// Pending rather than piling onto one node. Unlike hard
		// anti-affinity this still schedules 4 pods on 2 nodes.
		podSpec.TopologySpreadConstraints = corev1.TopologySpreadConstraintArray{
			corev1.TopologySpreadConstraintArgs{
				MaxSkew:           pulumi.Int(1),
				TopologyKey:       pulumi.String(labelHostname),
				WhenUnsatisfiable: pulumi.String("DoNotSchedule"),
				LabelSelector:     labels.podSelector(),
				// Only this layout's pods count: while a layout change
				// replaces the StatefulSet, the old layout's pods still
				// run and would skew the spread of the new ones.
				MatchLabelKeys: pulumi.StringArray{pulumi.String(labelInstance)},
			},
		}
	}

	spec.ServiceName = governing.ToStringPtrOutput()
	spec.Replicas = pulumi.Int(replicas)
	spec.Selector = labels.podSelector()
	spec.Template = &corev1.PodTemplateSpecArgs{
		Metadata: &metav1.ObjectMetaArgs{Labels: stsLabels.all()},
		Spec:     podSpec,
	}
	spec.VolumeClaimTemplates = corev1.PersistentVolumeClaimTypeArray{
		corev1.PersistentVolumeClaimTypeArgs{
			Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(minioVolume), Labels: stsLabels.all()},
			Spec:     pvcSpec,
		},
	}
	// One logical resource for every layout: switching layouts changes
	// the StatefulSet's name, so the preview shows a replace, and the
	// provider creates the new StatefulSet before deleting the old one.
	sts, err := appsv1.NewStatefulSet(ctx, name, &appsv1.StatefulSetArgs{
		Metadata: objectMeta(minioStatefulSetName(replicas), args.Namespace, stsLabels.all()),
		Spec:     spec,
	}, pulumi.Parent(comp))
	if err != nil {
		return nil, err
	}
	if args.NamespaceUID != nil {
		claims := make([]string, replicas)
		for i := range claims {
			claims[i] = fmt.Sprintf("%s-%s-%d", minioVolume, minioStatefulSetName(replicas), i)
		}
		if err := ownedByNamespace(ctx, name, claims, args.Namespace, args.NamespaceUID,
			pulumi.Parent(comp), pulumi.DependsOn([]pulumi.Resource{sts})); err != nil {
			return nil, err
		}
	}

	if distributed {
		// Voluntary disruptions (drains, evictions) never take more pods
		// than one erasure set can lose and still accept writes; with
		// several sets the budget holds even if all of them are in one.
		// Unhealthy pods are not evicted while the budget is exhausted
		// (the default policy): a cluster without quorum waits for help.
		if _, err := policyv1.NewPodDisruptionBudget(ctx, name, &policyv1.PodDisruptionBudgetArgs{
			Metadata: objectMeta(MinioName, args.Namespace, labels.all()),
			Spec: &policyv1.PodDisruptionBudgetSpecArgs{
				MaxUnavailable: pulumi.Int(minioWriteTolerance(minioErasureSetSize(replicas))),
				Selector:       labels.podSelector(),
			},
		}, pulumi.Parent(comp)); err != nil {
			return nil, err
		}
		// On the component, not the StatefulSet: a log naming a resource
		// waits for its URN, which the engine gives only once the
		// StatefulSet is Ready; that blocked the program, so the
		// NetworkPolicies that let the MinIO pods reach each other (and
		// become Ready) were never applied (seen on the real node).
		_ = ctx.Log.Warn(minioLayoutWarning(replicas), &pulumi.LogArgs{Resource: comp})
	}

	comp.ServiceName = nameOf(svc.Metadata)
	comp.SecretName = secretName
	comp.Endpoint = pulumi.Sprintf("%s:%d", comp.ServiceName, MinioAPIPort)
	comp.URL = pulumi.Sprintf("http://%s.%s.svc.cluster.local:%d", comp.ServiceName, svc.Metadata.Namespace().Elem(), MinioAPIPort)
	return withOutputs(ctx, comp, pulumi.Map{
		"serviceName": comp.ServiceName,
		"secretName":  comp.SecretName,
		"endpoint":    comp.Endpoint,
		"url":         comp.URL,
	})
}
