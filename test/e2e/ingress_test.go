//go:build cluster

package e2e

import (
	"context"
	"regexp"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"github.com/lab5/k8s-networking/internal/kubetest"
)

// TestIngressControllerSwitch: the migration off ingress-nginx on a live
// stack, against the real API server. up with Traefik; no changes on
// preview; switch to ingress-nginx and back (the preview names the one
// IngressClass nginx as an update, and it keeps its uid: no second
// IngressClass, no window without one; the Ingress is never re-created);
// then the Gateway API route; destroy leaves nothing, CRDs included.
//
// Fake nodes run no Traefik, so what is checked is what the API server
// holds and admits (Pod Security restricted for Traefik's pod), not traffic.
func TestIngressControllerSwitch(t *testing.T) {
	cs := kubetest.Client(t)
	ctx := context.Background()
	for _, ns := range append([]string{"traefik"}, stackNamespaces...) {
		if _, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("namespace %s exists before the test: the control plane is not empty (%v)", ns, err)
		}
	}
	gw, err := gatewayclient.NewForConfig(kubetest.RestConfig(t))
	if err != nil {
		t.Fatal(err)
	}

	s := newStack(t)
	s.DestroyOnFailure()

	// Traefik from the start.
	s.SetConfig("ingressController", "traefik")
	timed(t, s, "pulumi up (traefik)", s.WithConfig("up", "--yes", "--skip-preview")...)
	class := checkTraefikServes(t, cs)
	ing, err := cs.NetworkingV1().Ingresses("default").Get(ctx, "echoserver-ingress", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkIngress(t, ing)
	requireGone(t, cs, object{"Namespace", "", "ingress-nginx"})
	timed(t, s, "pulumi preview (traefik, no changes)", s.WithConfig("preview", "--expect-no-changes")...)

	// To ingress-nginx: the preview shows the IngressClass updated in
	// place, not created or replaced.
	s.SetConfig("ingressController", "ingress-nginx")
	out := timed(t, s, "pulumi up (to ingress-nginx)", s.WithConfig("up", "--yes")...)
	checkIngressClassUpdatedInPlace(t, out)
	checkControllerNamespace(t, cs, "ingress-nginx", "traefik")
	checkSameObject(t, cs, class, ing.UID, "app.kubernetes.io/name", "ingress-nginx")
	timed(t, s, "pulumi preview (ingress-nginx, no changes)", s.WithConfig("preview", "--expect-no-changes")...)

	// Back to Traefik, now with the Gateway API route.
	s.SetConfig("ingressController", "traefik", "ingressRoute", "gateway")
	out = timed(t, s, "pulumi up (traefik + gateway)", s.WithConfig("up", "--yes")...)
	checkIngressClassUpdatedInPlace(t, out)
	checkControllerNamespace(t, cs, "traefik", "ingress-nginx")
	cur, err := cs.NetworkingV1().IngressClasses().Get(ctx, "nginx", metav1.GetOptions{})
	if err != nil || cur.UID != class {
		t.Fatalf("IngressClass nginx after switching back: uid %v (was %s), %v", cur.GetUID(), class, err)
	}
	requireGone(t, cs, object{"Ingress", "default", "echoserver-ingress"})
	checkGatewayRoute(t, cs, gw)
	timed(t, s, "pulumi preview (gateway, no changes)", s.WithConfig("preview", "--expect-no-changes")...)

	timedDestroy(t, s, "pulumi destroy (gateway)")
	for _, ns := range append([]string{"traefik"}, stackNamespaces...) {
		requireGone(t, cs, object{"Namespace", "", ns})
	}
	if _, err := cs.NetworkingV1().IngressClasses().Get(ctx, "nginx", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("IngressClass nginx after destroy: %v", err)
	}
	kubetest.Eventually(t, readyTimeout, "Gateway API CRDs gone", func(ctx context.Context) (bool, error) {
		_, err := cs.Discovery().ServerResourcesForGroupVersion("gateway.networking.k8s.io/v1")
		return apierrors.IsNotFound(err), nil
	})
	if !strings.Contains(s.Pulumi("stack", "--stack", "dev", "--show-urns"), "Current stack resources (0)") {
		t.Error("the stack still holds resources after destroy")
	}
}

// checkTraefikServes: Traefik's Deployment is available (its pod was
// admitted under Pod Security restricted), IngressClass nginx is Traefik's,
// and the echoserver policy admits Traefik's pods. It returns the
// IngressClass's uid.
func checkTraefikServes(t *testing.T, cs *kubernetes.Clientset) types.UID {
	t.Helper()
	ctx := context.Background()
	ns, err := cs.CoreV1().Namespaces().Get(ctx, "traefik", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := ns.Labels["pod-security.kubernetes.io/enforce"]; got != "restricted" {
		t.Errorf("namespace traefik enforces %q", got)
	}
	kubetest.Eventually(t, readyTimeout, "Traefik available", func(ctx context.Context) (bool, error) {
		d, err := cs.AppsV1().Deployments("traefik").Get(ctx, "traefik", metav1.GetOptions{})
		return err == nil && d.Status.AvailableReplicas == 1, err
	})
	if svc := getService(t, cs, "traefik", "traefik"); svc.Spec.Type != "NodePort" || svc.Spec.Ports[0].Name != "http" || svc.Spec.Ports[0].NodePort == 0 {
		t.Errorf("Service traefik/traefik: %s %+v", svc.Spec.Type, svc.Spec.Ports)
	}
	for _, name := range []string{"traefik-ingress-nginx"} {
		if _, err := cs.RbacV1().ClusterRoles().Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Errorf("ClusterRole %s: %v", name, err)
		}
	}
	ic, err := cs.NetworkingV1().IngressClasses().Get(ctx, "nginx", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ic.Spec.Controller != "k8s.io/ingress-nginx" || ic.Labels["app.kubernetes.io/name"] != "traefik" {
		t.Errorf("IngressClass nginx: controller %q labels %v; want Traefik's, with ingress-nginx's controller value", ic.Spec.Controller, ic.Labels)
	}
	checkControllerPolicy(t, cs, "traefik")
	return ic.UID
}

// checkControllerPolicy: echoserver-allow-ingress-controller admits the
// pods of the controller namespace given.
func checkControllerPolicy(t *testing.T, cs *kubernetes.Clientset, controllerNS string) {
	t.Helper()
	np, err := cs.NetworkingV1().NetworkPolicies("default").Get(context.Background(), "echoserver-allow-ingress-controller", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var peer networkingv1.NetworkPolicyPeer
	if len(np.Spec.Ingress) == 1 && len(np.Spec.Ingress[0].From) == 1 {
		peer = np.Spec.Ingress[0].From[0]
	}
	if peer.NamespaceSelector == nil || peer.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != controllerNS || peer.PodSelector == nil {
		t.Errorf("echoserver-allow-ingress-controller admits %+v; want the pods of namespace %s", np.Spec.Ingress, controllerNS)
	}
}

// checkIngressClassUpdatedInPlace reads pulumi up's preview: the
// IngressClass nginx is updated (the alias carries it from one controller
// component to the other), never created, replaced or deleted.
func checkIngressClassUpdatedInPlace(t *testing.T, out string) {
	t.Helper()
	lines := regexp.MustCompile(`(?m)^.*networking\.k8s\.io/v1:IngressClass.*$`).FindAllString(out, -1)
	updated := false
	for _, l := range lines {
		if strings.Contains(l, "create") || strings.Contains(l, "replace") || strings.Contains(l, "delete") {
			t.Errorf("the IngressClass is not updated in place: %q", l)
		}
		updated = updated || strings.Contains(l, "update")
	}
	if !updated {
		t.Errorf("the preview shows no update of the IngressClass:\n%s", out)
	}
	t.Logf("the IngressClass in the preview: %q", lines)
}

// checkControllerNamespace: the controller of namespace have runs, the
// other one's namespace is gone, and the policy follows.
func checkControllerNamespace(t *testing.T, cs *kubernetes.Clientset, have, gone string) {
	t.Helper()
	name := map[string]string{"traefik": "traefik", "ingress-nginx": "ingress-nginx-controller"}[have]
	kubetest.Eventually(t, readyTimeout, "controller "+have+"/"+name+" available", func(ctx context.Context) (bool, error) {
		d, err := cs.AppsV1().Deployments(have).Get(ctx, name, metav1.GetOptions{})
		return err == nil && d.Status.AvailableReplicas >= 1, err
	})
	requireGone(t, cs, object{"Namespace", "", gone})
	checkControllerPolicy(t, cs, have)
}

// checkSameObject: the IngressClass and the Ingress are the objects they
// were (same uid): switching controllers re-creates neither.
func checkSameObject(t *testing.T, cs *kubernetes.Clientset, class, ingress types.UID, label, value string) {
	t.Helper()
	ctx := context.Background()
	ic, err := cs.NetworkingV1().IngressClasses().Get(ctx, "nginx", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ic.UID != class || ic.Labels[label] != value {
		t.Errorf("IngressClass nginx: uid %s (was %s), %s=%q; want the same object relabelled %s", ic.UID, class, label, ic.Labels[label], value)
	}
	ing, err := cs.NetworkingV1().Ingresses("default").Get(ctx, "echoserver-ingress", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ing.UID != ingress {
		t.Errorf("Ingress echoserver-ingress was re-created (uid %s, was %s)", ing.UID, ingress)
	}
	checkIngress(t, ing)
}

// checkGatewayRoute: the Gateway API CRDs are served and the route's
// objects are stored as declared.
func checkGatewayRoute(t *testing.T, cs *kubernetes.Clientset, gw gatewayclient.Interface) {
	t.Helper()
	ctx := context.Background()
	res, err := cs.Discovery().ServerResourcesForGroupVersion("gateway.networking.k8s.io/v1")
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]bool{}
	for _, r := range res.APIResources {
		served[r.Name] = true
	}
	for _, r := range []string{"gatewayclasses", "gateways", "httproutes", "grpcroutes", "backendtlspolicies"} {
		if !served[r] {
			t.Errorf("gateway.networking.k8s.io/v1 %s not served", r)
		}
	}
	if _, err := cs.RbacV1().ClusterRoles().Get(ctx, "traefik-gateway", metav1.GetOptions{}); err != nil {
		t.Errorf("ClusterRole traefik-gateway: %v", err)
	}
	class, err := gw.GatewayV1().GatewayClasses().Get(ctx, "traefik", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if class.Spec.ControllerName != "traefik.io/gateway-controller" {
		t.Errorf("GatewayClass traefik controllerName %q", class.Spec.ControllerName)
	}
	g, err := gw.GatewayV1().Gateways("traefik").Get(ctx, "lab5-gateway", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if g.Spec.GatewayClassName != "traefik" || len(g.Spec.Listeners) != 1 || g.Spec.Listeners[0].Port != 8000 {
		t.Errorf("Gateway traefik/lab5-gateway: %+v", g.Spec)
	}
	route, err := gw.GatewayV1().HTTPRoutes("default").Get(ctx, "echoserver-route", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(route.Spec.Hostnames) != 1 || !strings.HasPrefix(string(route.Spec.Hostnames[0]), "echoserver.") ||
		len(route.Spec.ParentRefs) != 1 || route.Spec.ParentRefs[0].Name != "lab5-gateway" ||
		len(route.Spec.Rules) != 1 || route.Spec.Rules[0].BackendRefs[0].Name != "echoserver" {
		t.Errorf("HTTPRoute default/echoserver-route: %+v", route.Spec)
	}
}
