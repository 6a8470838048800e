package localnode

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// kubeletSysctls are the host-wide kernel settings the kubelet sets when it
// starts (vm.overcommit_memory=1, kernel.panic=10, kernel.panic_on_oops=1,
// ...); with protectKernelDefaults it would refuse to start instead. The
// node saves the host's values before and puts them back after.
var kubeletSysctls = []string{
	"vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops",
	"kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes",
}

func (n *Node) sysctlFile() string { return n.Dir("host-sysctls") }

// SaveSysctls records the host's values of the settings the kubelet
// changes, unless a record exists: a restart of the kubelet must not
// record its own values as the host's.
func (n *Node) SaveSysctls(h Host) error {
	if _, err := os.Stat(n.sysctlFile()); err == nil {
		return nil
	}
	var b strings.Builder
	for _, k := range kubeletSysctls {
		v, err := os.ReadFile(filepath.Join(h.ProcSys, k))
		if err != nil {
			continue // not on this kernel
		}
		fmt.Fprintf(&b, "%s=%s\n", k, strings.TrimSpace(string(v)))
	}
	if err := os.MkdirAll(filepath.Dir(n.sysctlFile()), 0o755); err != nil {
		return err
	}
	return os.WriteFile(n.sysctlFile(), []byte(b.String()), 0o644)
}

// RestoreSysctls writes the recorded values back and drops the record.
func (n *Node) RestoreSysctls(h Host) (int, error) {
	data, err := os.ReadFile(n.sysctlFile())
	if os.IsNotExist(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var errs []error
	restored := 0
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok || !isKubeletSysctl(k) {
			continue
		}
		p := filepath.Join(h.ProcSys, k)
		if cur, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(cur)) == v {
			continue
		}
		if err := os.WriteFile(p, []byte(v+"\n"), 0o644); err != nil {
			errs = append(errs, err)
			continue
		}
		restored++
	}
	if len(errs) == 0 {
		errs = append(errs, os.Remove(n.sysctlFile()))
	}
	return restored, errors.Join(errs...)
}

func isKubeletSysctl(k string) bool {
	for _, s := range kubeletSysctls {
		if s == k {
			return true
		}
	}
	return false
}
