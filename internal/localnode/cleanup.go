package localnode

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Host is where Cleanup looks: the real host by default, a fake tree in
// tests.
type Host struct {
	Proc       string // /proc
	ProcSys    string // /proc/sys: the kubelet's host-wide kernel settings
	CgroupFS   string // /sys/fs/cgroup (cgroup v1: one folder per hierarchy)
	CNICache   string // /var/lib/cni: libcni's cache, fixed in containerd
	ShimDir    string // /run/containerd/s: the shims' sockets, fixed in containerd
	Kubelet    string // /var/lib/kubelet: the device plugin folder is fixed in the kubelet
	ContainerL string // /var/log/containers: fixed in the kubelet
}

// RealHost is this machine.
var RealHost = Host{
	Proc:       "/proc",
	ProcSys:    "/proc/sys",
	CgroupFS:   "/sys/fs/cgroup",
	CNICache:   "/var/lib/cni",
	ShimDir:    "/run/containerd/s",
	Kubelet:    "/var/lib/kubelet",
	ContainerL: "/var/log/containers",
}

// Cleanup undoes what the node leaves behind once containerd, the kubelet
// and kube-proxy have stopped: the pods' processes and cgroups, the shims,
// every mount under the node's folder, the pods' IP allocations, and its
// entries in the host paths the kubelet and containerd do not let us move.
// What belongs to another cluster (or anything else) is left alone. It
// carries on past errors and returns them all.
func (n *Node) Cleanup(h Host, logf func(format string, args ...any)) error {
	var errs []error
	killed, err := h.killCgroupTree(n.CgroupRoot())
	errs = append(errs, err)
	shims, err := h.killShims(n.ContainerdSocket())
	errs = append(errs, err)
	if killed+shims > 0 {
		logf("killed %d pod process(es) and %d shim(s) left running", killed, shims)
	}
	unmounted, err := unmountUnder(filepath.Join(h.Proc, "self", "mountinfo"), n.Dir())
	errs = append(errs, err)
	if unmounted > 0 {
		logf("unmounted %d mount(s) under %s", unmounted, n.Dir())
	}
	removed, err := h.removeCgroups(n.CgroupRoot())
	errs = append(errs, err)
	if removed > 0 {
		logf("removed %d cgroup(s) under %s", removed, n.CgroupRoot())
	}
	restored, err := n.RestoreSysctls(h)
	errs = append(errs, err)
	if restored > 0 {
		logf("restored %d host kernel setting(s) the kubelet had changed", restored)
	}
	// Every pod is gone, so are their addresses.
	errs = append(errs, removeContents(n.IPAMDir()))
	errs = append(errs, removeCNIResults(filepath.Join(h.CNICache, "results"), n.CNINetwork()))
	errs = append(errs, removeLinksInto(h.ContainerL, n.PodLogs()))
	errs = append(errs, removeStaleSockets(h.ShimDir))
	// The kubelet's device plugin socket; the folders go when nothing else
	// is in them.
	errs = append(errs, removeIfExists(filepath.Join(h.Kubelet, "device-plugins", "kubelet.sock")))
	for _, d := range []string{filepath.Join(h.Kubelet, "device-plugins"), h.Kubelet, h.ContainerL, h.ShimDir, filepath.Dir(h.ShimDir),
		filepath.Join(h.CNICache, "results"), h.CNICache} {
		_ = os.Remove(d) // only succeeds when empty
	}
	return errors.Join(errs...)
}

// cgroupDirs are root's folders in each cgroup hierarchy that has one.
func (h Host) cgroupDirs(root string) []string {
	hier, _ := os.ReadDir(h.CgroupFS)
	var dirs []string
	for _, e := range hier {
		d := filepath.Join(h.CgroupFS, e.Name(), root)
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// cgroupPids lists the processes in every cgroup below root.
func (h Host) cgroupPids(root string) (map[int]bool, error) {
	pids := map[int]bool{}
	for _, d := range h.cgroupDirs(root) {
		// A cgroup can vanish while it is walked: what cannot be read is
		// skipped, the caller looks again.
		err := filepath.WalkDir(d, func(p string, e fs.DirEntry, walkErr error) error {
			if walkErr == nil && !e.IsDir() && e.Name() == "cgroup.procs" {
				addPids(pids, p)
			}
			return nil
		})
		if err != nil {
			return pids, err
		}
	}
	return pids, nil
}

// addPids adds the pids listed in a cgroup.procs file, if it can be read.
func addPids(pids map[int]bool, procs string) {
	data, _ := os.ReadFile(procs)
	for _, f := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 0 {
			pids[pid] = true
		}
	}
}

// killCgroupTree SIGKILLs every process in the cgroups below root and waits
// (a few seconds at most) until they are gone.
func (h Host) killCgroupTree(root string) (int, error) {
	killed := map[int]bool{}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		pids, err := h.cgroupPids(root)
		if err != nil {
			return len(killed), err
		}
		if len(pids) == 0 {
			return len(killed), nil
		}
		if time.Now().After(deadline) {
			return len(killed), fmt.Errorf("processes still in cgroup %s after SIGKILL: %v", root, keys(pids))
		}
		for pid := range pids {
			if err := syscall.Kill(pid, syscall.SIGKILL); err == nil {
				killed[pid] = true
			}
		}
	}
}

// removeCgroups removes the cgroups below root (root included), deepest
// first, in every hierarchy.
func (h Host) removeCgroups(root string) (int, error) {
	var errs []error
	removed := 0
	for _, d := range h.cgroupDirs(root) {
		var dirs []string
		_ = filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
			if err == nil && e.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for _, p := range deepestFirst(dirs) {
			if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
				errs = append(errs, err)
				continue
			}
			removed++
		}
	}
	return removed, errors.Join(errs...)
}

// killShims SIGKILLs the containerd shims serving the containerd at socket
// (a shim outlives containerd by design).
func (h Host) killShims(socket string) (int, error) {
	entries, err := os.ReadDir(h.Proc)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join(h.Proc, e.Name(), "cmdline"))
		if err != nil || !isShimOf(cmdline, socket) {
			continue
		}
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			n++
		}
	}
	return n, nil
}

// isShimOf tells whether a NUL-separated command line is a runc shim
// started by the containerd listening on socket.
func isShimOf(cmdline []byte, socket string) bool {
	args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
	if len(args) == 0 || filepath.Base(args[0]) != "containerd-shim-runc-v2" {
		return false
	}
	for i, a := range args {
		if (a == "-address" || a == "--address") && i+1 < len(args) && args[i+1] == socket {
			return true
		}
		if a == "-address="+socket || a == "--address="+socket {
			return true
		}
	}
	return false
}

// mountPoints reads a mountinfo file's mount points, in mount order.
func mountPoints(r io.Reader) ([]string, error) {
	var mps []string
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 64*1024), 1024*1024)
	for s.Scan() {
		f := strings.Fields(s.Text())
		if len(f) < 5 {
			continue
		}
		mps = append(mps, unescapeOctal(f[4]))
	}
	return mps, s.Err()
}

// unescapeOctal undoes mountinfo's \ooo escapes (space, tab, newline, \).
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b bytes.Buffer
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// under keeps the mount points at or below dir, the last mounted first (a
// mount on top of another must go before it).
func under(mps []string, dir string) []string {
	dir = filepath.Clean(dir)
	var out []string
	for i := len(mps) - 1; i >= 0; i-- {
		if mps[i] == dir || strings.HasPrefix(mps[i], dir+"/") {
			out = append(out, mps[i])
		}
	}
	return out
}

// unmountUnder detaches every mount at or below dir, repeating while the
// mount table still shows some (one path can be mounted several times).
func unmountUnder(mountinfo, dir string) (int, error) {
	count := 0
	for round := 0; round < 5; round++ {
		data, err := os.ReadFile(mountinfo)
		if err != nil {
			return count, err
		}
		mps, err := mountPoints(bytes.NewReader(data))
		if err != nil {
			return count, err
		}
		todo := under(mps, dir)
		if len(todo) == 0 {
			return count, nil
		}
		for _, mp := range todo {
			if err := syscall.Unmount(mp, syscall.MNT_DETACH); err == nil {
				count++
			}
		}
	}
	return count, fmt.Errorf("mounts still under %s after 5 rounds of unmounting", dir)
}

// deepestFirst orders paths so that a folder comes after everything in it.
func deepestFirst(paths []string) []string {
	out := append([]string(nil), paths...)
	sort.SliceStable(out, func(i, j int) bool {
		return strings.Count(out[i], "/") > strings.Count(out[j], "/")
	})
	return out
}

// removeEach calls remove for every entry of dir (a missing dir has none)
// and joins the errors.
func removeEach(dir string, remove func(p string, e fs.DirEntry) error) error {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		errs = append(errs, remove(filepath.Join(dir, e.Name()), e))
	}
	return errors.Join(errs...)
}

func removeContents(dir string) error {
	return removeEach(dir, func(p string, _ fs.DirEntry) error { return os.RemoveAll(p) })
}

// removeCNIResults removes libcni's cached results of the network's
// attachments (NETWORK-SANDBOXID-IFNAME) and of the loopback attachments of
// the same sandboxes (cni-loopback-SANDBOXID-lo), left there when a pod was
// never torn down.
func removeCNIResults(dir, network string) error {
	matches, err := filepath.Glob(filepath.Join(dir, network+"-*"))
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range matches {
		errs = append(errs, os.RemoveAll(m))
		rest := strings.TrimPrefix(filepath.Base(m), network+"-")
		if i := strings.LastIndex(rest, "-"); i > 0 {
			errs = append(errs, removeIfExists(filepath.Join(dir, "cni-loopback-"+rest[:i]+"-lo")))
		}
	}
	return errors.Join(errs...)
}

func removeIfExists(p string) error {
	if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

// removeLinksInto removes the symlinks in dir that point below target.
func removeLinksInto(dir, target string) error {
	return removeEach(dir, func(p string, _ fs.DirEntry) error {
		// Not a link (Readlink fails), or one that points elsewhere: kept.
		if dest, err := os.Readlink(p); err == nil && (dest == target || strings.HasPrefix(dest, filepath.Clean(target)+"/")) {
			return os.Remove(p)
		}
		return nil
	})
}

// removeStaleSockets removes the unix sockets in dir that nothing listens
// on any more. A live one belongs to a running shim, maybe another
// cluster's, and stays.
func removeStaleSockets(dir string) error {
	return removeEach(dir, func(p string, e fs.DirEntry) error {
		if e.Type()&fs.ModeSocket == 0 {
			return nil
		}
		if c, err := net.DialTimeout("unix", p, 200*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		return removeIfExists(p)
	})
}

func keys(m map[int]bool) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}

// PrepareCgroups creates the node's cgroup root in every cgroup v1
// hierarchy: the kubelet refuses to start when its cgroupRoot is missing.
// A new cpuset cgroup starts with no CPUs and no memory nodes, which no
// process may join; it gets its parent's.
func (n *Node) PrepareCgroups(h Host) error {
	entries, err := os.ReadDir(h.CgroupFS)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		if !e.IsDir() { // cpu -> cpu,cpuacct and the like are links
			continue
		}
		hier := filepath.Join(h.CgroupFS, e.Name())
		d := filepath.Join(hier, n.CgroupRoot())
		if err := os.MkdirAll(d, 0o755); err != nil {
			errs = append(errs, err)
			continue
		}
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			mine, err := os.ReadFile(filepath.Join(d, f))
			if err != nil || len(bytes.TrimSpace(mine)) > 0 {
				continue
			}
			parent, err := os.ReadFile(filepath.Join(hier, f))
			if err == nil {
				errs = append(errs, os.WriteFile(filepath.Join(d, f), parent, 0o644))
			}
		}
	}
	return errors.Join(errs...)
}
