#!/usr/bin/env bash
# Every test of the project, tier by tier, with each phase's wall time:
#   lint (gofmt, golangci-lint with go vet, shellcheck, tool pins)
#   -> unit and integration (httptest, Pulumi mocks, real MinIO)
#   -> cluster tier (real kube-apiserver + kwok, real pulumi CLI), run inside
#      the control plane's loopback-only network namespace
#   -> runtime tier: stack "local" deployed as `make up` deploys it, on a
#      control plane with a real node (containers, probes, packets,
#      NetworkPolicies enforced), checked by test/runtime, then destroyed.
# Each cluster tier uses its own control plane (.cluster/test,
# .cluster/test-real) and Pulumi backend, so it never touches what `make up`
# deployed. When one fails, its evidence (component logs, objects, test
# output) is kept in artifacts/ before its control plane is removed.
#
# Usage: hack/test.sh [lint|unit|cluster|runtime]...   (default: all, in order)
# Env:   TEST_RUN (a -test.run filter for the cluster tiers), RUNTIME_KEEP=1
#        (leave the runtime tier's cluster and stack up, to rerun tests),
#        RUNTIME_HOST_PORT (the host loopback port relayed to NodePort 30001;
#        default 31001, so that it runs beside make up's 30001),
#        RUNTIME_STATE (its cluster's state folder, default .cluster/test-real).
set -euo pipefail
# shellcheck source=env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$LAB5_ROOT"
export CLUSTER_STATE=$LAB5_ROOT/.cluster/test
REAL_STATE=${RUNTIME_STATE:-$LAB5_ROOT/.cluster/test-real}
ARTIFACTS=${ARTIFACTS:-$LAB5_ROOT/artifacts}
timings=()
running="" running_since=0
timed() { # NAME CMD...
	running=$1 running_since=$SECONDS
	shift
	phase "$running"
	"$@"
	timings+=("$(printf '%-28s %4ds' "$running" $((SECONDS - running_since)))")
	running=""
}
report() { # also on failure: the phase that failed, with its time so far
	[ -z "$running" ] || timings+=("$(printf '%-28s %4ds  FAILED' "$running" $((SECONDS - running_since)))")
	printf '\n=== phase times\n' >&2
	printf '%s\n' "${timings[@]}" >&2
}
# cleanup, on any exit: the fake-node control plane if it is still up, the
# background runtime tier (its own trap purges its control plane), the
# phase times.
fake_cluster_up="" runtime_pid=""
cleanup() {
	# Only while it still runs as this script's job: a finished one's pid
	# may belong to another process by now.
	if [ -n "$runtime_pid" ] && jobs -pr | grep -qx "$runtime_pid"; then
		kill "$runtime_pid" 2>/dev/null || true
		wait "$runtime_pid" 2>/dev/null || true
	fi
	[ -z "$fake_cluster_up" ] || hack/cluster.sh down --purge
	report
}
trap cleanup EXIT

# check_tool_pins: every "# pin: DIR MODULE" of tools/versions.env agrees with
# what DIR/go.mod requires (and replaces) MODULE at.
check_tool_pins() {
	local var version dir module found bad=0
	while read -r var version dir module; do
		found=$(awk -v m="$module" '
			$1 == "require" && $2 == m { print $3 }
			$1 == m && $2 ~ /^v/ { print $2 }
			$1 == m && $2 == "=>" && $3 == m { print $4 }' "$dir/go.mod")
		if [ -z "$found" ]; then
			log "$var: $dir/go.mod does not require $module"
			bad=1
		elif grep -qvx -- "v${version#v}" <<<"$found"; then
			log "$var=$version but $dir/go.mod has $module at $(tr '\n' ' ' <<<"$found")"
			bad=1
		fi
	done < <(sed -nE 's/^([A-Z0-9_]+)=([^ ]+) +# pin: ([^ ]+) ([^ ]+)$/\1 \2 \3 \4/p' tools/versions.env)
	return $bad
}

lint() {
	local unformatted
	mapfile -t go_files < <(git ls-files '*.go')
	unformatted=$(gofmt -l "${go_files[@]}")
	[ -z "$unformatted" ] || die "gofmt needed: $unformatted"
	# golangci-lint runs go vet too (govet), over the cluster-tagged tests as well.
	golangci-lint run --allow-serial-runners --build-tags cluster ./...
	shellcheck hack/*.sh .ci/run
	check_tool_pins
}

# Test packages that need the control plane carry the build tag "cluster".
CLUSTER_PKGS=(./test/cluster ./test/e2e)

# keep_evidence: what a failed cluster tier leaves for the reader, copied out
# of the control plane's state folder before it is purged.
keep_evidence() { # TIER LOG...
	local ns dir=$ARTIFACTS/$1
	shift
	rm -rf "$dir" && mkdir -p "$dir"
	cp -r "$CLUSTER_STATE/logs" "$dir/cluster-logs" 2>/dev/null || true
	cp "$@" "$dir/" 2>/dev/null || true
	if hack/cluster.sh status >/dev/null 2>&1; then
		hack/cluster.sh exec kubectl get nodes,events -A -o wide >"$dir/cluster.txt" 2>&1 || true
		for ns in $(hack/cluster.sh exec kubectl get namespaces -o name 2>/dev/null | cut -d/ -f2); do
			hack/cluster.sh exec kubectl get all,networkpolicies,ingresses,configmaps,pvc,events \
				-n "$ns" -o yaml >"$dir/namespace-$ns.yaml" 2>&1 || true
		done
	fi
	log "$(basename "$dir") tier failed: logs, objects and test output kept in $dir"
}

# run_test_binary PKG BIN LOG [ENV=VALUE...] -- [test flags...]: a test
# binary inside the control plane's namespace, in its package folder as go
# test would run it, its output also kept for the evidence.
run_test_binary() {
	local pkg=$1 bin=$2 out=$3 env=()
	shift 3
	while [ "$1" != -- ]; do env+=("$1"); shift; done
	shift
	(cd "$pkg" && "$LAB5_ROOT/hack/cluster.sh" exec env GOPROXY=off GOFLAGS="$GOFLAGS -mod=mod" "${env[@]}" \
		"$bin" -test.v -test.timeout 40m ${TEST_RUN:+-test.run "$TEST_RUN"} "$@") 2>&1 | tee -a "$out"
}

cluster_tests() {
	local pkg bin name rc=0
	mkdir -p .tools/test
	for pkg in "${CLUSTER_PKGS[@]}"; do
		go test -tags cluster -c -o ".tools/test/$(basename "$pkg").test" "$pkg"
	done
	go mod download
	fake_cluster_up=1
	hack/cluster.sh up
	# The e2e times its first pulumi up against kubectl: a deploy, not a
	# first compile of the program.
	build_program
	for pkg in "${CLUSTER_PKGS[@]}"; do
		name=$(basename "$pkg")
		rm -f ".tools/test/$name.log"
		run_test_binary "$pkg" "$LAB5_ROOT/.tools/test/$name.test" ".tools/test/$name.log" -- || rc=1
		[ "$rc" = 0 ] || break
	done
	if [ "$rc" != 0 ]; then
		keep_evidence cluster .tools/test/*.log
		return 1
	fi
	hack/cluster.sh down --purge
	fake_cluster_up=""
}

# runtime_tests: the real-node tier. Stack "local" is deployed by
# hack/stack.sh, as `make up` deploys it (images built and pushed, config
# following their digests), from a copy of Pulumi.local.yaml on a backend of
# the tier's own; then test/runtime's checks, and the destroy check last.
runtime_tests() {
	local bin=$LAB5_ROOT/.tools/test/runtime.test out=$LAB5_ROOT/.tools/test/runtime.log rc=0 port
	mkdir -p .tools/test && rm -f "$out"
	go test -tags cluster -c -o "$bin" ./test/runtime
	export CLUSTER_STATE=$REAL_STATE CLUSTER_NODE=real STACK=local
	export NODE_HOST_PORTS=${RUNTIME_HOST_PORT:-31001}:30001
	export PULUMI_BACKEND_URL=file://$REAL_STATE/pulumi STACK_CONFIG_FILE=$REAL_STATE/Pulumi.local.yaml
	port=${NODE_HOST_PORTS%%:*}
	# Always run in a subshell of its own: this trap and the exports stay there.
	[ "${RUNTIME_KEEP:-}" = 1 ] || trap 'hack/cluster.sh down --purge' EXIT
	hack/cluster.sh up
	mkdir -p "${PULUMI_BACKEND_URL#file://}"
	[ -f "$STACK_CONFIG_FILE" ] || cp Pulumi.local.yaml "$STACK_CONFIG_FILE"
	hack/stack.sh up --skip-preview >"$REAL_STATE/logs/stack-up.log" 2>&1 || { cat "$REAL_STATE/logs/stack-up.log" >&2; rc=1; }
	# The lab's outside view: echoserver's NodePort from the host's loopback.
	if [ "$rc" = 0 ] && ! curl -fsS -m 10 "http://127.0.0.1:$port/runtime-tier" | tee -a "$out" | grep -q '"originalUrl":"/runtime-tier"'; then
		log "echoserver's NodePort 30001 did not answer on the host's 127.0.0.1:$port"
		rc=1
	fi
	local env=(LAB5_RUNTIME_REQUIRED=1 "LAB5_STACK=$STACK" "LAB5_STACK_CONFIG_FILE=$STACK_CONFIG_FILE")
	if [ "$rc" = 0 ]; then
		run_test_binary test/runtime "$bin" "$out" "${env[@]}" -- -test.skip TestDestroyLeavesNothingOnTheNode || rc=1
	fi
	if [ "$rc" = 0 ] && [ "${RUNTIME_KEEP:-}" != 1 ]; then
		TEST_RUN='' run_test_binary test/runtime "$bin" "$out" "${env[@]}" LAB5_RUNTIME_DESTROY=1 -- \
			-test.run '^TestDestroyLeavesNothingOnTheNode$' || rc=1
	fi
	if [ "$rc" != 0 ]; then
		keep_evidence runtime "$out" "$REAL_STATE/logs/stack-up.log"
		return 1
	fi
}

# The runtime tier waits mostly on its own control plane and node, so it
# runs beside the others (its output goes to its log, printed when it ends).
RUNTIME_LOG=$LAB5_ROOT/.tools/test/runtime-tier.log
start_runtime() {
	mkdir -p .tools/test
	runtime_since=$SECONDS
	log "runtime tier (real node) started in the background; its output: $RUNTIME_LOG"
	(runtime_tests) >"$RUNTIME_LOG" 2>&1 &
	runtime_pid=$!
}
wait_runtime() {
	local rc=0
	[ -n "$runtime_pid" ] || return 0
	phase "runtime (real node)"
	wait "$runtime_pid" || rc=$?
	runtime_pid=""
	cat "$RUNTIME_LOG" >&2
	timings+=("$(printf '%-28s %4ds%s' "runtime (real node)" $((SECONDS - runtime_since)) "$([ $rc = 0 ] || echo '  FAILED')")")
	return $rc
}

tiers=("$@")
[ ${#tiers[@]} -gt 0 ] || tiers=(lint unit cluster runtime)
rc=0
if [ ${#tiers[@]} -gt 1 ] && [[ " ${tiers[*]} " == *" runtime "* ]]; then
	start_runtime
fi
for tier in "${tiers[@]}"; do
	case $tier in
	lint) timed lint lint ;;
	unit) timed "unit + integration" go test -count=1 ./... ;;
	cluster) timed "cluster + e2e (fake nodes)" cluster_tests ;;
	runtime) if [ -n "$runtime_pid" ]; then wait_runtime || rc=1; else timed "runtime (real node)" eval '(runtime_tests)'; fi ;;
	*) die "unknown tier $tier: lint, unit, cluster or runtime" ;;
	esac
done
[ "$rc" = 0 ] # the exit status: every tier passed
