package infra

import (
	admissionregistrationv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/admissionregistration/v1"
	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	batchv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/batch/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	rbacv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/rbac/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// ingress-nginx's admission webhook (upstream's kube-webhook-certgen Jobs,
// their RBAC and the ValidatingWebhookConfiguration), left out entirely with
// IngressNginxArgs.AdmissionWebhook=false.

// admissionParts are the admission webhook's objects.
type admissionParts struct {
	saName    pulumi.StringOutput
	grants    []pulumi.Resource
	service   *corev1.Service
	createJob *batchv1.Job
}

// newAdmissionParts creates what the controller needs before it starts:
// the admission ServiceAccount and RBAC, the admission Service and the Job
// that generates the webhook's certificate Secret.
func newAdmissionParts(ctx *pulumi.Context, name string, namespace pulumi.StringOutput,
	admLabels, ctrlLabels pulumi.StringMap, parent pulumi.ResourceOption,
) (*admissionParts, error) {
	a := &admissionParts{}
	urn := name + "-admission"

	var err error
	if a.saName, err = newTokenServiceAccount(ctx, urn, IngressNginxAdmissionName, namespace, admLabels, parent); err != nil {
		return nil, err
	}
	if a.grants, err = (serviceAccountGrant{
		URN: urn, Name: IngressNginxAdmissionName, Namespace: namespace, AccountNamespace: IngressNginxNamespace, ServiceAccount: IngressNginxAdmissionName,
		Labels: admLabels, ClusterLabels: admLabels,
		Rules: rbacv1.PolicyRuleArray{
			policyRule(core, []string{"secrets"}, []string{"get", "create"}),
		},
		ClusterRules: rbacv1.PolicyRuleArray{
			policyRule([]string{"admissionregistration.k8s.io"}, []string{"validatingwebhookconfigurations"}, []string{"get", "update"}),
		},
	}).create(ctx, parent); err != nil {
		return nil, err
	}

	a.service, err = corev1.NewService(ctx, name+"-controller-admission", &corev1.ServiceArgs{
		Metadata: objectMeta(IngressNginxAdmissionSvcName, namespace, ctrlLabels),
		Spec: &corev1.ServiceSpecArgs{
			Type:     pulumi.String("ClusterIP"),
			Selector: ingressNginxSelector(),
			Ports: corev1.ServicePortArray{corev1.ServicePortArgs{
				AppProtocol: pulumi.String("https"),
				Name:        pulumi.String("https-webhook"),
				Port:        pulumi.Int(443),
				TargetPort:  pulumi.String("webhook"),
			}},
		},
	}, parent)
	if err != nil {
		return nil, err
	}

	a.createJob, err = newAdmissionJob(ctx, name+"-admission-create", IngressNginxAdmissionCreateJob, "create",
		namespace, a.saName, admLabels, pulumi.StringArray{
			pulumi.String("create"),
			pulumi.Sprintf("--host=%[1]s,%[1]s.$(POD_NAMESPACE).svc", nameOf(a.service.Metadata)),
			pulumi.String("--namespace=$(POD_NAMESPACE)"),
			pulumi.String("--secret-name=" + IngressNginxAdmissionName),
		}, parent, pulumi.DependsOn(a.grants))
	if err != nil {
		return nil, err
	}
	return a, nil
}

// finish creates the ValidatingWebhookConfiguration once the controller
// (its backend) is ready, then the Job that patches the generated CA into it.
func (a *admissionParts) finish(ctx *pulumi.Context, name string, namespace pulumi.StringOutput,
	admLabels pulumi.StringMap, controller *appsv1.Deployment, parent pulumi.ResourceOption,
) (*admissionregistrationv1.ValidatingWebhookConfiguration, *batchv1.Job, error) {
	vwc, err := admissionregistrationv1.NewValidatingWebhookConfiguration(ctx, name+"-admission",
		&admissionregistrationv1.ValidatingWebhookConfigurationArgs{
			Metadata: clusterObjectMeta(IngressNginxAdmissionName, admLabels),
			Webhooks: admissionregistrationv1.ValidatingWebhookArray{admissionregistrationv1.ValidatingWebhookArgs{
				AdmissionReviewVersions: pulumi.StringArray{pulumi.String("v1")},
				ClientConfig: admissionregistrationv1.WebhookClientConfigArgs{
					Service: &admissionregistrationv1.ServiceReferenceArgs{
						Name:      nameOf(a.service.Metadata),
						Namespace: namespace,
						Path:      pulumi.String("/networking/v1/ingresses"),
						Port:      pulumi.Int(443),
					},
				},
				FailurePolicy: pulumi.String("Fail"),
				MatchPolicy:   pulumi.String("Equivalent"),
				Name:          pulumi.String(ingressNginxWebhookName),
				Rules: admissionregistrationv1.RuleWithOperationsArray{admissionregistrationv1.RuleWithOperationsArgs{
					ApiGroups:   pulumi.StringArray{pulumi.String("networking.k8s.io")},
					ApiVersions: pulumi.StringArray{pulumi.String("v1")},
					Operations:  pulumi.StringArray{pulumi.String("CREATE"), pulumi.String("UPDATE")},
					Resources:   pulumi.StringArray{pulumi.String("ingresses")},
				}},
				SideEffects: pulumi.String("None"),
			}},
		},
		parent,
		pulumi.DependsOn([]pulumi.Resource{controller}),
		// caBundle is written by the patch Job, not by this program:
		// never diff or reset it.
		pulumi.IgnoreChanges([]string{"webhooks[0].clientConfig.caBundle"}),
	)
	if err != nil {
		return nil, nil, err
	}

	patchJob, err := newAdmissionJob(ctx, name+"-admission-patch", IngressNginxAdmissionPatchJob, "patch",
		namespace, a.saName, admLabels, pulumi.StringArray{
			pulumi.String("patch"),
			pulumi.Sprintf("--webhook-name=%s", nameOf(vwc.Metadata)),
			pulumi.String("--namespace=$(POD_NAMESPACE)"),
			pulumi.String("--patch-mutating=false"),
			pulumi.String("--secret-name=" + IngressNginxAdmissionName),
			pulumi.String("--patch-failure-policy=Fail"),
		}, parent, pulumi.DependsOn(append([]pulumi.Resource{a.createJob}, a.grants...)))
	if err != nil {
		return nil, nil, err
	}
	return vwc, patchJob, nil
}

// newAdmissionJob is one of upstream's two kube-webhook-certgen Jobs.
//
// ttlSecondsAfterFinished (upstream: 0) is deliberately left out. With 0 the
// TTL controller deletes each Job as soon as it completes; Pulumi's state
// still lists it, so every `pulumi refresh` drops the Jobs and the next
// `pulumi up` re-creates them, re-running certgen each time (a permanent
// diff). Without the TTL the completed Jobs stay, which is also what the
// lab shows (`kubectl get pods -n ingress-nginx` lists the two Completed
// admission pods). They are tiny, and `pulumi destroy` removes them.
func newAdmissionJob(ctx *pulumi.Context, urn, jobName, container string, namespace, saName pulumi.StringOutput,
	labels pulumi.StringMap, jobArgs pulumi.StringArray, opts ...pulumi.ResourceOption,
) (*batchv1.Job, error) {
	return batchv1.NewJob(ctx, urn, &batchv1.JobArgs{
		Metadata: objectMeta(jobName, namespace, labels),
		Spec: &batchv1.JobSpecArgs{
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(jobName), Labels: labels},
				Spec: &corev1.PodSpecArgs{
					AutomountServiceAccountToken: pulumi.Bool(true),
					Containers: corev1.ContainerArray{corev1.ContainerArgs{
						Name:            pulumi.String(container),
						Image:           pulumi.String(webhookCertgenImage),
						ImagePullPolicy: pulumi.String("IfNotPresent"),
						Args:            jobArgs,
						Env: corev1.EnvVarArray{corev1.EnvVarArgs{
							Name: pulumi.String("POD_NAMESPACE"),
							ValueFrom: &corev1.EnvVarSourceArgs{
								FieldRef: &corev1.ObjectFieldSelectorArgs{FieldPath: pulumi.String("metadata.namespace")},
							},
						}},
						Resources: resourceSpec{
							CPURequest: "10m", MemoryRequest: "20Mi",
							CPULimit: "100m", MemoryLimit: "64Mi",
						}.args(),
						// Upstream's: the "restricted" profile as uid 65532.
						SecurityContext: nonRootSecurityContext(65532, true),
					}},
					NodeSelector:       pulumi.StringMap{"kubernetes.io/os": pulumi.String("linux")},
					RestartPolicy:      pulumi.String("OnFailure"),
					ServiceAccountName: saName,
				},
			},
		},
	}, opts...)
}
