#!/usr/bin/env bash
# Puts the project's toolchain into .tools/bin, building from the Go module
# proxy only what is missing. Versions live in tools/versions.env; each tool is
# built from its own small module under tools/<name>/ so that minimal version
# selection never drags one tool's dependencies into another's.
#
# Order of preference for every binary:
#   1. already in .tools/bin at the right version   -> nothing to do
#   2. a matching binary on PATH                     -> linked
#   3. the per-user cache (keyed by tool and version) -> linked
#   4. built into the cache, then linked
#
# Usage: hack/tools.sh [test|node|tool...]   (default: test node, i.e. all)
set -euo pipefail
# shellcheck source=env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
CACHE=${LAB5_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lab5-tools}
BIN=$LAB5_ROOT/.tools/bin
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false CGO_ENABLED=0
mkdir -p "$BIN" "$CACHE"

# version_of BIN: the line a binary prints about its own version, or nothing.
version_of() {
	local bin=$1 name
	name=$(basename "$bin")
	case $name in
	pulumi) "$bin" version 2>/dev/null ;;
	kube-router) "$bin" --version 2>&1 ;; # prints its version on stderr
	kube-*) "$bin" --version 2>/dev/null ;;
	kubectl) "$bin" version --client 2>/dev/null | head -1 ;;
	etcd) "$bin" --version 2>/dev/null | head -1 ;;
	kwok) "$bin" --version 2>/dev/null ;;
	golangci-lint) "$bin" version 2>/dev/null ;;
	*) cat "$(dirname "$bin")/.$name.version" 2>/dev/null ;;
	esac
}

# link_into_bin DIR BINARIES...: hard-link (or copy) binaries into .tools/bin.
# Hard links rather than symlinks because pulumi looks for its language host
# beside its own resolved path.
link_into_bin() {
	local dir=$1 b
	shift
	for b in "$@"; do
		ln -f "$dir/$b" "$BIN/$b" 2>/dev/null || cp -f "$dir/$b" "$BIN/$b"
		cp "$dir/.version" "$BIN/.$b.version"
	done
	[ ! -d "$dir/share" ] || { rm -rf "$BIN/../share/$(basename "$dir")"; mkdir -p "$BIN/../share"; cp -r "$dir/share" "$BIN/../share/$(basename "$dir")"; }
}

# ensure TOOL VERSION WANT BUILD_FN BINARIES...
#   WANT: a fixed string the version output must contain.
ensure() {
	local tool=$1 version=$2 want=$3 build=$4
	shift 4
	local dir=$CACHE/$tool-$version b ok=1 found start
	for b in "$@"; do
		[ -x "$BIN/$b" ] && version_of "$BIN/$b" | grep -qF -- "$want" || ok=0
	done
	if [ $ok = 1 ]; then
		log "$tool $version: up to date in .tools/bin"
		return
	fi
	if [ "$#" = 1 ] && found=$(PATH=${PATH//$BIN:/} command -v "$1") && version_of "$found" | grep -qF -- "$want"; then
		log "$tool $version: using $found from PATH"
		ln -sf "$found" "$BIN/$1"
		return
	fi
	if [ ! -f "$dir/.complete" ]; then
		log "$tool $version: building (cache: $dir)"
		start=$SECONDS
		rm -rf "$dir" && mkdir -p "$dir"
		if ! "$build" "$dir" >"$dir.log" 2>&1; then
			tail -n 30 "$dir.log" >&2
			die "$tool $version: build failed after $((SECONDS - start))s; full log in $dir.log"
		fi
		echo "$want" >"$dir/.version"
		touch "$dir/.complete"
		log "$tool $version: built in $((SECONDS - start))s"
	else
		log "$tool $version: from cache $dir"
	fi
	link_into_bin "$dir" "$@"
}

# debian_packages "PACKAGE:COMMAND:WHY"...: the system packages the project
# uses as they are. Missing ones are installed when running as root, each
# with a line saying why; otherwise the one apt-get line is printed.
debian_packages() {
	local entry pkg cmd why missing=()
	for entry in "$@"; do
		IFS=: read -r pkg cmd why <<<"$entry"
		command -v "$cmd" >/dev/null && continue
		log "needs Debian package $pkg: $why"
		missing+=("$pkg")
	done
	[ ${#missing[@]} = 0 ] && return
	[ "$(id -u)" = 0 ] || die "missing system packages; run: sudo apt-get install -y ${missing[*]}"
	log "installing ${missing[*]} with apt-get"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=300 "${missing[@]}" >/dev/null ||
		die "apt-get install ${missing[*]} failed; run it by hand to see why"
}

gobuild() { # MODULE_DIR OUT PKG [go build flags...]
	local mod=$1 out=$2 pkg=$3
	shift 3
	(cd "$LAB5_ROOT/tools/$mod" && go build -trimpath "$@" -o "$out" "$pkg")
}

build_pulumi() {
	gobuild pulumi "$1/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi \
		-tags osusergo,grpcnotrace \
		-ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION"
}

build_language_go() {
	gobuild pulumi-language-go "$1/pulumi-language-go" github.com/pulumi/pulumi/sdk/v3/go/pulumi-language-go \
		-ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_LANGUAGE_GO_VERSION"
}

build_kubernetes_provider() {
	local mod=$LAB5_ROOT/tools/pulumi-resource-kubernetes src
	src=$(cd "$mod" && go list -m -f '{{.Dir}}' github.com/pulumi/pulumi-kubernetes/provider/v4)/cmd/pulumi-resource-kubernetes
	jq -c ".version=\"$PULUMI_KUBERNETES_VERSION\"" "$src/schema.json" >"$mod/schema-embed.json"
	jq -c . "$src/terraform-mapping.json" >"$mod/terraform-mapping-embed.json"
	gobuild pulumi-resource-kubernetes "$1/pulumi-resource-kubernetes" . \
		-ldflags "-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$PULUMI_KUBERNETES_VERSION"
}

build_kube() { # DIR PKG...: Kubernetes binaries with their version stamped in
	local flags="" p minor
	minor=$(echo "$KUBERNETES_VERSION" | cut -d. -f2)
	for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		flags+=" -X $p.gitVersion=$KUBERNETES_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
		flags+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
	done
	(cd "$LAB5_ROOT/tools/kube" && go build -trimpath -ldflags "-s -w$flags" -o "$1/" "${@:2}")
}

build_control_plane() {
	build_kube "$1" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler
}

build_kubectl() {
	build_kube "$1" k8s.io/kubernetes/cmd/kubectl
}

build_etcd() {
	gobuild etcd "$1/etcd" go.etcd.io/etcd/server/v3 -ldflags "-s -w"
}

build_kwok() {
	local stages
	gobuild kwok "$1/kwok" sigs.k8s.io/kwok/cmd/kwok \
		-ldflags "-s -w"
	# kwok >= 0.8 ships no built-in stages; take the ones the control plane
	# needs from the same module so they match the binary.
	stages=$(cd "$LAB5_ROOT/tools/kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)/kustomize/stage
	mkdir -p "$1/share/stages"
	cp "$stages/node/fast/node-initialize.yaml" "$stages/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml" \
		"$stages/pod/fast/pod-ready.yaml" "$stages/pod/fast/pod-complete.yaml" "$stages/pod/fast/pod-delete.yaml" \
		"$stages/volume/fast/pvc-provision.yaml" "$stages/volume/fast/pv-bind.yaml" "$stages/volume/fast/pv-delete.yaml" \
		"$stages/volume/fast/pvc-delete.yaml" "$1/share/stages/"
	chmod -R u+w "$1/share"
}

build_golangci_lint() {
	gobuild golangci-lint "$1/golangci-lint" github.com/golangci/golangci-lint/v2/cmd/golangci-lint \
		-ldflags "-s -w -X main.version=${GOLANGCI_LINT_VERSION#v}"
}

build_minio() {
	gobuild minio "$1/minio" github.com/minio/minio -ldflags "-s -w"
}

# The local OCI registry (CNCF Distribution) that hack/cluster.sh runs and
# the dev stack pushes the apps' images to.
build_registry() {
	gobuild registry "$1/registry" . \
		-ldflags "-s -w -X github.com/distribution/distribution/v3/version.version=$DISTRIBUTION_VERSION"
}

# The goimage provider is project source, not a pinned tool: built on every
# run straight into .tools/bin; go build links again only when one of its
# sources changed (then it takes seconds), else it returns at once.
build_goimage_provider() {
	local start=$SECONDS
	(cd "$LAB5_ROOT" && go build -trimpath -ldflags "-s -w" -o "$BIN/pulumi-resource-goimage" ./cmd/pulumi-resource-goimage) ||
		die "pulumi-resource-goimage: build failed"
	log "pulumi-resource-goimage: built from ./cmd/pulumi-resource-goimage ($((SECONDS - start))s)"
}

# The real node's parts (hack/cluster.sh up --real-node).
build_containerd() {
	local ld="-s -w -X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION"
	# The shim is built as upstream does: without the gRPC server it never uses.
	(cd "$LAB5_ROOT/tools/containerd" &&
		go build -trimpath -tags no_btrfs -ldflags "$ld" -o "$1/" \
			github.com/containerd/containerd/v2/cmd/containerd github.com/containerd/containerd/v2/cmd/ctr &&
		go build -trimpath -tags no_btrfs,no_grpc -ldflags "$ld" -o "$1/" github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2)
}

build_kubelet() {
	build_kube "$1" k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy
}

# The cluster's DNS runs as a pod: hack/cluster.sh builds its image from the
# same module with internal/goimage's flags, so this build warms that one.
build_coredns() {
	gobuild coredns "$1/coredns" . -tags timetzdata -ldflags "-s -w"
}

# PersistentVolumes on the real node: Rancher's local-path-provisioner (as
# kind has), run as a host process; data under the cluster's state folder.
build_local_path_provisioner() {
	gobuild local-path-provisioner "$1/local-path-provisioner" github.com/rancher/local-path-provisioner \
		-ldflags "-s -w -X main.VERSION=$LOCAL_PATH_PROVISIONER_VERSION"
}

# NetworkPolicy enforcement on the real node: kube-router run with its
# firewall controller only (a local test harness part, never deployed by the
# stack).
build_kube_router() {
	gobuild kube-router "$1/kube-router" github.com/cloudnativelabs/kube-router/v2/cmd/kube-router \
		-ldflags "-s -w -X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=$KUBE_ROUTER_VERSION"
}

debian_packages \
	"jq:jq:prepares the Kubernetes provider's embedded schema" \
	"shellcheck:shellcheck:lints hack/ and .ci/ in make test"

# Two groups, so that each command builds only what it uses: "test" is what
# make test needs (control plane with fake nodes, pulumi, linters, registry),
# "node" what a real node adds (hack/cluster.sh up --real-node asks for it).
TEST_TOOLS="minio etcd kwok kube kubectl pulumi pulumi-language-go pulumi-resource-kubernetes golangci-lint registry goimage-provider"
NODE_TOOLS="node-packages containerd kubelet coredns kube-router local-path-provisioner"
want_tools=${*:-test node}
want_tools=${want_tools//test/$TEST_TOOLS}
want_tools=${want_tools//node/$NODE_TOOLS}
total=$SECONDS
for t in $want_tools; do
	case $t in
	pulumi) ensure pulumi "$PULUMI_VERSION" "$PULUMI_VERSION" build_pulumi pulumi ;;
	pulumi-language-go) ensure pulumi-language-go "$PULUMI_LANGUAGE_GO_VERSION" "$PULUMI_LANGUAGE_GO_VERSION" build_language_go pulumi-language-go ;;
	pulumi-resource-kubernetes) ensure pulumi-resource-kubernetes "$PULUMI_KUBERNETES_VERSION" "$PULUMI_KUBERNETES_VERSION" build_kubernetes_provider pulumi-resource-kubernetes ;;
	kube) ensure kube "$KUBERNETES_VERSION" "Kubernetes $KUBERNETES_VERSION" build_control_plane kube-apiserver kube-controller-manager kube-scheduler ;;
	kubectl) ensure kubectl "$KUBERNETES_VERSION" "Client Version: $KUBERNETES_VERSION" build_kubectl kubectl ;;
	etcd) ensure etcd "$ETCD_VERSION" "etcd Version: ${ETCD_VERSION#v}" build_etcd etcd ;;
	kwok) ensure kwok "$KWOK_VERSION" "${KWOK_VERSION#v}" build_kwok kwok ;;
	golangci-lint) ensure golangci-lint "$GOLANGCI_LINT_VERSION" "has version ${GOLANGCI_LINT_VERSION#v}" build_golangci_lint golangci-lint ;;
	minio) ensure minio "$MINIO_VERSION" "$MINIO_VERSION" build_minio minio ;;
	registry) ensure registry "$DISTRIBUTION_VERSION" "$DISTRIBUTION_VERSION" build_registry registry ;;
	goimage-provider) build_goimage_provider ;;
	node-packages)
		debian_packages \
			"runc:runc:the real node's OCI runtime" \
			"containernetworking-plugins:/usr/lib/cni/bridge:the real node's pod network (bridge, host-local, loopback, portmap)" \
			"nftables:nft:kube-proxy's nftables mode" \
			"conntrack:conntrack:kube-proxy clears stale UDP (DNS) flows" \
			"ipset:ipset:kube-router's NetworkPolicy rules" \
			"iptables:iptables:kube-router's NetworkPolicy rules" \
			"busybox-static:/bin/busybox:the shell of the volume provisioner's helper pods"
		;;
	containerd) ensure containerd "$CONTAINERD_VERSION" "$CONTAINERD_VERSION" build_containerd containerd containerd-shim-runc-v2 ctr ;;
	kubelet) ensure kubelet "$KUBERNETES_VERSION" "Kubernetes $KUBERNETES_VERSION" build_kubelet kubelet kube-proxy ;;
	coredns) ensure coredns "$COREDNS_VERSION" "$COREDNS_VERSION" build_coredns coredns ;;
	kube-router) ensure kube-router "$KUBE_ROUTER_VERSION" "$KUBE_ROUTER_VERSION" build_kube_router kube-router ;;
	local-path-provisioner) ensure local-path-provisioner "$LOCAL_PATH_PROVISIONER_VERSION" "$LOCAL_PATH_PROVISIONER_VERSION" build_local_path_provisioner local-path-provisioner ;;
	*) die "unknown tool $t" ;;
	esac
done
log "toolchain ready in .tools/bin ($((SECONDS - total))s)"
