//go:build cluster

package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/lab5/k8s-networking/internal/kubetest"
)

// priceRecord is the history-server's wire format, in the order of its
// fields in the stored object.
type priceRecord struct {
	EstonianTime string  `json:"estonian_time"`
	Price        float64 `json:"price"`
	Timestamp    int64   `json:"timestamp"`
}

// eet is Estonian winter time; the server keeps any offset as sent.
var eet = time.FixedZone("EET", 2*3600)

// testDays are n consecutive days from 2001-01-01 (from start days later):
// a range no other test stores.
func testDays(start, n int) []string {
	first := time.Date(2001, 1, 1, 0, 0, 0, 0, eet)
	days := make([]string, n)
	for i := range days {
		days[i] = first.AddDate(0, 0, start+i).Format("2006-01-02")
	}
	return days
}

// dayBody is 24 hourly prices of day, different for every day and
// variant, in the compact form the server stores and serves back: a GET
// must return exactly these bytes.
func dayBody(day string, variant int) []byte {
	start, err := time.ParseInLocation("2006-01-02", day, eet)
	if err != nil {
		panic(err)
	}
	recs := make([]priceRecord, 24)
	for i := range recs {
		at := start.Add(time.Duration(i) * time.Hour)
		recs[i] = priceRecord{at.Format(time.RFC3339), float64(start.YearDay()*100+variant*10+i)/100 - 5, at.Unix()}
	}
	b, err := json.Marshal(recs)
	if err != nil {
		panic(err)
	}
	return b
}

// historyServer talks to the history-server Service's ClusterIP from the
// test process. The test runs on the node itself, and traffic from a
// pod's own node is always admitted by NetworkPolicies (the kubelet's
// probes come that way), so production's lockdown does not apply to it.
type historyServer struct{ base string }

func newHistoryServer(t *testing.T, cs kubernetes.Interface) historyServer {
	t.Helper()
	svc, err := cs.CoreV1().Services("production").Get(context.Background(), "history-server", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return historyServer{base: fmt.Sprintf("http://%s:%d/api/prices/", svc.Spec.ClusterIP, svc.Spec.Ports[0].Port)}
}

func (h historyServer) post(ctx context.Context, day string, body []byte) error {
	code, got, err := kubetest.Do(ctx, http.MethodPost, h.base+"?day="+day, "", "application/json", body)
	if err == nil && code != http.StatusCreated {
		err = &statusError{"POST", code, got}
	}
	return err
}

// get checks that day holds exactly want.
func (h historyServer) get(ctx context.Context, day string, want []byte) error {
	code, got, err := kubetest.Get(ctx, h.base+"?day="+day, "")
	switch {
	case err != nil:
		return err
	case code != http.StatusOK:
		return &statusError{"GET", code, got}
	case !bytes.Equal(got, want):
		return fmt.Errorf("GET: %d bytes differ from the %d POSTed: %.120s", len(got), len(want), got)
	}
	return nil
}

// statusError is an answer of the history-server with an unexpected status.
type statusError struct {
	method string
	code   int
	body   []byte
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s: status %d: %.200s", e.method, e.code, e.body)
}

// retryUnavailable makes do a client that follows the history-server's
// contract: 503 (storage unavailable, with Retry-After: 5) is retried after
// 5 s, at most twice; retried counts the retries.
func retryUnavailable(retried *atomic.Int32, do func(ctx context.Context, day string) error) func(ctx context.Context, day string) error {
	return func(ctx context.Context, day string) error {
		for attempt := 1; ; attempt++ {
			err := do(ctx, day)
			var se *statusError
			if attempt > 2 || !errors.As(err, &se) || se.code != http.StatusServiceUnavailable {
				return err
			}
			retried.Add(1)
			select {
			case <-ctx.Done():
				return err
			case <-time.After(5 * time.Second):
			}
		}
	}
}

// forEachDay runs do for every day from 8 goroutines and returns the
// errors, at most one per day, each naming its day.
func forEachDay(days []string, do func(ctx context.Context, day string) error) []error {
	var mu sync.Mutex
	var errs []error
	next := make(chan string)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for day := range next {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				if err := do(ctx, day); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("day %s: %w", day, err))
					mu.Unlock()
				}
				cancel()
			}
		}()
	}
	for _, d := range days {
		next <- d
	}
	close(next)
	wg.Wait()
	return errs
}

// requireNoErrors fails the test with the first few errors and their count.
func requireNoErrors(t *testing.T, what string, errs []error) {
	t.Helper()
	if len(errs) > 0 {
		t.Fatalf("%s: %d failed, e.g. %v", what, len(errs), errs[:min(3, len(errs))])
	}
}

// throughput is the history-server's rate at 16 clients reading the given
// days (each GET fetches a stored day from MinIO), printed, never
// asserted: the machine's other load decides it.
func throughput(t *testing.T, h historyServer, layout string, days []string) {
	t.Helper()
	l := kubetest.RunLoad(16, 10*time.Second, 10*time.Second, func(ctx context.Context, client, n int) error {
		day := days[(client*7+n)%len(days)]
		return h.get(ctx, day, dayBody(day, 0))
	})
	t.Logf("history-server GET throughput with %s: %s", layout, l)
	if l.Failed > 0 {
		t.Errorf("%d of %d GETs failed under load with %s", l.Failed, l.Requests, layout)
	}
}

// minioPods are the pods of the MinIO StatefulSet of the current layout.
func minioPods(t *testing.T, cs kubernetes.Interface, replicas int) []corev1.Pod {
	t.Helper()
	name := "minio"
	if replicas > 1 {
		name = fmt.Sprintf("minio-dist%d", replicas)
	}
	sts, err := cs.AppsV1().StatefulSets("production").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sel, err := metav1.LabelSelectorAsSelector(sts.Spec.Selector)
	if err != nil {
		t.Fatal(err)
	}
	pods, err := cs.CoreV1().Pods("production").List(context.Background(), metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		t.Fatal(err)
	}
	var own []corev1.Pod
	for _, p := range pods.Items {
		for _, ref := range p.OwnerReferences {
			if ref.UID == sts.UID {
				own = append(own, p)
			}
		}
	}
	return own
}

// setUnschedulable cordons or uncordons the node.
func setUnschedulable(t *testing.T, cs kubernetes.Interface, node string, on bool) {
	t.Helper()
	patch := fmt.Sprintf(`{"spec":{"unschedulable":%v}}`, on)
	if _, err := cs.CoreV1().Nodes().Patch(context.Background(), node, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

// Distributed MinIO and the history-server's replicas with real pods
// (issue 15, item 4), on the one real node: minioReplicas=4 (one erasure
// set of 4 drives, each pod its own volume); 200 days POSTed through the
// history-server; one MinIO pod deleted and kept from coming back (the
// node cordoned) while every day is read back byte-equal and new days are
// stored; after it returns, everything readable. Then one history-server
// pod deleted under a steady stream of GETs (failures and their window
// printed), and the GET throughput at 16 clients with 1 and with 4 MinIO
// pods. The stack is restored to minioReplicas=1 at the end.
func TestScalingDistributedMinioAndHistoryServerSurvivePodLoss(t *testing.T) {
	cs := requireStack(t)
	s := deployedStack(t)
	if got := configValue(s, "minioReplicas"); got != "1" {
		t.Fatalf("minioReplicas is %q before the test: the stack is deployed with the lab's single MinIO pod", got)
	}
	ctx := context.Background()
	h := newHistoryServer(t, cs)

	// Throughput with the lab's one MinIO pod, on days of its own.
	single := testDays(1000, 32)
	requireNoErrors(t, "POST with 1 MinIO pod", forEachDay(single, func(ctx context.Context, day string) error {
		return h.post(ctx, day, dayBody(day, 0))
	}))
	throughput(t, h, "1 MinIO pod", single)

	restored := false
	t.Cleanup(func() {
		if !restored {
			s.SetConfig("minioReplicas", "1")
			s.Up()
		}
		deleteLayoutVolumes(t, cs, 4)
	})
	s.SetConfig("minioReplicas", "4")
	start := time.Now()
	logChanges(t, s.Up())
	t.Logf("minioReplicas 1 -> 4: pulumi up %s", time.Since(start).Round(time.Second))
	pods := minioPods(t, cs, 4)
	if len(pods) != 4 {
		t.Fatalf("%d MinIO pods with minioReplicas=4", len(pods))
	}
	for _, p := range pods {
		if !kubetest.IsReady(&p) || p.Spec.NodeName != "lab5-node" {
			t.Fatalf("MinIO pod %s: ready %v on node %q", p.Name, kubetest.IsReady(&p), p.Spec.NodeName)
		}
	}
	if n := kubetest.ReadyEndpoints(ctx, cs, "production", "minio"); n != 4 {
		t.Fatalf("Service minio has %d ready endpoints, want the 4 pods", n)
	}

	// The new layout starts empty (MinIO cannot convert a standalone
	// deployment): the history-server creates its bucket once it sees it.
	days := testDays(0, 200)
	kubetest.Eventually(t, 2*time.Minute, "the first POST to distributed MinIO", func(ctx context.Context) (bool, error) {
		err := h.post(ctx, days[0], dayBody(days[0], 0))
		return err == nil, err
	})
	requireNoErrors(t, "POST 200 days", forEachDay(days, func(ctx context.Context, day string) error {
		return h.post(ctx, day, dayBody(day, 0))
	}))
	t.Logf("%d days POSTed through the history-server to 4 MinIO pods", len(days))
	throughput(t, h, "4 MinIO pods", days)

	// One MinIO pod down: deleted, and kept from coming back by cordoning
	// the (only) node.
	node := "lab5-node"
	setUnschedulable(t, cs, node, true)
	uncordoned := false
	t.Cleanup(func() {
		if !uncordoned {
			setUnschedulable(t, cs, node, false)
		}
	})
	victim := pods[len(pods)-1].Name
	if err := cs.CoreV1().Pods("production").Delete(ctx, victim, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	kubetest.Eventually(t, time.Minute, "MinIO pod "+victim+" down (3 ready endpoints)", func(ctx context.Context) (bool, error) {
		n := kubetest.ReadyEndpoints(ctx, cs, "production", "minio")
		return n == 3, fmt.Errorf("%d ready endpoints", n)
	})
	// Right after the loss a few requests may get 503 (seen: 3 of 200
	// GETs, once in six runs) while MinIO's servers notice their peer is
	// gone; a client following the API's Retry-After gets every day.
	down := time.Now()
	var getRetries, postRetries atomic.Int32
	requireNoErrors(t, "GET with a MinIO pod down", forEachDay(days, retryUnavailable(&getRetries, func(ctx context.Context, day string) error {
		return h.get(ctx, day, dayBody(day, 0))
	})))
	newDays := testDays(200, 20)
	requireNoErrors(t, "POST with a MinIO pod down", forEachDay(newDays, retryUnavailable(&postRetries, func(ctx context.Context, day string) error {
		return h.post(ctx, day, dayBody(day, 1))
	})))
	p, err := cs.CoreV1().Pods("production").Get(ctx, victim, metav1.GetOptions{})
	if err == nil && kubetest.IsReady(p) {
		t.Fatalf("MinIO pod %s is Ready again: the checks above did not run with it down", victim)
	}
	t.Logf("with MinIO pod %s down (%s): %d days read back byte-equal, %d new days stored (201); retries after a 503: %d GET, %d POST",
		victim, time.Since(down).Round(time.Second), len(days), len(newDays), getRetries.Load(), postRetries.Load())

	setUnschedulable(t, cs, node, false)
	uncordoned = true
	kubetest.Eventually(t, 3*time.Minute, "MinIO pod "+victim+" back (4 ready endpoints)", func(ctx context.Context) (bool, error) {
		n := kubetest.ReadyEndpoints(ctx, cs, "production", "minio")
		return n == 4, fmt.Errorf("%d ready endpoints", n)
	})
	all := append(append([]string{}, days...), newDays...)
	requireNoErrors(t, "GET after the MinIO pod returned", forEachDay(all, func(ctx context.Context, day string) error {
		variant := 0
		if day >= newDays[0] {
			variant = 1
		}
		return h.get(ctx, day, dayBody(day, variant))
	}))
	t.Logf("MinIO pod %s back: all %d days read back byte-equal", victim, len(all))

	historyServerPodLoss(t, cs, h, days)

	s.SetConfig("minioReplicas", "1")
	start = time.Now()
	logChanges(t, s.Up())
	restored = true
	t.Logf("minioReplicas 4 -> 1: pulumi up %s", time.Since(start).Round(time.Second))
	if pods := minioPods(t, cs, 1); len(pods) != 1 {
		t.Errorf("%d MinIO pods after restoring minioReplicas=1", len(pods))
	}
}

// deleteLayoutVolumes deletes the PersistentVolumeClaims a distributed
// layout left behind (a StatefulSet keeps them when it goes; the README's
// "Scaling MinIO" says why) and waits until their volumes are deleted too,
// so that the stack is left as deployed: local-path-provisioner's helper
// pods that delete the folders are done before the tests after this one.
func deleteLayoutVolumes(t *testing.T, cs kubernetes.Interface, replicas int) {
	t.Helper()
	ctx := context.Background()
	var volumes []string
	for i := range replicas {
		name := fmt.Sprintf("data-minio-dist%d-%d", replicas, i)
		pvc, err := cs.CoreV1().PersistentVolumeClaims("production").Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		volumes = append(volumes, pvc.Spec.VolumeName)
		if err := cs.CoreV1().PersistentVolumeClaims("production").Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
	}
	kubetest.Eventually(t, 2*time.Minute, fmt.Sprintf("volumes %v deleted", volumes), func(ctx context.Context) (bool, error) {
		for _, v := range volumes {
			_, err := cs.CoreV1().PersistentVolumes().Get(ctx, v, metav1.GetOptions{})
			if err == nil {
				return false, fmt.Errorf("PersistentVolume %s still there", v)
			}
			if !apierrors.IsNotFound(err) {
				return false, err
			}
		}
		return true, nil
	})
	t.Logf("the %d volumes of minioReplicas=%d deleted", len(volumes), replicas)
}

// historyServerPodLoss deletes one history-server pod (the stack runs 2)
// while 4 clients GET days back to back, until its replacement is Ready,
// and prints what the clients saw.
func historyServerPodLoss(t *testing.T, cs kubernetes.Interface, h historyServer, days []string) {
	t.Helper()
	ctx := context.Background()
	dep, err := cs.AppsV1().Deployments("production").Get(ctx, "history-server", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sel, err := metav1.LabelSelectorAsSelector(dep.Spec.Selector)
	if err != nil {
		t.Fatal(err)
	}
	pods, err := cs.CoreV1().Pods("production").List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) < 2 {
		t.Fatalf("%d history-server pods: the stack runs 2, so that one can go", len(pods.Items))
	}
	var mu sync.Mutex
	n := 0
	poller := kubetest.StartPoller(4, 10*time.Millisecond, 5*time.Second, func(ctx context.Context) error {
		mu.Lock()
		day := days[n%len(days)]
		n++
		mu.Unlock()
		return h.get(ctx, day, dayBody(day, 0))
	})
	time.Sleep(2 * time.Second) // a steady stream before the loss
	victim := pods.Items[0]
	if err := cs.CoreV1().Pods("production").Delete(ctx, victim.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	kubetest.Eventually(t, 3*time.Minute, "history-server replaced (2 ready endpoints, "+victim.Name+" gone)", func(ctx context.Context) (bool, error) {
		_, err := cs.CoreV1().Pods("production").Get(ctx, victim.Name, metav1.GetOptions{})
		gone := apierrors.IsNotFound(err)
		n := kubetest.ReadyEndpoints(ctx, cs, "production", "history-server")
		return gone && n == 2, fmt.Errorf("%d ready endpoints, old pod gone: %v", n, gone)
	})
	time.Sleep(2 * time.Second)
	o := poller.Stop()
	t.Logf("history-server pod %s deleted under 4 clients: %s", victim.Name, o)
	// Requests could fail only while the Service still sends some to the
	// deleted pod; its preStop sleep keeps it serving meanwhile, so none
	// failed here (without it: 36 of ~2800, connection refused).
	// Generous, for a loaded CI machine; a longer span means the second
	// replica did not carry the load.
	const bound = 10 * time.Second
	if o.Span > bound {
		t.Errorf("requests failed over %s (bound %s) when one of 2 history-server pods went: %s", o.Span, bound, o)
	}
}
