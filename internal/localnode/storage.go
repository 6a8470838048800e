package localnode

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/lab5/k8s-networking/internal/goimage"
)

// The node's volume provisioner: Rancher's local-path-provisioner, the one
// kind uses, run as a host process in the namespace. Its helper pods (a
// shell that creates and removes a volume's folder) run Debian's static
// busybox.
const (
	StorageNamespace   = "local-path-storage"
	StorageClass       = "local-path"
	Provisioner        = "rancher.io/local-path"
	ProvisionerUser    = "lab5:local-path-provisioner"
	provisionerConfig  = "local-path-config"
	provisionerHelpers = "local-path-provisioner-helper"
)

// VolumeDir holds every PersistentVolume's data, so it outlives pods (and
// a `down`) and goes with `down --purge`.
func (n *Node) VolumeDir() string { return n.Dir("volumes") }

// ProvisionerConfig is local-path-provisioner's config.json: every node's
// volumes under VolumeDir.
func (n *Node) ProvisionerConfig() ([]byte, error) {
	return json.MarshalIndent(map[string]any{
		"nodePathMap": []map[string]any{{
			"node":  "DEFAULT_PATH_FOR_NON_LISTED_NODES",
			"paths": []string{n.VolumeDir()},
		}},
	}, "", "  ")
}

// helperScripts make and remove one volume's folder; the provisioner sets
// VOL_DIR. The folder is world-writable because the pod using the volume
// may run as any user.
var helperScripts = map[string]string{
	"setup":    "#!/bin/sh\nset -eu\nmkdir -m 0777 -p \"$VOL_DIR\"\n",
	"teardown": "#!/bin/sh\nset -eu\nrm -rf \"$VOL_DIR\"\n",
}

// HelperPod is the template of the provisioner's helper pods (it adds the
// command and the volumes; the image is the template's).
func (n *Node) HelperPod() []byte {
	return []byte(fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: helper-pod
spec:
  priorityClassName: system-node-critical
  containers:
  - name: helper-pod
    image: %s
    imagePullPolicy: IfNotPresent
`, n.BusyboxImage))
}

// StorageAddon is the provisioner's namespace, RBAC, ConfigMap (the helper
// scripts) and the default StorageClass.
func (n *Node) StorageAddon() ([]byte, error) {
	labels := map[string]string{"app.kubernetes.io/name": "local-path-provisioner", "app.kubernetes.io/part-of": "lab5-local-cluster"}
	meta := func(name, ns string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels}
	}
	all := []string{"get", "list", "watch", "create", "update", "patch", "delete"}
	read := []string{"get", "list", "watch"}
	deleteClaim := corev1.PersistentVolumeReclaimDelete
	waitForPod := storagev1.VolumeBindingWaitForFirstConsumer
	sc := meta(StorageClass, "")
	sc.Annotations = map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}
	// The provisioner reads its configuration and the helper pod's
	// template from files (ProvisionerConfigFile, HelperPodFile); the
	// helper pods mount the scripts from here.
	data := map[string]string{}
	for k, v := range helperScripts {
		data[k] = v
	}
	objects := []any{
		&corev1.Namespace{TypeMeta: typeMeta("v1", "Namespace"), ObjectMeta: meta(StorageNamespace, "")},
		&corev1.ServiceAccount{TypeMeta: typeMeta("v1", "ServiceAccount"), ObjectMeta: meta(provisionerHelpers, StorageNamespace)},
		&corev1.ConfigMap{TypeMeta: typeMeta("v1", "ConfigMap"), ObjectMeta: meta(provisionerConfig, StorageNamespace), Data: data},
		&rbacv1.ClusterRole{
			TypeMeta: typeMeta("rbac.authorization.k8s.io/v1", "ClusterRole"), ObjectMeta: meta(ProvisionerUser, ""),
			Rules: []rbacv1.PolicyRule{
				{APIGroups: []string{""}, Resources: []string{"nodes", "persistentvolumeclaims", "configmaps", "pods/log"}, Verbs: read},
				{APIGroups: []string{""}, Resources: []string{"persistentvolumes"}, Verbs: all},
				{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
				{APIGroups: []string{"storage.k8s.io"}, Resources: []string{"storageclasses"}, Verbs: read},
			},
		},
		&rbacv1.ClusterRoleBinding{
			TypeMeta: typeMeta("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"), ObjectMeta: meta(ProvisionerUser, ""),
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: ProvisionerUser},
			Subjects: []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: ProvisionerUser}},
		},
		// Helper pods, and the leader election lease, in its namespace only.
		&rbacv1.Role{
			TypeMeta: typeMeta("rbac.authorization.k8s.io/v1", "Role"), ObjectMeta: meta(ProvisionerUser, StorageNamespace),
			Rules: []rbacv1.PolicyRule{
				{APIGroups: []string{""}, Resources: []string{"pods", "endpoints"}, Verbs: all},
				{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: all},
			},
		},
		&rbacv1.RoleBinding{
			TypeMeta: typeMeta("rbac.authorization.k8s.io/v1", "RoleBinding"), ObjectMeta: meta(ProvisionerUser, StorageNamespace),
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: ProvisionerUser},
			Subjects: []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: ProvisionerUser}},
		},
		&storagev1.StorageClass{
			TypeMeta: typeMeta("storage.k8s.io/v1", "StorageClass"), ObjectMeta: sc,
			Provisioner: Provisioner, ReclaimPolicy: &deleteClaim, VolumeBindingMode: &waitForPod,
		},
	}
	return manifests(objects)
}

// busyboxApplets are the commands the helper scripts use.
var busyboxApplets = []string{"sh", "mkdir", "rm", "ls", "cat", "chmod"}

// BusyboxImage is an image of a static busybox binary (Debian's
// busybox-static), with the helper scripts' commands linked to it. Its
// files carry fixed times, so the same binary gives the same digest.
func BusyboxImage(busybox string) (v1.Image, error) {
	bin, err := os.ReadFile(busybox)
	if err != nil {
		return nil, fmt.Errorf("busybox for the volume helper pods: %w", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := goimage.Epoch
	hdrs := []*tar.Header{
		{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: epoch},
		{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(bin)), ModTime: epoch},
	}
	for _, a := range busyboxApplets {
		hdrs = append(hdrs, &tar.Header{Name: "bin/" + a, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777, ModTime: epoch})
	}
	hdrs = append(hdrs, &tar.Header{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777, ModTime: epoch})
	for _, h := range hdrs {
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if h.Name == "bin/busybox" {
			if _, err := tw.Write(bin); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
		tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	return goimage.AppendLayer(goimage.EmptyOCI(), layer,
		v1.History{CreatedBy: "lab5-node: Debian busybox-static", Comment: "static busybox, applets " + fmt.Sprint(busyboxApplets)},
		v1.Platform{OS: "linux", Architecture: runtime.GOARCH}, // the host's busybox
		v1.Config{Entrypoint: []string{"/bin/sh"}, Env: []string{"PATH=/bin"}})
}
