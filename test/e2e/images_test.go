//go:build cluster

package e2e

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/lab5/k8s-networking/internal/goimage"
	"github.com/lab5/k8s-networking/internal/kubetest"
)

// The dev stack's imageRepository: the registry hack/cluster.sh runs on
// 127.0.0.1:5000 inside the namespace this test runs in.
const devImageRepository = "localhost:5000/lab5"

// TestImagesBuiltPushedAndRolled: pulumi up builds both apps' images and
// pushes them to the local registry; the Deployment and the CronJob run
// repository@digest with the digest the registry serves; a source change
// shows in preview as exactly that image and the workload using it, and
// up rolls it. It runs on a copy of the project, so the change never
// touches the repository.
func TestImagesBuiltPushedAndRolled(t *testing.T) {
	cs := kubetest.Client(t)
	s := newStack(t)
	s.Root = copyProject(t, s.Root)
	t.Cleanup(func() {
		if out, err := s.Destroy(); err != nil {
			t.Errorf("destroy: %v\n%s", err, out)
		}
	})

	start := time.Now()
	s.Pulumi(s.WithConfig("up", "--yes", "--skip-preview")...)
	recordTiming(t, "pulumi up (create, images built)", time.Since(start))
	hs, pf := workloadImages(t, cs)
	for app, ref := range map[string]string{"history-server": hs, "price-fetcher": pf} {
		checkPushed(t, app, ref)
	}

	timed(t, s, "pulumi preview (no changes, images)", s.WithConfig("preview", "--expect-no-changes")...)

	// A change to price-fetcher's code: a new file of its main package
	// (no existing file is edited, and the binary does change).
	change := "package main\n\nimport \"os\"\n\nfunc init() {\n\tif os.Getenv(\"LAB5_E2E_NEVER_SET\") == \"yes\" {\n\t\tprintln(\"changed\")\n\t}\n}\n"
	if err := os.WriteFile(filepath.Join(s.Root, "apps", "price-fetcher", "e2e_change.go"), []byte(change), 0o644); err != nil {
		t.Fatal(err)
	}
	out := s.Pulumi(s.WithConfig("preview", "--json")...)
	changed, refs := previewChanges(t, out)
	want := []string{
		"goimage:index:Image price-fetcher: replace",
		"kubernetes:batch/v1:CronJob price-fetcher: update",
	}
	if strings.Join(changed, "\n") != strings.Join(want, "\n") {
		t.Errorf("preview after a price-fetcher source change shows\n  %s\nwant exactly\n  %s", strings.Join(changed, "\n  "), strings.Join(want, "\n  "))
	}

	// Preview knew the new reference, and pushed nothing.
	newRef := refs["price-fetcher"]
	if !strings.HasPrefix(newRef, devImageRepository+"/price-fetcher@sha256:") || newRef == pf {
		t.Errorf("preview's new ref for price-fetcher: %q", newRef)
	} else if inRegistry(t, newRef) {
		t.Errorf("preview pushed %s", newRef)
	}

	s.Pulumi(s.WithConfig("up", "--yes", "--skip-preview")...)
	hs2, pf2 := workloadImages(t, cs)
	if hs2 != hs {
		t.Errorf("history-server's image changed from %s to %s, its sources did not", hs, hs2)
	}
	if pf2 == pf || pf2 != newRef {
		t.Errorf("after the change the CronJob runs %s (before %s, preview announced %s)", pf2, pf, newRef)
	}
	checkPushed(t, "price-fetcher", pf2)
	s.Pulumi(s.WithConfig("preview", "--expect-no-changes")...)
}

// copyProject copies the project's files (tracked and new, not ignored)
// into a fresh folder; the toolchain folder is linked, not copied.
func copyProject(t *testing.T, root string) string {
	t.Helper()
	dst := t.TempDir()
	out, err := exec.Command("git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Fatalf("listing the project's files: %v", err)
	}
	for _, rel := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		src := filepath.Join(root, rel)
		info, err := os.Lstat(src)
		if err != nil || !info.Mode().IsRegular() {
			continue // deleted in the work tree, or not a file
		}
		if err := copyFile(src, filepath.Join(dst, rel), info.Mode()); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(root, ".tools"), filepath.Join(dst, ".tools")); err != nil {
		t.Fatal(err)
	}
	return dst
}

func copyFile(src, dst string, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode.Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// workloadImages returns the images of the history-server Deployment and
// the price-fetcher CronJob.
func workloadImages(t *testing.T, cs *kubernetes.Clientset) (hs, pf string) {
	t.Helper()
	ctx := context.Background()
	d, err := cs.AppsV1().Deployments("production").Get(ctx, "history-server", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cj, err := cs.BatchV1().CronJobs("production").Get(ctx, "price-fetcher", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d.Spec.Template.Spec.Containers[0].Image, cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Image
}

// checkPushed reads the image back from the registry: the workload's
// reference is repository@digest, the registry serves that very digest,
// and the image runs as the nonroot user.
func checkPushed(t *testing.T, app, ref string) {
	t.Helper()
	want := devImageRepository + "/" + app + "@sha256:"
	if !strings.HasPrefix(ref, want) {
		t.Errorf("%s runs %q, want %s<digest>", app, ref, want)
		return
	}
	d, err := name.NewDigest(ref)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Get(d)
	if err != nil {
		t.Fatalf("%s: the registry does not serve %s: %v", app, ref, err)
	}
	if desc.Digest.String() != d.DigestStr() {
		t.Errorf("%s: registry serves digest %s for %s", app, desc.Digest, ref)
	}
	img, err := desc.Image()
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Config.User != goimage.User || len(cf.Config.Entrypoint) != 1 || cf.Config.Entrypoint[0] != "/app/"+app {
		t.Errorf("%s: image config user %q entrypoint %q", app, cf.Config.User, cf.Config.Entrypoint)
	}
}

// inRegistry says whether the registry serves the manifest ref names; a
// registry that does not answer fails the test.
func inRegistry(t *testing.T, ref string) bool {
	t.Helper()
	d, err := name.NewDigest(ref)
	if err != nil {
		t.Fatal(err)
	}
	found, err := goimage.Exists(context.Background(), d, goimage.Auth{})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// previewChanges lists "type name: op" for every step of a `pulumi preview
// --json` that is not a no-op, sorted, and the refs the image resources
// will have, by name.
func previewChanges(t *testing.T, out string) ([]string, map[string]string) {
	t.Helper()
	var doc struct {
		Steps []struct {
			Op       string `json:"op"`
			URN      string `json:"urn"`
			NewState struct {
				Type    string         `json:"type"`
				Outputs map[string]any `json:"outputs"`
			} `json:"newState"`
		} `json:"steps"`
	}
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &doc); err != nil {
		t.Fatalf("preview --json: %v\n%s", err, out)
	}
	seen := map[string]bool{}
	refs := map[string]string{}
	var changed []string
	for _, st := range doc.Steps {
		ref, ok := st.NewState.Outputs["ref"].(string)
		if ok && st.NewState.Type == "goimage:index:Image" && st.Op != "delete-replaced" && st.Op != "delete" {
			refs[st.URN[strings.LastIndex(st.URN, "::")+2:]] = ref
		}
		if st.Op == "same" || st.Op == "read" {
			continue
		}
		// urn:pulumi:stack::project::parent$type::name
		parts := strings.Split(st.URN, "::")
		typ := parts[len(parts)-2]
		typ = typ[strings.LastIndex(typ, "$")+1:]
		op := st.Op
		if op == "create-replacement" || op == "delete-replaced" {
			op = "replace"
		}
		line := typ + " " + parts[len(parts)-1] + ": " + op
		if !seen[line] {
			seen[line] = true
			changed = append(changed, line)
		}
	}
	sort.Strings(changed)
	return changed, refs
}
