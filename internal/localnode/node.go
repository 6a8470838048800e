// Package localnode describes the local cluster's real worker node: one
// containerd + kubelet + kube-proxy, run as host processes inside the
// cluster's loopback-only network namespace, with every file they write kept
// under the cluster's state folder. It renders their configuration files and
// the cluster DNS add-on, and undoes what they leave on the host when the
// node stops (mounts, cgroups, sockets in the few paths they hard-code).
package localnode

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/netip"
	"path/filepath"
	"sort"
	"strings"
)

// Node is one real node of a local cluster. Every path derives from State,
// and the host-wide names (cgroup root, CNI network) from a hash of it, so
// two clusters on one machine never share them.
type Node struct {
	// State is the cluster's state folder (hack/cluster.sh's $STATE); the
	// node keeps its files in State/node.
	State string
	// Name is the Node object's name and the kubelet's hostname override.
	Name string
	// Bridge is the namespace-only bridge that carries the node address.
	Bridge string
	// IP is the node address, on Bridge inside NodeNet.
	IP      netip.Addr
	NodeNet netip.Prefix
	// PodCIDR is the node's pod subnet (bridge CNI, host-local IPAM), inside
	// ClusterCIDR.
	PodCIDR     netip.Prefix
	ClusterCIDR netip.Prefix
	// ServiceCIDR must equal kube-apiserver's --service-cluster-ip-range.
	ServiceCIDR netip.Prefix
	// DNS is the cluster DNS Service's address (kube-system/kube-dns) the
	// kubelet writes into pods' resolv.conf.
	DNS    netip.Addr
	Domain string
	// APIServer is the URL the node's host processes use (they run in the
	// namespace, so loopback reaches the API server).
	APIServer string
	// Registry is the host:port images are named with; RegistryEndpoint is
	// where containerd fetches them (plain HTTP, inside the namespace).
	Registry         string
	RegistryEndpoint string
	// PauseImage is the sandbox image containerd pins (never pulled again,
	// never garbage-collected).
	PauseImage string
	// BusyboxImage runs the volume provisioner's helper pods.
	BusyboxImage string
	// PKI is the folder of the cluster's certificates (hack/cluster.sh).
	PKI string
	// Runc, CNIBin and Busybox are the Debian packages' paths.
	Runc    string
	CNIBin  string
	Busybox string
	// ImageCache keeps the large images built for the node and the stack
	// (OCI layouts, by the fingerprint of their inputs), shared by every
	// cluster of the user.
	ImageCache string
}

// New is the node of the cluster whose state folder is state, with the
// addresses hack/cluster.sh uses.
func New(state string) *Node {
	state = filepath.Clean(state)
	return &Node{
		State:            state,
		Name:             "lab5-node",
		Bridge:           "lab5br0",
		IP:               netip.MustParseAddr("10.0.0.2"),
		NodeNet:          netip.MustParsePrefix("10.0.0.0/24"),
		PodCIDR:          netip.MustParsePrefix("10.244.0.0/24"),
		ClusterCIDR:      netip.MustParsePrefix("10.244.0.0/16"),
		ServiceCIDR:      netip.MustParsePrefix("10.96.0.0/16"),
		DNS:              netip.MustParseAddr("10.96.0.10"),
		Domain:           "cluster.local",
		APIServer:        "https://127.0.0.1:6443",
		Registry:         "localhost:5000",
		RegistryEndpoint: "http://127.0.0.1:5000",
		PKI:              filepath.Join(state, "pki"),
		Runc:             "/usr/sbin/runc",
		CNIBin:           "/usr/lib/cni",
		Busybox:          "/bin/busybox",
		ImageCache:       imageCacheDir(),
	}
}

// ID is a short hash of the state folder: it names what the node creates in
// host-wide places.
func (n *Node) ID() string {
	sum := sha1.Sum([]byte(n.State))
	return hex.EncodeToString(sum[:])[:8]
}

// CgroupRoot is the kubelet's cgroupRoot: every pod's cgroup lives below
// it, in each cgroup v1 hierarchy.
func (n *Node) CgroupRoot() string { return "/lab5-" + n.ID() }

// CNINetwork is the CNI network's name; libcni names its cached results
// (under /var/lib/cni, which containerd does not let us move) after it.
func (n *Node) CNINetwork() string { return "lab5-" + n.ID() }

// Dir is the node's own folder in the state folder.
func (n *Node) Dir(elem ...string) string {
	return filepath.Join(append([]string{n.State, "node"}, elem...)...)
}

// Paths of the node's files and folders.
func (n *Node) ContainerdConfig() string { return n.Dir("containerd", "config.toml") }
func (n *Node) ContainerdSocket() string { return n.Dir("containerd", "containerd.sock") }
func (n *Node) ContainerdRoot() string   { return n.Dir("containerd", "root") }
func (n *Node) ContainerdState() string  { return n.Dir("containerd", "state") }
func (n *Node) RegistryHosts() string    { return n.Dir("containerd", "certs.d") }
func (n *Node) RuncRoot() string         { return n.Dir("runc") }
func (n *Node) CNIConfDir() string       { return n.Dir("cni", "net.d") }
func (n *Node) IPAMDir() string          { return n.Dir("cni", "ipam") }
func (n *Node) KubeletRoot() string      { return n.Dir("kubelet") }
func (n *Node) KubeletConfig() string    { return n.Dir("kubelet.yaml") }
func (n *Node) KubeletKubeconfig() string {
	return n.Dir("kubelet.kubeconfig")
}
func (n *Node) KubeProxyConfig() string { return n.Dir("kube-proxy.yaml") }
func (n *Node) KubeProxyKubeconfig() string {
	return n.Dir("kube-proxy.kubeconfig")
}
func (n *Node) KubeRouterKubeconfig() string {
	return n.Dir("kube-router.kubeconfig")
}
func (n *Node) ProvisionerKubeconfig() string {
	return n.Dir("local-path-provisioner.kubeconfig")
}
func (n *Node) ProvisionerConfigFile() string { return n.Dir("local-path", "config.json") }
func (n *Node) HelperPodFile() string         { return n.Dir("local-path", "helperPod.yaml") }
func (n *Node) PodLogs() string               { return n.Dir("pod-logs") }
func (n *Node) ResolvConf() string            { return n.Dir("resolv.conf") }

// Validate checks that the addresses fit together.
func (n *Node) Validate() error {
	var errs []string
	if !n.NodeNet.Contains(n.IP) {
		errs = append(errs, fmt.Sprintf("node IP %s is outside %s", n.IP, n.NodeNet))
	}
	if n.IP.IsLoopback() {
		errs = append(errs, "the kubelet refuses a loopback node IP")
	}
	if !n.ClusterCIDR.Contains(n.PodCIDR.Addr()) || n.PodCIDR.Bits() < n.ClusterCIDR.Bits() {
		errs = append(errs, fmt.Sprintf("pod CIDR %s is not inside the cluster CIDR %s", n.PodCIDR, n.ClusterCIDR))
	}
	if !n.ServiceCIDR.Contains(n.DNS) {
		errs = append(errs, fmt.Sprintf("DNS address %s is outside the service CIDR %s", n.DNS, n.ServiceCIDR))
	}
	for _, p := range [][2]netip.Prefix{{n.NodeNet, n.ClusterCIDR}, {n.NodeNet, n.ServiceCIDR}, {n.ClusterCIDR, n.ServiceCIDR}} {
		if p[0].Overlaps(p[1]) {
			errs = append(errs, fmt.Sprintf("%s overlaps %s", p[0], p[1]))
		}
	}
	if n.PauseImage == "" {
		errs = append(errs, "no pause image")
	}
	if n.BusyboxImage == "" {
		errs = append(errs, "no busybox image")
	}
	if len(errs) > 0 {
		return fmt.Errorf("node %s: %s", n.Name, strings.Join(errs, "; "))
	}
	return nil
}

// Env is what hack/cluster.sh needs to know, as shell assignments.
func (n *Node) Env() string {
	vars := map[string]string{
		"NODE_NAME":              n.Name,
		"NODE_IP":                n.IP.String(),
		"NODE_PREFIX":            fmt.Sprintf("%s/%d", n.IP, n.NodeNet.Bits()),
		"NODE_BRIDGE":            n.Bridge,
		"NODE_DIR":               n.Dir(),
		"POD_CIDR":               n.PodCIDR.String(),
		"CLUSTER_CIDR":           n.ClusterCIDR.String(),
		"SERVICE_CIDR":           n.ServiceCIDR.String(),
		"CLUSTER_DNS":            n.DNS.String(),
		"CONTAINERD_CONFIG":      n.ContainerdConfig(),
		"CONTAINERD_SOCKET":      n.ContainerdSocket(),
		"KUBELET_ROOT":           n.KubeletRoot(),
		"KUBELET_CONFIG":         n.KubeletConfig(),
		"KUBELET_KUBECONFIG":     n.KubeletKubeconfig(),
		"KUBEPROXY_CONFIG":       n.KubeProxyConfig(),
		"KUBEPROXY_KUBECONFIG":   n.KubeProxyKubeconfig(),
		"KUBEROUTER_KUBECONFIG":  n.KubeRouterKubeconfig(),
		"PROVISIONER_KUBECONFIG": n.ProvisionerKubeconfig(),
		"PROVISIONER_CONFIG":     n.ProvisionerConfigFile(),
		"PROVISIONER_HELPER_POD": n.HelperPodFile(),
		"CGROUP_ROOT":            n.CgroupRoot(),
	}
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, shellQuote(vars[k]))
	}
	return b.String()
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
