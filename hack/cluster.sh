#!/usr/bin/env bash
# A local Kubernetes control plane with fake (kwok) nodes, for development and
# tests: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok,
# plus an OCI registry (CNCF Distribution) on 127.0.0.1:5000 for the apps' images.
# With --real-node (or CLUSTER_NODE=real) it gets one real worker node
# instead: containerd + runc + bridge CNI, the kubelet, kube-proxy (nftables)
# and CoreDNS, the node's address on a bridge that exists only inside the
# namespace (cmd/lab5-node renders their configuration and cleans up after
# them).
#
# Everything runs inside a private network namespace that has only loopback:
# the fake pods' and Services' addresses (10.x) exist nowhere, so anything that
# dials them must fail on this machine instead of sending packets off it.
# Use `hack/cluster.sh exec CMD...` to run a command (pulumi, kubectl, tests)
# inside that namespace.
#
# Usage: hack/cluster.sh up [--real-node]|down [--purge]|status|exec CMD...|netns
# State: .cluster/ (certificates, etcd data, logs, pid files, kubeconfig).
set -euo pipefail

# shellcheck source=env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
STATE=${CLUSTER_STATE:-$LAB5_ROOT/.cluster}
BIN=$LAB5_ROOT/.tools/bin
# One namespace per state folder, so two clones (or make up and make test)
# never share a control plane.
NETNS=${CLUSTER_NETNS:-lab5-$(printf '%s' "$STATE" | sha1sum | cut -c1-8)}
KUBECONFIG_FILE=$STATE/kubeconfig
FAKE_NODES=${FAKE_NODES:-2}
NODE_MODE=${CLUSTER_NODE:-fake}
# NodePorts of the real node that the host's loopback forwards to (the lab's
# echoserver is on 30001): PORT, or HOSTPORT:NODEPORT when the host's port
# is taken (make test's real node uses another, so that it runs beside
# make up's); empty for none.
NODE_HOST_PORTS=${NODE_HOST_PORTS-30001}
export PATH=$BIN:$PATH KUBECACHEDIR=$STATE/kube-cache

in_netns() { ip netns exec "$NETNS" "$@"; }
# The node's processes need the host's /sys (cgroups): `ip netns exec` gives
# its command a private /sys of the namespace, so they enter the network
# namespace only.
in_netns_host_mounts() { nsenter --net="/run/netns/$NETNS" "$@"; }
on_host() { "$@"; }

ensure_netns() {
	[ "$(id -u)" = 0 ] || die "a private network namespace needs root (ip netns); run as root"
	if ! ip netns list | grep -qw "^$NETNS"; then
		ip netns add "$NETNS"
		log "created network namespace $NETNS (loopback only)"
	fi
	in_netns ip link set lo up
}

running() { # NAME: true when the pid file names a live process
	local pid
	pid=$(cat "$STATE/$1.pid" 2>/dev/null) || return 1
	kill -0 "$pid" 2>/dev/null
}

start() { # NAME CMD...: start a component in the namespace unless it runs
	local name=$1
	shift
	if running "$name"; then
		log "$name already running (pid $(cat "$STATE/$name.pid"))"
		return
	fi
	rm -f "$STATE/$name.pid"
	# A session of its own, so a Ctrl-C of the caller does not reach it; the
	# process records its own pid just before it becomes the component.
	# shellcheck disable=SC2016 # $$ and $@ are the inner bash's
	"${LAUNCH:-in_netns}" setsid --fork bash -c 'echo $$ >"$0"; exec "$@"' "$STATE/$name.pid" "$@" \
		>"$STATE/logs/$name.log" 2>&1 </dev/null
	for _ in $(seq 1 50); do [ -s "$STATE/$name.pid" ] && break; sleep 0.1; done
	log "started $name (pid $(cat "$STATE/$name.pid"))"
}

wait_for() { # WHAT SECONDS CMD...: retry CMD until it succeeds
	local what=$1 timeout=$2 start=$SECONDS
	shift 2
	until "$@" >/dev/null 2>&1; do
		if ((SECONDS - start > timeout)); then
			die "$what not ready after ${timeout}s; logs in $STATE/logs"
		fi
		sleep 0.5
	done
	log "$what ready after $((SECONDS - start))s"
}

kctl() { in_netns kubectl --kubeconfig "$KUBECONFIG_FILE" "$@"; }

issue() { # NAME SUBJECT [SAN]: a key and certificate signed by the cluster CA
	(
		cd "$STATE/pki"
		openssl genrsa -out "$1.key" 2048 2>/dev/null
		openssl req -new -key "$1.key" -subj "$2" -out "$1.csr"
		if [ -n "${3:-}" ]; then
			printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$3" >"$1.ext"
		else
			printf 'extendedKeyUsage=clientAuth\n' >"$1.ext"
		fi
		openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 -extfile "$1.ext" -out "$1.crt" 2>/dev/null
	)
}

apiserver_sans() {
	printf 'IP:127.0.0.1,IP:10.96.0.1,%sDNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local' \
		"${NODE_IP:+IP:$NODE_IP,}"
}

certs() {
	local pki=$STATE/pki
	[ -f "$pki/admin.crt" ] && return
	mkdir -p "$pki"
	(
		cd "$pki"
		openssl genrsa -out ca.key 2048 2>/dev/null
		openssl req -x509 -new -key ca.key -days 3650 -subj /CN=lab5-local-ca -out ca.crt
		openssl genrsa -out sa.key 2048 2>/dev/null
		openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
	)
	issue apiserver /CN=kube-apiserver "$(apiserver_sans)"
	issue admin "/O=system:masters/CN=lab5-admin"
	log "certificates written to $pki"
}

# node_certs: the real node's identities. The kubelet is system:node:NAME
# (the Node authorizer), kube-proxy system:kube-proxy (bound to
# system:node-proxier by default), and the API server needs a client
# certificate of its own for kubectl logs/exec/port-forward through the
# kubelet. A state folder made for fake nodes gets the node address added
# to the API server's certificate.
node_certs() {
	local pki=$STATE/pki
	if ! openssl x509 -in "$pki/apiserver.crt" -noout -ext subjectAltName 2>/dev/null | grep -qF "IP Address:$NODE_IP"; then
		issue apiserver /CN=kube-apiserver "$(apiserver_sans)"
		log "API server certificate reissued for the node address $NODE_IP"
	fi
	[ -f "$pki/kubelet.crt" ] || issue kubelet "/O=system:nodes/CN=system:node:$NODE_NAME"
	[ -f "$pki/kube-proxy.crt" ] || issue kube-proxy /CN=system:kube-proxy
	[ -f "$pki/apiserver-kubelet-client.crt" ] || issue apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
	[ -f "$pki/kube-router.crt" ] || issue kube-router /CN=lab5:kube-router
	[ -f "$pki/local-path-provisioner.crt" ] || issue local-path-provisioner /CN=lab5:local-path-provisioner
}

kubeconfig() {
	local pki=$STATE/pki
	cat >"$KUBECONFIG_FILE" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: lab5-local
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority: $pki/ca.crt
users:
- name: lab5-admin
  user:
    client-certificate: $pki/admin.crt
    client-key: $pki/admin.key
contexts:
- name: lab5-local
  context: {cluster: lab5-local, user: lab5-admin}
current-context: lab5-local
EOF
}

kwok_stages() {
	local src=$LAB5_ROOT/.tools/share/kwok-$KWOK_VERSION/stages f
	[ -d "$src" ] || die "kwok stages missing in $src: run make tools"
	: >"$STATE/kwok-stages.yaml"
	for f in "$src"/*.yaml; do
		cat "$f" >>"$STATE/kwok-stages.yaml"
		printf '\n---\n' >>"$STATE/kwok-stages.yaml"
	done
}

fake_nodes() {
	local i
	for i in $(seq 1 "$FAKE_NODES"); do
		kctl apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/hostname: kwok-node-$i
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    node-role.kubernetes.io/agent: ""
    type: kwok
status:
  allocatable: {cpu: "32", memory: 256Gi, pods: "110"}
  capacity: {cpu: "32", memory: 256Gi, pods: "110"}
EOF
	done
	# PersistentVolumeClaims of the default class are "provisioned" by kwok.
	kctl apply -f - >/dev/null <<EOF
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: kwok-volume
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: kwok.x-k8s.io/volume
reclaimPolicy: Delete
volumeBindingMode: Immediate
EOF
}

# registry_config: CNCF Distribution serving the OCI registry API on
# 127.0.0.1:5000 inside the namespace (plain HTTP: loopback only), images
# under $STATE/registry. The dev stack pushes the apps' images here and the
# real node pulls from it. Deletes are allowed so that a test can remove a
# manifest; no OpenTelemetry export (nothing listens for it).
registry_config() {
	cat >"$STATE/registry.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $STATE/registry
  delete:
    enabled: true
http:
  addr: 127.0.0.1:5000
EOF
}

# --- the real node ------------------------------------------------------------

# check_mode: a running control plane keeps the mode it was started in (the
# API server's flags differ); switching needs a `down` first.
check_mode() {
	local was
	was=$(cat "$STATE/node-mode" 2>/dev/null || echo fake)
	if [ "$was" != "$NODE_MODE" ] && running kube-apiserver; then
		die "the control plane runs with $was nodes; run hack/cluster.sh down first to switch to $NODE_MODE"
	fi
	echo "$NODE_MODE" >"$STATE/node-mode"
}

# lab5_node: cmd/lab5-node, built on first use in this run (go build only
# links again when its sources changed).
lab5_node() {
	if [ -z "${LAB5_NODE_BUILT:-}" ]; then
		(cd "$LAB5_ROOT" && go build -o "$BIN/lab5-node" ./cmd/lab5-node) || die "building cmd/lab5-node failed"
		LAB5_NODE_BUILT=1
	fi
	"$BIN/lab5-node" "$@"
}

node_check() {
	local b missing=()
	# The node's own tools (built or installed once, then reused in a second).
	"$LAB5_ROOT/hack/tools.sh" node
	for b in containerd containerd-shim-runc-v2 kubelet kube-proxy kube-router local-path-provisioner; do
		[ -x "$BIN/$b" ] || die "$BIN/$b missing: run make tools"
	done
	for b in runc nft conntrack iptables ipset nsenter /bin/busybox /usr/lib/cni/bridge /usr/lib/cni/host-local /usr/lib/cni/loopback /usr/lib/cni/portmap; do
		command -v "$b" >/dev/null || missing+=("$b")
	done
	[ ${#missing[@]} = 0 ] || die "missing for the real node: ${missing[*]}; run make tools (it installs them from Debian)"
	# NODE_NAME, NODE_IP, NODE_PREFIX, NODE_BRIDGE, paths of the config files...
	lab5_node env -state "$STATE" >"$STATE/node.env"
	# shellcheck source=/dev/null
	source "$STATE/node.env"
}

# node_network: the node address on a bridge that exists only inside the
# namespace; no interface of the namespace leads out of it.
node_network() {
	if [ ! -d /proc/sys/net/bridge ]; then
		log "loading kernel module br_netfilter: Service replies between pods on one bridge must pass kube-proxy's rules"
		modprobe br_netfilter || die "modprobe br_netfilter failed"
	fi
	if ! in_netns ip link show "$NODE_BRIDGE" >/dev/null 2>&1; then
		in_netns ip link add "$NODE_BRIDGE" type bridge
		in_netns ip addr add "$NODE_PREFIX" dev "$NODE_BRIDGE"
		log "node address $NODE_PREFIX on bridge $NODE_BRIDGE (inside $NETNS only)"
	fi
	in_netns ip link set "$NODE_BRIDGE" up
	# ClusterIPs from the namespace's own processes (tests, kubectl, pulumi)
	# as from a node: kube-proxy's rules apply after a route is found.
	in_netns ip route replace "$SERVICE_CIDR" dev "$NODE_BRIDGE"
	in_netns sysctl -qw net.bridge.bridge-nf-call-iptables=1 net.ipv4.ip_forward=1
}

node_up() {
	local t0=$SECONDS images port
	running registry || die "the local registry is not running: the node pulls its images from it"
	# Built from source and pushed to the local registry (inside the
	# namespace), pinned by digest: PAUSE_IMAGE, COREDNS_IMAGE, BUSYBOX_IMAGE.
	images=$(in_netns "$BIN/lab5-node" images -state "$STATE" -root "$LAB5_ROOT") || die "building the node's images failed"
	eval "$images"
	lab5_node setup -state "$STATE" -pause-image "$PAUSE_IMAGE" -busybox-image "$BUSYBOX_IMAGE"
	LAUNCH=in_netns_host_mounts start containerd containerd --config "$CONTAINERD_CONFIG"
	wait_for containerd 30 test -S "$CONTAINERD_SOCKET"
	LAUNCH=in_netns_host_mounts start kubelet kubelet --config "$KUBELET_CONFIG" --kubeconfig "$KUBELET_KUBECONFIG" \
		--root-dir "$KUBELET_ROOT" --cert-dir "$KUBELET_ROOT/pki" --node-ip "$NODE_IP" --hostname-override "$NODE_NAME"
	LAUNCH=in_netns_host_mounts start kube-proxy kube-proxy --config "$KUBEPROXY_CONFIG"
	wait_for "node $NODE_NAME Ready" 120 kctl wait --for=condition=Ready "node/$NODE_NAME" --timeout=1s
	log "node $NODE_NAME Ready $((SECONDS - t0))s after its images were asked for"
	lab5_node addons -state "$STATE" -image "$COREDNS_IMAGE" | kctl apply -f - >/dev/null
	# Answered through the kube-dns Service, as a pod asks.
	wait_for "cluster DNS (kube-system/kube-dns)" 120 in_netns "$BIN/lab5-node" resolve -state "$STATE" kubernetes.default.svc.cluster.local
	# NetworkPolicies are enforced by kube-router's firewall controller
	# alone (a local test harness part, never deployed by the stack); the
	# node label tells tests that an engine runs.
	LAUNCH=in_netns_host_mounts start kube-router kube-router --run-firewall=true --run-router=false \
		--run-service-proxy=false --enable-cni=false --kubeconfig "$KUBEROUTER_KUBECONFIG" \
		--hostname-override "$NODE_NAME" --service-cluster-ip-range "$SERVICE_CIDR" --health-port 20244
	wait_for "NetworkPolicy engine (kube-router)" 60 in_netns curl -sf http://127.0.0.1:20244/healthz
	kctl label --overwrite node "$NODE_NAME" lab5.io/network-policy-engine=kube-router >/dev/null
	# PersistentVolumeClaims of the default class "local-path" get a folder
	# under the state folder, as in kind.
	LAUNCH=in_netns_host_mounts start local-path-provisioner local-path-provisioner start \
		--kubeconfig "$PROVISIONER_KUBECONFIG" --config "$PROVISIONER_CONFIG" --helper-pod-file "$PROVISIONER_HELPER_POD" \
		--namespace local-path-storage --service-account-name local-path-provisioner-helper \
		--helper-image "$BUSYBOX_IMAGE" --provisioner-name rancher.io/local-path
	# The host reaches these NodePorts on its loopback only: a process on
	# the host relays each connection into the namespace.
	for port in $NODE_HOST_PORTS; do
		LAUNCH=on_host start "forward-${port%%:*}" "$BIN/lab5-node" forward -state "$STATE" -netns "/run/netns/$NETNS" \
			-listen "127.0.0.1:${port%%:*}" -to "$NODE_IP:${port##*:}"
	done
}

# node_cleanup: after the node's processes stopped, undo what they leave on
# the host (pod processes, shims, mounts, cgroups, IP allocations).
node_cleanup() {
	lab5_node cleanup -state "$STATE" || die "cleaning up after the node failed; see above"
}

up() {
	local t0=$SECONDS pki=$STATE/pki b apiserver_node_flags=()
	for b in etcd kube-apiserver kube-controller-manager kube-scheduler kwok kubectl registry; do
		[ -x "$BIN/$b" ] || die "$BIN/$b missing: run make tools"
	done
	mkdir -p "$STATE/logs" "$STATE/flexvolume"
	check_mode
	ensure_netns
	[ "$NODE_MODE" != real ] || node_check
	certs
	if [ "$NODE_MODE" = real ]; then
		node_network
		node_certs
		# Pods reach the API server through the kubernetes Service, whose
		# endpoint is the node address; the API server reaches the kubelet
		# by its InternalIP (no DNS here), as a client the kubelet accepts.
		apiserver_node_flags=(--bind-address 0.0.0.0 --advertise-address "$NODE_IP"
			--kubelet-preferred-address-types "InternalIP,Hostname"
			--kubelet-client-certificate "$pki/apiserver-kubelet-client.crt"
			--kubelet-client-key "$pki/apiserver-kubelet-client.key")
	else
		# The endpoint reconciler is off: a loopback advertise address cannot
		# be published in the "kubernetes" Endpoints.
		apiserver_node_flags=(--bind-address 127.0.0.1 --advertise-address 127.0.0.1 --endpoint-reconciler-type none)
		kwok_stages
	fi
	kubeconfig

	start etcd etcd --name lab5 --data-dir "$STATE/etcd" \
		--listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
		--listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
		--initial-cluster lab5=http://127.0.0.1:2380 --listen-metrics-urls http://127.0.0.1:2381 \
		--unsafe-no-fsync --quota-backend-bytes 4294967296
	wait_for etcd 30 in_netns curl -sf http://127.0.0.1:2381/health

	registry_config
	start registry env OTEL_TRACES_EXPORTER=none registry serve "$STATE/registry.yml"
	wait_for registry 30 in_netns curl -sf http://127.0.0.1:5000/v2/

	start kube-apiserver kube-apiserver \
		--etcd-servers http://127.0.0.1:2379 --secure-port 6443 "${apiserver_node_flags[@]}" \
		--tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
		--client-ca-file "$pki/ca.crt" \
		--service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
		--service-account-issuer https://kubernetes.default.svc.cluster.local \
		--service-cluster-ip-range 10.96.0.0/16 --service-node-port-range 30000-32767 \
		--authorization-mode Node,RBAC --allow-privileged=true
	wait_for kube-apiserver 90 kctl get --raw /readyz

	start kube-controller-manager kube-controller-manager \
		--kubeconfig "$KUBECONFIG_FILE" --bind-address 127.0.0.1 --secure-port 10257 \
		--service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
		--use-service-account-credentials --leader-elect=false \
		--flex-volume-plugin-dir "$STATE/flexvolume"
	start kube-scheduler kube-scheduler \
		--kubeconfig "$KUBECONFIG_FILE" --bind-address 127.0.0.1 --secure-port 10259 --leader-elect=false
	if [ "$NODE_MODE" = real ]; then
		wait_for "default ServiceAccount" 60 kctl -n default get serviceaccount default
		node_up
		log "control plane and real node up in $((SECONDS - t0))s; kubeconfig: $KUBECONFIG_FILE; namespace: $NETNS"
		return
	fi
	# The heartbeat stage refreshes node status only every ~10 minutes and
	# relies on node leases for liveness: without kwok renewing leases the
	# node controller marks the fake nodes NotReady within a minute, and
	# their pods stay unready for good.
	start kwok kwok \
		--kubeconfig "$KUBECONFIG_FILE" --config "$STATE/kwok-stages.yaml" \
		--manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
		--cidr 10.244.0.0/16 --node-ip 10.0.0.10 --server-address 127.0.0.1:10247 \
		--node-lease-duration-seconds 40
	fake_nodes
	wait_for "default ServiceAccount" 60 kctl -n default get serviceaccount default
	wait_for "fake nodes" 60 bash -c "[ \"\$(ip netns exec $NETNS kubectl --kubeconfig $KUBECONFIG_FILE get nodes --no-headers 2>/dev/null | grep -cw Ready)\" -ge $FAKE_NODES ]"
	log "control plane up in $((SECONDS - t0))s; kubeconfig: $KUBECONFIG_FILE; namespace: $NETNS"
}

# stop NAME...: SIGTERM to each component at once, SIGKILL to those still
# running 5 s later. Counts the stopped ones in $stopped.
stop() {
	local name pid pids=()
	for name in "$@"; do
		pid=$(cat "$STATE/$name.pid" 2>/dev/null) || continue
		if kill -0 "$pid" 2>/dev/null; then
			kill "$pid" 2>/dev/null || true
			pids+=("$pid")
			stopped=$((stopped + 1))
		fi
		rm -f "$STATE/$name.pid"
	done
	for _ in $(seq 1 50); do
		kill -0 "${pids[@]}" 2>/dev/null || break
		sleep 0.1
	done
	for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
}

down() {
	local stopped=0 f forwards=()
	for f in "$STATE"/forward-*.pid; do [ ! -e "$f" ] || forwards+=("$(basename "$f" .pid)"); done
	# The node before the control plane, which it reports to.
	stop "${forwards[@]}" local-path-provisioner kube-router kube-proxy kubelet containerd kwok
	stop kube-scheduler kube-controller-manager
	stop kube-apiserver
	stop etcd registry
	log "stopped $stopped component(s)"
	[ ! -d "$STATE/node" ] || node_cleanup
	if [ "${1:-}" = --purge ]; then
		# Never delete through a mount (a pod's volume can be a host folder).
		if grep -qF " $STATE/" /proc/self/mountinfo; then
			die "file systems are still mounted under $STATE; not removing it"
		fi
		rm -rf "$STATE"
		ip netns del "$NETNS" 2>/dev/null || true
		log "removed $STATE and network namespace $NETNS"
	fi
}

status() {
	local name rc=0 nodes=kwok
	[ "$(cat "$STATE/node-mode" 2>/dev/null)" != real ] || nodes="containerd kubelet kube-proxy kube-router local-path-provisioner"
	for name in etcd registry kube-apiserver kube-controller-manager kube-scheduler $nodes; do
		if running "$name"; then echo "$name: running (pid $(cat "$STATE/$name.pid"))"; else echo "$name: stopped"; rc=1; fi
	done
	return $rc
}

case ${1:-} in
up)
	shift
	case ${1:-} in
	--real-node) NODE_MODE=real ;;
	"") ;;
	*) die "usage: $0 up [--real-node]" ;;
	esac
	up
	;;
down) shift; down "$@" ;;
status) status ;;
netns) echo "$NETNS" ;;
exec)
	shift
	ensure_netns
	exec ip netns exec "$NETNS" env KUBECONFIG="${KUBECONFIG:-$KUBECONFIG_FILE}" "$@"
	;;
*) die "usage: $0 up [--real-node]|down [--purge]|status|netns|exec CMD..." ;;
esac
