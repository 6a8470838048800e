package localnode

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"sigs.k8s.io/yaml"
)

func TestBusyboxImageIsReproducibleAndHasTheHelperScriptsCommands(t *testing.T) {
	fake := filepath.Join(t.TempDir(), "busybox")
	if err := os.WriteFile(fake, []byte("\x7fELF not really busybox"), 0o755); err != nil {
		t.Fatal(err)
	}
	a, err := BusyboxImage(fake)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := BusyboxImage(fake)
	da, _ := a.Digest()
	db, _ := b.Digest()
	if da != db {
		t.Errorf("two builds, two digests: %s %s", da, db)
	}
	rc := mutate.Extract(a)
	defer rc.Close()
	tr := tar.NewReader(rc)
	links := map[string]string{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeSymlink {
			links[h.Name] = h.Linkname
		}
	}
	// The provisioner runs "/bin/sh /script/setup"; the scripts use mkdir and rm.
	for _, cmd := range []string{"bin/sh", "bin/mkdir", "bin/rm"} {
		if links[cmd] != "busybox" {
			t.Errorf("%s -> %q, want busybox", cmd, links[cmd])
		}
	}
	for name, script := range helperScripts {
		if !strings.HasPrefix(script, "#!/bin/sh\n") {
			t.Errorf("%s does not run with /bin/sh", name)
		}
	}
	if _, err := BusyboxImage(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("a missing busybox gave an image")
	}
}

func TestStorageAddonMakesLocalPathTheDefaultClassWithVolumesInTheStateFolder(t *testing.T) {
	n := testNode(t)
	out, err := n.StorageAddon()
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	var sc storagev1.StorageClass
	var cm corev1.ConfigMap
	for _, doc := range manifestDocs(t, out) {
		kinds = append(kinds, doc.Kind)
		switch doc.Kind {
		case "StorageClass":
			if err := yaml.UnmarshalStrict(doc.YAML, &sc); err != nil {
				t.Fatal(err)
			}
		case "ConfigMap":
			if err := yaml.UnmarshalStrict(doc.YAML, &cm); err != nil {
				t.Fatal(err)
			}
		}
	}
	sort.Strings(kinds)
	if strings.Join(kinds, ",") != "ClusterRole,ClusterRoleBinding,ConfigMap,Namespace,Role,RoleBinding,ServiceAccount,StorageClass" {
		t.Errorf("objects %v", kinds)
	}
	if sc.Provisioner != Provisioner || sc.Annotations["storageclass.kubernetes.io/is-default-class"] != "true" {
		t.Errorf("StorageClass %s: provisioner %s, annotations %v", sc.Name, sc.Provisioner, sc.Annotations)
	}
	if sc.VolumeBindingMode == nil || *sc.VolumeBindingMode != storagev1.VolumeBindingWaitForFirstConsumer {
		t.Error("volumes must be bound where their pod runs (WaitForFirstConsumer)")
	}
	for _, key := range []string{"setup", "teardown"} {
		if cm.Data[key] == "" {
			t.Errorf("ConfigMap has no %s", key)
		}
	}
	// The helper pods run the local busybox image, never a pulled one.
	var helper corev1.Pod
	if err := yaml.UnmarshalStrict(n.HelperPod(), &helper); err != nil {
		t.Fatal(err)
	}
	if img := helper.Spec.Containers[0].Image; img != n.BusyboxImage {
		t.Errorf("helper pod image %q, want %s", img, n.BusyboxImage)
	}
	data, err := n.ProvisionerConfig()
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		NodePathMap []struct {
			Node  string   `json:"node"`
			Paths []string `json:"paths"`
		} `json:"nodePathMap"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.NodePathMap) != 1 || len(cfg.NodePathMap[0].Paths) != 1 || cfg.NodePathMap[0].Paths[0] != n.VolumeDir() ||
		!strings.HasPrefix(n.VolumeDir(), n.State+"/") {
		t.Errorf("volume paths %+v, want only %s", cfg.NodePathMap, n.VolumeDir())
	}
}
