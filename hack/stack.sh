#!/usr/bin/env bash
# Runs pulumi on the lab stack: against the cluster KUBECONFIG points at when
# it answers (stack dev by default), otherwise against the local control
# plane, started on demand with its real node (stack local by default), and
# pulumi then runs inside its loopback-only network namespace.
#
# Usage: hack/stack.sh up|preview|destroy|refresh|outputs [pulumi args...]
# Env:   STACK (see above); STACK_CONFIG_FILE, the stack's config file when
#        not Pulumi.$STACK.yaml (make test deploys a copy); REAL_NODE=0 for
#        the local control plane with fake (kwok) nodes and stack dev, where
#        nothing runs but everything is declared (REAL_NODE unset: the mode
#        of the local control plane that runs, else the real node);
#        everything hack/env.sh reads.
set -euo pipefail
# shellcheck source=env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$LAB5_ROOT"
action=${1:?usage: hack/stack.sh up|preview|destroy|refresh|outputs [pulumi args...]}
shift

command -v pulumi >/dev/null || die "pulumi not found: run make tools"

# The Kubernetes provider is built by make tools; register it with this
# PULUMI_HOME so that no download is ever attempted. (The installed plugin's
# folder is checked first: asking `pulumi plugin ls` costs a CLI start on
# every command.)
provider=$LAB5_ROOT/.tools/bin/pulumi-resource-kubernetes
installed=$PULUMI_HOME/plugins/resource-kubernetes-v$PULUMI_KUBERNETES_VERSION/pulumi-resource-kubernetes
if [ -x "$provider" ] && [ ! -x "$installed" ] &&
	! pulumi plugin ls 2>/dev/null | grep -Eq "^kubernetes +resource +$PULUMI_KUBERNETES_VERSION "; then
	pulumi plugin install resource kubernetes "$PULUMI_KUBERNETES_VERSION" --file "$provider" >/dev/null
fi

if [ -n "${KUBECONFIG:-}" ] && kubectl --request-timeout=5s get --raw /readyz >/dev/null 2>&1; then
	echo "target: the cluster of KUBECONFIG=$KUBECONFIG ($(kubectl config current-context))" >&2
	STACK=${STACK:-dev}
	run=()
else
	[ -z "${KUBECONFIG:-}" ] || echo "KUBECONFIG=$KUBECONFIG does not answer; using the local control plane" >&2
	unset KUBECONFIG
	# The node mode: REAL_NODE (or CLUSTER_NODE) when set; else that of the
	# local control plane if one runs; else the real node, so that a
	# newcomer's make up shows the lab working. The real node runs stack
	# local, whose third-party images are built here (README "The lab's
	# stack on the real node").
	mode_file=${CLUSTER_STATE:-$LAB5_ROOT/.cluster}/node-mode
	running_mode=""
	! "$LAB5_ROOT/hack/cluster.sh" status >/dev/null 2>&1 || running_mode=$(cat "$mode_file" 2>/dev/null || echo fake)
	case ${REAL_NODE:-} in
	1) CLUSTER_NODE=real ;;
	0) CLUSTER_NODE=fake ;;
	"") CLUSTER_NODE=${CLUSTER_NODE:-${running_mode:-real}} ;;
	*) die "REAL_NODE=$REAL_NODE: use 1 (the real node) or 0 (fake kwok nodes)" ;;
	esac
	export CLUSTER_NODE
	if [ -n "$running_mode" ] && [ "$running_mode" != "$CLUSTER_NODE" ]; then
		die "the local control plane runs with $running_mode nodes, not $CLUSTER_NODE; run make cluster-down first (or REAL_NODE=$([ "$running_mode" = real ] && echo 1 || echo 0))"
	fi
	if [ "$CLUSTER_NODE" = real ]; then STACK=${STACK:-local}; else STACK=${STACK:-dev}; fi
	# Starting is idempotent but takes seconds even when all runs; a running
	# control plane whose API server answers needs nothing.
	if ! { "$LAB5_ROOT/hack/cluster.sh" status >/dev/null 2>&1 &&
		"$LAB5_ROOT/hack/cluster.sh" exec kubectl --request-timeout=5s get --raw /readyz >/dev/null 2>&1; }; then
		"$LAB5_ROOT/hack/cluster.sh" up
	fi
	# Inside the namespace there is no network: fetch modules first, then build offline.
	go mod download
	run=("$LAB5_ROOT/hack/cluster.sh" exec env GOPROXY=off GOFLAGS="$GOFLAGS -mod=mod")
	echo "target: local control plane with $CLUSTER_NODE nodes (kubeconfig ${CLUSTER_STATE:-.cluster}/kubeconfig), stack $STACK" >&2
fi

config_file=${STACK_CONFIG_FILE:-Pulumi.$STACK.yaml}
[ -f "$config_file" ] || die "stack $STACK has no config file $config_file (the stacks here: $(for f in Pulumi.*.yaml; do f=${f#Pulumi.}; printf '%s ' "${f%.yaml}"; done))"
# The stack is created on first use. With the local file backend its state
# file tells whether it exists, without a CLI start.
state=${PULUMI_BACKEND_URL#file://}
project=$(sed -n 's/^name: *//p' Pulumi.yaml)
if [ "$state" = "$PULUMI_BACKEND_URL" ] || [ ! -f "$state/.pulumi/stacks/$project/$STACK.json" ]; then
	"${run[@]}" pulumi stack select --create "$STACK" >/dev/null
fi
if [ "${CLUSTER_NODE:-}" = real ] && [ ${#run[@]} -gt 0 ] && [ "$action" = up ]; then
	# The stack images: Debian packages fetched on the host (apt needs
	# its network), built and pushed inside the namespace; the config
	# follows the digests pushed.
	go build -o "$LAB5_ROOT/.tools/bin/lab5-node" ./cmd/lab5-node
	state_dir=${CLUSTER_STATE:-$LAB5_ROOT/.cluster}
	"$LAB5_ROOT/.tools/bin/lab5-node" stack-debs -state "$state_dir"
	traefik=()
	if [ "${REAL_NODE_TRAEFIK:-1}" != 0 ]; then
		traefik=(-traefik)
		# Traefik's module and its dependencies, for the offline build inside.
		(cd tools/traefik && go mod download)
	fi
	images=$("${run[@]}" "$LAB5_ROOT/.tools/bin/lab5-node" stack-images -state "$state_dir" -root "$LAB5_ROOT" "${traefik[@]}")
	while read -r key ref; do
		grep -qF "  $key $ref" "$config_file" 2>/dev/null ||
			"${run[@]}" pulumi config set --stack "$STACK" --config-file "$config_file" "${key%:}" "$ref"
	done <<<"$images"
fi

# up and preview refresh first, so that drift (an object changed or deleted
# with kubectl) is shown by preview and repaired by up: plain pulumi up
# trusts its state and would leave a deleted object deleted.
case $action in
up)
	"${run[@]}" pulumi up --yes --refresh --stack "$STACK" --config-file "$config_file" "$@"
	"${run[@]}" pulumi stack output --stack "$STACK"
	if [ "${CLUSTER_NODE:-}" = real ] && [ ${#run[@]} -gt 0 ]; then
		echo "up took ${SECONDS}s; the local cluster (control plane, node, every pod): $("$LAB5_ROOT/.tools/bin/lab5-node" memory \
			-state "${CLUSTER_STATE:-$LAB5_ROOT/.cluster}" -netns "/run/netns/$("$LAB5_ROOT/hack/cluster.sh" netns)")"
		relay=${NODE_HOST_PORTS-30001} relay=${relay%% *} relay=${relay%%:*}
		cat <<EOF
The stack runs on the real node. Try:
  curl http://127.0.0.1:$relay/                       echoserver (NodePort 30001, relayed from the host's loopback)
  hack/cluster.sh exec curl -s http://10.0.0.2:30001/   the NodePort on the node address
  hack/cluster.sh exec kubectl get pods -A -o wide
  hack/cluster.sh exec kubectl -n production logs deploy/history-server
  hack/cluster.sh exec kubectl -n production port-forward svc/history-server 8080:80
EOF
	fi
	;;
preview) "${run[@]}" pulumi preview --refresh --stack "$STACK" --config-file "$config_file" "$@" ;;
destroy)
	# The state is written once, at the end, not after each delete (each
	# write is the whole stack's state): a destroy stopped half-way leaves
	# objects in the state that are gone, which the next destroy, refresh or
	# make up clears; it never leaves an object the state does not list.
	# (internal/stacktest's DestroyEnv is the e2e's copy of this setting.)
	PULUMI_SKIP_CHECKPOINTS=${PULUMI_SKIP_CHECKPOINTS:-true} \
		"${run[@]}" pulumi destroy --yes --stack "$STACK" --config-file "$config_file" "$@"
	;;
refresh) "${run[@]}" pulumi refresh --yes --stack "$STACK" --config-file "$config_file" "$@" ;;
outputs) "${run[@]}" pulumi stack output --stack "$STACK" "$@" ;;
*) echo "unknown action $action" >&2; exit 2 ;;
esac
