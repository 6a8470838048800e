package localnode

import (
	"os"
	"testing"
)

// Memory counts the processes of the network namespace it is given: with
// this test's own namespace, at least the test itself and its memory.
func TestMemoryCountsTheNamespacesProcesses(t *testing.T) {
	own, ok := residentBytes(os.Getpid())
	if !ok || own < 1<<20 {
		t.Fatalf("residentBytes(self) = %d, %v: want over 1 MiB", own, ok)
	}
	n := New(t.TempDir())
	u, err := n.Memory(Host{CgroupFS: t.TempDir()}, "/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	if u.Processes < 1 || u.RSS < own {
		t.Errorf("Memory = %v: want at least this process (%d bytes)", u, own)
	}
	if _, ok := residentBytes(-1); ok {
		t.Error("residentBytes of no process reported memory")
	}
}
