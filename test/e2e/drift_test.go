//go:build cluster

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/lab5/k8s-networking/internal/stacktest"
)

// checkDriftRepaired deletes one of the stack's objects behind Pulumi's
// back, as a user with kubectl would, and checks that make preview reports
// it and make up puts it back; then a no-op make preview is timed.
func checkDriftRepaired(t *testing.T, cs *kubernetes.Clientset, s *stacktest.Stack) {
	t.Helper()
	svc := object{"Service", "production", "history-server"}
	if err := cs.CoreV1().Services(svc.namespace).Delete(context.Background(), svc.name, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("deleting %s: %v", svc, err)
	}
	requireGone(t, cs, svc)

	out, err := s.Script("preview", "--expect-no-changes")
	if err == nil {
		t.Errorf("hack/stack.sh preview did not notice that %s was deleted:\n%s", svc, out)
	} else if !strings.Contains(out, "history-server") {
		t.Errorf("hack/stack.sh preview failed without naming the deleted history-server Service: %v\n%s", err, out)
	}

	start := time.Now()
	if out, err := s.Script("up"); err != nil {
		t.Fatalf("hack/stack.sh up: %v\n%s", err, out)
	}
	recordTiming(t, timingStackUp, time.Since(start))
	requireExists(t, cs, svc)

	start = time.Now()
	if out, err := s.Script("preview", "--expect-no-changes"); err != nil {
		t.Fatalf("hack/stack.sh preview after the repair: %v\n%s", err, out)
	}
	recordTiming(t, timingStackPreview, time.Since(start))
}
