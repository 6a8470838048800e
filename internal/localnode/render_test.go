package localnode

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"sigs.k8s.io/yaml"
)

const testPause = "localhost:5000/lab5-node/pause@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func testNode(t *testing.T) *Node {
	t.Helper()
	n := New(filepath.Join(t.TempDir(), "cluster"))
	n.PauseImage = testPause
	n.BusyboxImage = "localhost:5000/lab5-node/busybox@sha256:abc"
	return n
}

// dig follows keys through nested maps decoded from TOML, JSON or YAML.
func dig(t *testing.T, v any, keys ...string) any {
	t.Helper()
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("at %q: %T is not a table", k, v)
		}
		if v, ok = m[k]; !ok {
			t.Fatalf("key %q missing (have %v)", k, mapKeys(m))
		}
	}
	return v
}

// parsed is what render returns, unmarshalled into a map.
func parsed(t *testing.T, render func() ([]byte, error), unmarshal func([]byte, any) error) map[string]any {
	t.Helper()
	data, err := render()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := unmarshal(data, &m); err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	return m
}

// unmarshalYAML is yaml.Unmarshal without its options, to pass like
// json.Unmarshal.
func unmarshalYAML(b []byte, v any) error { return yaml.Unmarshal(b, v) }

func mapKeys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func TestContainerdConfigKeepsEverythingInTheStateFolderAndPinsThePauseImage(t *testing.T) {
	n := testNode(t)
	var cfg map[string]any
	if _, err := toml.Decode(n.ContainerdConfigTOML(), &cfg); err != nil {
		t.Fatalf("config.toml does not parse: %v\n%s", err, n.ContainerdConfigTOML())
	}
	if v := dig(t, cfg, "version"); v != int64(3) {
		t.Errorf("version = %v, want 3 (containerd 2.x)", v)
	}
	for _, key := range []string{"root", "state"} {
		if p := dig(t, cfg, key).(string); !strings.HasPrefix(p, n.Dir()+"/") {
			t.Errorf("%s = %s, want it under %s", key, p, n.Dir())
		}
	}
	if got := dig(t, cfg, "grpc", "address"); got != n.ContainerdSocket() {
		t.Errorf("grpc.address = %v, want %s", got, n.ContainerdSocket())
	}
	plugins := dig(t, cfg, "plugins")
	images := dig(t, plugins, "io.containerd.cri.v1.images")
	if got := dig(t, images, "pinned_images", "sandbox"); got != testPause {
		t.Errorf("sandbox image = %v, want %s", got, testPause)
	}
	if got := dig(t, images, "registry", "config_path"); got != n.RegistryHosts() {
		t.Errorf("registry config_path = %v, want %s", got, n.RegistryHosts())
	}
	rt := dig(t, plugins, "io.containerd.cri.v1.runtime")
	if dig(t, rt, "restrict_oom_score_adj") != true {
		t.Error("restrict_oom_score_adj must be true: without CAP_SYS_RESOURCE runc cannot start a sandbox")
	}
	if dig(t, rt, "netns_mounts_under_state_dir") != true {
		t.Error("pod network namespaces must be mounted under the state folder")
	}
	runc := dig(t, rt, "containerd", "runtimes", "runc", "options")
	if dig(t, runc, "SystemdCgroup") != false {
		t.Error("SystemdCgroup must be false: the kubelet uses cgroupfs")
	}
	if dig(t, runc, "Root") != n.RuncRoot() || dig(t, runc, "BinaryName") != n.Runc {
		t.Errorf("runc options = %v", runc)
	}
	if got := dig(t, rt, "cni", "conf_dir"); got != n.CNIConfDir() {
		t.Errorf("cni conf_dir = %v, want %s", got, n.CNIConfDir())
	}
	if got := dig(t, plugins, "io.containerd.image-verifier.v1.bindir", "bin_dir").(string); !strings.HasPrefix(got, n.Dir()) {
		t.Errorf("image verifier bin_dir = %s: the plugin must stay enabled, with a private folder", got)
	}
	disabled := dig(t, cfg, "disabled_plugins").([]any)
	if !contains(disabled, "io.containerd.nri.v1.nri") {
		t.Errorf("NRI not disabled (it would listen on /var/run/nri): %v", disabled)
	}
	for _, d := range disabled {
		if strings.Contains(d.(string), "cri") || strings.Contains(d.(string), "image-verifier") {
			t.Errorf("%s must not be disabled", d)
		}
	}
}

func contains(list []any, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestRegistryHostsFetchFromTheLocalRegistryOnly(t *testing.T) {
	n := testNode(t)
	files, err := n.Files()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range files {
		if filepath.Base(f.Path) != "hosts.toml" {
			continue
		}
		name := filepath.Base(filepath.Dir(f.Path))
		seen[name] = true
		var h map[string]any
		if _, err := toml.Decode(string(f.Data), &h); err != nil {
			t.Fatalf("%s: %v", f.Path, err)
		}
		if h["server"] != "http://127.0.0.1:5000" {
			t.Errorf("%s: server = %v", name, h["server"])
		}
		hosts := dig(t, h, "host").(map[string]any)
		if len(hosts) != 1 || hosts["http://127.0.0.1:5000"] == nil {
			t.Errorf("%s: hosts = %v, want only the local registry", name, hosts)
		}
		caps := dig(t, hosts["http://127.0.0.1:5000"], "capabilities").([]any)
		if !contains(caps, "pull") || !contains(caps, "resolve") || contains(caps, "push") {
			t.Errorf("%s: capabilities = %v", name, caps)
		}
	}
	// Images are named localhost:5000/...; 127.0.0.1:5000/... must work too.
	if !seen["localhost:5000"] || !seen["127.0.0.1:5000"] {
		t.Errorf("hosts.toml for %v, want localhost:5000 and 127.0.0.1:5000", seen)
	}
}

func TestCNIConfListIsOneBridgeOnThePodCIDRWithoutMasquerade(t *testing.T) {
	n := testNode(t)
	conf := parsed(t, n.CNIConfList, json.Unmarshal)
	if conf["name"] != n.CNINetwork() {
		t.Errorf("name = %v, want %s (libcni's cache files carry it)", conf["name"], n.CNINetwork())
	}
	plugins := conf["plugins"].([]any)
	bridge := plugins[0]
	if dig(t, bridge, "type") != "bridge" || dig(t, bridge, "ipMasq") != false || dig(t, bridge, "isGateway") != true {
		t.Errorf("bridge plugin = %v", bridge)
	}
	ipam := dig(t, bridge, "ipam")
	subnet := dig(t, ipam, "ranges").([]any)[0].([]any)[0]
	if dig(t, subnet, "subnet") != n.PodCIDR.String() {
		t.Errorf("subnet = %v, want %s", subnet, n.PodCIDR)
	}
	if dig(t, ipam, "dataDir") != n.IPAMDir() {
		t.Errorf("host-local dataDir = %v, want %s", dig(t, ipam, "dataDir"), n.IPAMDir())
	}
	types := []string{}
	for _, p := range plugins {
		types = append(types, dig(t, p, "type").(string))
	}
	if strings.Join(types, ",") != "bridge,portmap" {
		t.Errorf("plugins = %v", types)
	}
}

func TestKubeletConfigurationFitsThisMachine(t *testing.T) {
	n := testNode(t)
	cfg := parsed(t, n.KubeletConfiguration, unmarshalYAML)
	want := map[string]any{
		"kind":                     "KubeletConfiguration",
		"cgroupDriver":             "cgroupfs",
		"failCgroupV1":             false,
		"failSwapOn":               false,
		"address":                  "10.0.0.2",
		"clusterDomain":            "cluster.local",
		"cgroupRoot":               n.CgroupRoot(),
		"resolvConf":               n.ResolvConf(),
		"containerRuntimeEndpoint": "unix://" + n.ContainerdSocket(),
		"readOnlyPort":             float64(0),
	}
	for k, v := range want {
		if cfg[k] != v {
			t.Errorf("%s = %v, want %v", k, cfg[k], v)
		}
	}
	if dns := cfg["clusterDNS"].([]any); len(dns) != 1 || dns[0] != "10.96.0.10" {
		t.Errorf("clusterDNS = %v", dns)
	}
	// kubectl logs/exec: the API server authenticates to the kubelet with a
	// client certificate, and the kubelet asks the API server who may.
	if dig(t, cfg, "authentication", "anonymous", "enabled") != false ||
		dig(t, cfg, "authentication", "webhook", "enabled") != true ||
		dig(t, cfg, "authorization", "mode") != "Webhook" {
		t.Errorf("kubelet authn/authz = %v %v", cfg["authentication"], cfg["authorization"])
	}
}

func TestKubeProxyUsesNftablesAndServesNodePortsOnTheNodeAddressOnly(t *testing.T) {
	n := testNode(t)
	cfg := parsed(t, n.KubeProxyConfiguration, unmarshalYAML)
	if cfg["mode"] != "nftables" {
		t.Errorf("mode = %v", cfg["mode"])
	}
	if npa := cfg["nodePortAddresses"].([]any); len(npa) != 1 || npa[0] != "10.0.0.0/24" {
		t.Errorf("nodePortAddresses = %v, want the node network only", npa)
	}
	if cfg["clusterCIDR"] != "10.244.0.0/16" || cfg["hostnameOverride"] != n.Name {
		t.Errorf("clusterCIDR/hostnameOverride = %v/%v", cfg["clusterCIDR"], cfg["hostnameOverride"])
	}
	// Host-wide conntrack settings stay untouched (0 = leave as is).
	for _, k := range []string{"maxPerCore", "min"} {
		if v := dig(t, cfg, "conntrack", k); v != float64(0) {
			t.Errorf("conntrack.%s = %v, want 0", k, v)
		}
	}
}

// absPath finds absolute paths in rendered text.
var absPath = regexp.MustCompile(`(?:^|[\s"'=:])(/[A-Za-z0-9._/-]+)`)

// The node must write nowhere but its state folder: every absolute path in
// every rendered file is there, or is one of the programs it runs, or the
// cgroup (not a file system path) it names.
func TestRenderedFilesNameNoPathOutsideTheStateFolder(t *testing.T) {
	n := testNode(t)
	files, err := n.Files()
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string]bool{n.Runc: true, n.CNIBin: true, n.CgroupRoot(): true, "/etc/coredns": true,
		// URL paths and well-known names, not files.
		"/ready": true, "/health": true}
	for _, f := range files {
		if !strings.HasPrefix(f.Path, n.Dir()+"/") {
			t.Errorf("file %s is outside %s", f.Path, n.Dir())
		}
		for _, m := range absPath.FindAllStringSubmatch(string(f.Data), -1) {
			p := m[1]
			if strings.HasPrefix(p, n.State+"/") || allowed[p] || strings.HasPrefix(p, "//") {
				continue
			}
			t.Errorf("%s names %s, outside the state folder", filepath.Base(f.Path), p)
		}
	}
}

func TestWriteCreatesTheFilesAndFolders(t *testing.T) {
	n := testNode(t)
	if err := n.Write(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{n.ContainerdConfig(), n.KubeletConfig(), n.KubeProxyConfig(), n.ResolvConf(),
		filepath.Join(n.RegistryHosts(), "localhost:5000", "hosts.toml"), n.KubeletKubeconfig()} {
		if _, err := os.Stat(p); err != nil {
			t.Error(err)
		}
	}
	if fi, err := os.Stat(n.KubeletKubeconfig()); err == nil && fi.Mode().Perm() != 0o600 {
		t.Errorf("kubelet kubeconfig mode %v, want 0600", fi.Mode().Perm())
	}
	if data, _ := os.ReadFile(n.ResolvConf()); len(data) != 0 {
		t.Errorf("resolv.conf = %q, want empty: pods get no outside resolver", data)
	}
	for _, d := range []string{n.ContainerdRoot(), n.IPAMDir(), n.KubeletRoot(), n.PodLogs()} {
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
			t.Errorf("folder %s: %v", d, err)
		}
	}
}

func TestTwoClustersNeverShareHostWideNames(t *testing.T) {
	a, b := New("/work/x/.cluster"), New("/work/x/.cluster/test")
	if a.CgroupRoot() == b.CgroupRoot() || a.CNINetwork() == b.CNINetwork() {
		t.Errorf("same names for two state folders: %s %s", a.CgroupRoot(), a.CNINetwork())
	}
	if New("/work/x/.cluster/").CgroupRoot() != a.CgroupRoot() {
		t.Error("a trailing slash must not change the names")
	}
}

func TestValidateRejectsAddressesThatCannotWork(t *testing.T) {
	cases := map[string]func(n *Node){
		"loopback node IP": func(n *Node) {
			n.IP = netip.MustParseAddr("127.0.0.2")
			n.NodeNet = netip.MustParsePrefix("127.0.0.0/8")
		},
		"node IP outside its net":   func(n *Node) { n.IP = netip.MustParseAddr("10.1.0.2") },
		"pod CIDR outside cluster":  func(n *Node) { n.PodCIDR = netip.MustParsePrefix("10.245.0.0/24") },
		"DNS outside service range": func(n *Node) { n.DNS = netip.MustParseAddr("10.97.0.10") },
		"pods overlap services": func(n *Node) {
			n.ClusterCIDR = netip.MustParsePrefix("10.0.0.0/8")
			n.PodCIDR = netip.MustParsePrefix("10.244.0.0/24")
		},
		"no pause image": func(n *Node) { n.PauseImage = "" },
	}
	if err := testNode(t).Validate(); err != nil {
		t.Fatalf("default node: %v", err)
	}
	for name, mutate := range cases {
		n := testNode(t)
		mutate(n)
		if err := n.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
		if _, err := n.Files(); err == nil {
			t.Errorf("%s: files rendered anyway", name)
		}
	}
}

func TestEnvIsShellThatCarriesTheNodeSettings(t *testing.T) {
	n := New("/tmp/it's a state")
	cmd := exec.Command("bash", "-c", `eval "$(cat)"; printf '%s|%s|%s|%s' "$NODE_IP" "$NODE_PREFIX" "$KUBELET_ROOT" "$CGROUP_ROOT"`)
	cmd.Stdin = strings.NewReader(n.Env())
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{"10.0.0.2", "10.0.0.2/24", n.KubeletRoot(), n.CgroupRoot()}, "|")
	if string(bytes.TrimSpace(out)) != want {
		t.Errorf("got %q, want %q", out, want)
	}
}
