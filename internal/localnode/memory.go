package localnode

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Usage is the memory the whole local cluster holds: every process in the
// cluster's network namespace (control plane, registry, node components,
// pod shims), every process in the pods' cgroups (the containers, which
// have network namespaces of their own), and the host-side relays named by
// pid files in the state folder.
type Usage struct {
	Processes int
	RSS       uint64 // bytes, the sum of the processes' resident set sizes
}

func (u Usage) String() string {
	return fmt.Sprintf("%d processes, %.2f GiB RSS", u.Processes, float64(u.RSS)/(1<<30))
}

// Memory measures the cluster of netnsPath (/run/netns/NAME). Processes
// that exit while it looks are skipped.
func (n *Node) Memory(h Host, netnsPath string) (Usage, error) {
	pids, err := h.cgroupPids(n.CgroupRoot())
	if err != nil {
		return Usage{}, err
	}
	netns, err := os.Stat(netnsPath)
	if err != nil {
		return Usage{}, err
	}
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return Usage{}, err
	}
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		if fi, err := os.Stat(filepath.Join("/proc", p.Name(), "ns", "net")); err == nil && os.SameFile(fi, netns) {
			pids[pid] = true
		}
	}
	pidFiles, _ := filepath.Glob(filepath.Join(n.State, "forward-*.pid"))
	for _, f := range pidFiles {
		if b, err := os.ReadFile(f); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				pids[pid] = true
			}
		}
	}
	var u Usage
	for pid := range pids {
		if rss, ok := residentBytes(pid); ok {
			u.Processes++
			u.RSS += rss
		}
	}
	return u, nil
}

// residentBytes reads VmRSS from /proc/PID/status; ok is false for a
// process that is gone or has no user memory (a kernel thread).
func residentBytes(pid int) (uint64, bool) {
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err == nil
		}
	}
	return 0, false
}
