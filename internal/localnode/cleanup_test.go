package localnode

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestMountPointsUnderAFolderComeLastMountedFirst(t *testing.T) {
	info := `22 1 8:1 / / rw,relatime - ext4 /dev/vda rw
30 22 0:40 / /state/node/kubelet rw - ext4 /dev/vda rw
31 30 0:41 / /state/node/kubelet/pods/u1/volumes/kubernetes.io~projected/kube-api-access-x rw - tmpfs tmpfs rw
32 22 0:42 / /state/node-other rw - tmpfs tmpfs rw
33 22 0:43 / /state/node/containerd/state/with\040space rw - overlay overlay rw
34 30 0:44 / /state/node/kubelet rw - ext4 /dev/vda rw
`
	mps, err := mountPoints(strings.NewReader(info))
	if err != nil {
		t.Fatal(err)
	}
	got := under(mps, "/state/node/")
	want := []string{
		"/state/node/kubelet",
		"/state/node/containerd/state/with space",
		"/state/node/kubelet/pods/u1/volumes/kubernetes.io~projected/kube-api-access-x",
		"/state/node/kubelet",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestIsShimOfMatchesOnlyThisClustersContainerd(t *testing.T) {
	sock := "/work/.cluster/node/containerd/containerd.sock"
	line := func(args ...string) []byte { return []byte(strings.Join(args, "\x00") + "\x00") }
	cases := []struct {
		cmdline []byte
		want    bool
	}{
		{line("/work/.tools/bin/containerd-shim-runc-v2", "-namespace", "k8s.io", "-id", "abc", "-address", sock), true},
		{line("containerd-shim-runc-v2", "-address="+sock), true},
		{line("/usr/bin/containerd-shim-runc-v2", "-namespace", "k8s.io", "-address", "/run/containerd/containerd.sock"), false},
		{line("/usr/bin/sleep", "-address", sock), false},
		{nil, false},
	}
	for _, c := range cases {
		if got := isShimOf(c.cmdline, sock); got != c.want {
			t.Errorf("%q: got %v", c.cmdline, got)
		}
	}
}

func TestRemoveStaleSocketsKeepsLiveOnes(t *testing.T) {
	dir := t.TempDir()
	live, err := net.Listen("unix", filepath.Join(dir, "live"))
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	stale, err := net.Listen("unix", filepath.Join(dir, "stale"))
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()
	if err := os.WriteFile(filepath.Join(dir, "plain-file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := removeStaleSockets(dir); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"live": true, "stale": false, "plain-file": true} {
		if _, err := os.Lstat(filepath.Join(dir, name)); (err == nil) != want {
			t.Errorf("%s: exists=%v, want %v", name, err == nil, want)
		}
	}
}

func TestRemoveLinksIntoRemovesOnlyThisNodesLogLinks(t *testing.T) {
	dir, logs := t.TempDir(), "/state/node/pod-logs"
	_ = os.Symlink(logs+"/ns_pod_uid/app/0.log", filepath.Join(dir, "ours.log"))
	_ = os.Symlink("/var/log/pods/other/0.log", filepath.Join(dir, "theirs.log"))
	_ = os.Symlink(logs+"-x/0.log", filepath.Join(dir, "prefix-only.log"))
	if err := removeLinksInto(dir, logs); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if !reflect.DeepEqual(left, []string{"prefix-only.log", "theirs.log"}) {
		t.Errorf("left %v", left)
	}
}

// A cgroup v1 tree laid out as plain folders: the processes listed in
// cgroup.procs are collected from every hierarchy, and the folders are
// removed deepest first (rmdir of a parent fails while a child exists).
func TestCgroupTreeIsFoundInEveryHierarchyAndRemovedDeepestFirst(t *testing.T) {
	fsroot := t.TempDir()
	h := Host{CgroupFS: fsroot}
	root := "/lab5-abcd1234"
	for _, hier := range []string{"memory", "cpu,cpuacct", "pids"} {
		_ = os.MkdirAll(filepath.Join(fsroot, hier, root, "kubepods", "burstable", "pod1", "c1"), 0o755)
	}
	_ = os.MkdirAll(filepath.Join(fsroot, "memory", "other", "kubepods"), 0o755)
	procs := filepath.Join(fsroot, "memory", root, "kubepods", "burstable", "pod1", "c1", "cgroup.procs")
	if err := os.WriteFile(procs, []byte("101\n102\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pids, err := h.cgroupPids(root)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(keys(pids), []int{101, 102}) {
		t.Errorf("pids %v", keys(pids))
	}
	_ = os.Remove(procs) // a real cgroupfs has no files to delete
	removed, err := h.removeCgroups(root)
	if err != nil {
		t.Fatal(err)
	}
	if removed != 15 {
		t.Errorf("removed %d folders, want 15 (5 levels x 3 hierarchies)", removed)
	}
	for _, hier := range []string{"memory", "cpu,cpuacct", "pids"} {
		if _, err := os.Stat(filepath.Join(fsroot, hier, root)); !os.IsNotExist(err) {
			t.Errorf("%s: root cgroup still there", hier)
		}
	}
	if _, err := os.Stat(filepath.Join(fsroot, "memory", "other", "kubepods")); err != nil {
		t.Error("another cgroup was removed")
	}
}

// The real thing, as root: mounts under the node folder (a tmpfs like a
// pod's service account token, a bind mount of the kubelet's root onto
// itself) are gone after Cleanup, and a mount elsewhere stays.
func TestCleanupUnmountsEverythingUnderTheNodeFolder(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting needs root")
	}
	n := testNode(t)
	outside := filepath.Join(t.TempDir(), "outside")
	vol := filepath.Join(n.KubeletRoot(), "pods", "uid", "volumes", "kubernetes.io~projected", "token")
	for _, d := range []string{vol, outside, n.IPAMDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mount := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("mount", args...).CombinedOutput(); err != nil {
			t.Fatalf("mount %v: %v %s", args, err, out)
		}
	}
	mount("--bind", n.KubeletRoot(), n.KubeletRoot())
	mount("-t", "tmpfs", "tmpfs", vol)
	mount("-t", "tmpfs", "tmpfs", outside)
	t.Cleanup(func() { _ = syscall.Unmount(outside, syscall.MNT_DETACH) })
	if err := os.WriteFile(filepath.Join(n.IPAMDir(), "10.244.0.7"), []byte("id"), 0o644); err != nil {
		t.Fatal(err)
	}

	fake := t.TempDir()
	h := Host{Proc: "/proc", CgroupFS: filepath.Join(fake, "cgroup"), CNICache: filepath.Join(fake, "cni"),
		ShimDir: filepath.Join(fake, "run", "s"), Kubelet: filepath.Join(fake, "kubelet"), ContainerL: filepath.Join(fake, "containers")}
	_ = os.MkdirAll(filepath.Join(h.CNICache, "results"), 0o755)
	ours := filepath.Join(h.CNICache, "results", n.CNINetwork()+"-abc-eth0")
	oursLo := filepath.Join(h.CNICache, "results", "cni-loopback-abc-lo")
	theirs := filepath.Join(h.CNICache, "results", "other-net-def-eth0")
	theirsLo := filepath.Join(h.CNICache, "results", "cni-loopback-def-lo")
	for _, f := range []string{ours, oursLo, theirs, theirsLo} {
		_ = os.WriteFile(f, nil, 0o644)
	}

	start := time.Now()
	if err := n.Cleanup(h, t.Logf); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("cleanup took %v", d)
	}
	data, _ := os.ReadFile("/proc/self/mountinfo")
	mps, _ := mountPoints(strings.NewReader(string(data)))
	if left := under(mps, n.Dir()); len(left) > 0 {
		t.Errorf("still mounted: %v", left)
	}
	if len(under(mps, outside)) != 1 {
		t.Error("a mount outside the node folder was removed")
	}
	if entries, _ := os.ReadDir(n.IPAMDir()); len(entries) != 0 {
		t.Errorf("IP allocations left: %v", entries)
	}
	for _, f := range []string{ours, oursLo} {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("this node's CNI result %s is still cached", filepath.Base(f))
		}
	}
	for _, f := range []string{theirs, theirsLo} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("another network's CNI result %s was removed", filepath.Base(f))
		}
	}
}

func TestPrepareCgroupsCreatesTheRootInEveryHierarchyWithTheParentsCpuset(t *testing.T) {
	fsroot := t.TempDir()
	for _, d := range []string{"cpuset", "memory", "cpu,cpuacct"} {
		_ = os.MkdirAll(filepath.Join(fsroot, d), 0o755)
	}
	_ = os.Symlink("cpu,cpuacct", filepath.Join(fsroot, "cpu"))
	_ = os.WriteFile(filepath.Join(fsroot, "cpuset", "cpuset.cpus"), []byte("0-1\n"), 0o644)
	_ = os.WriteFile(filepath.Join(fsroot, "cpuset", "cpuset.mems"), []byte("0\n"), 0o644)
	n := testNode(t)
	// What the kernel shows in a new cpuset cgroup: empty files.
	_ = os.MkdirAll(filepath.Join(fsroot, "cpuset", n.CgroupRoot()), 0o755)
	_ = os.WriteFile(filepath.Join(fsroot, "cpuset", n.CgroupRoot(), "cpuset.cpus"), nil, 0o644)
	_ = os.WriteFile(filepath.Join(fsroot, "cpuset", n.CgroupRoot(), "cpuset.mems"), nil, 0o644)

	if err := n.PrepareCgroups(Host{CgroupFS: fsroot}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"cpuset", "memory", "cpu,cpuacct"} {
		if fi, err := os.Stat(filepath.Join(fsroot, d, n.CgroupRoot())); err != nil || !fi.IsDir() {
			t.Errorf("%s: no cgroup root", d)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(fsroot, "cpuset", n.CgroupRoot(), "cpuset.cpus")); string(got) != "0-1\n" {
		t.Errorf("cpuset.cpus = %q, want the parent's", got)
	}
	if fi, err := os.Lstat(filepath.Join(fsroot, "cpu")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Error("the cpu link was replaced")
	}
}

// The kubelet changes host-wide kernel settings; the host gets its own
// values back when the node stops, and a kubelet restart in between does
// not make the kubelet's values "the host's".
func TestHostKernelSettingsAreRestoredAfterTheKubelet(t *testing.T) {
	sys := t.TempDir()
	h := Host{ProcSys: sys}
	set := func(k, v string) {
		_ = os.MkdirAll(filepath.Dir(filepath.Join(sys, k)), 0o755)
		_ = os.WriteFile(filepath.Join(sys, k), []byte(v+"\n"), 0o644)
	}
	get := func(k string) string {
		b, _ := os.ReadFile(filepath.Join(sys, k))
		return strings.TrimSpace(string(b))
	}
	set("vm/overcommit_memory", "0")
	set("kernel/panic", "1")
	set("kernel/panic_on_oops", "0")
	n := testNode(t)
	if err := n.SaveSysctls(h); err != nil {
		t.Fatal(err)
	}
	// The kubelet starts: its values.
	set("vm/overcommit_memory", "1")
	set("kernel/panic", "10")
	set("kernel/panic_on_oops", "1")
	if err := n.SaveSysctls(h); err != nil { // a second `up`
		t.Fatal(err)
	}
	restored, err := n.RestoreSysctls(h)
	if err != nil {
		t.Fatal(err)
	}
	if restored != 3 || get("vm/overcommit_memory") != "0" || get("kernel/panic") != "1" || get("kernel/panic_on_oops") != "0" {
		t.Errorf("restored %d: overcommit=%s panic=%s panic_on_oops=%s", restored, get("vm/overcommit_memory"), get("kernel/panic"), get("kernel/panic_on_oops"))
	}
	if n, _ := n.RestoreSysctls(h); n != 0 {
		t.Errorf("a second restore wrote %d settings", n)
	}
}
