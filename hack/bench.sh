#!/usr/bin/env bash
# make bench: the project's performance figures, measured in one run and
# printed in one table, each with its target and whether it meets it.
# Figures are printed, never asserted: wall times on a shared machine vary
# too much to fail on.
#
#   1. history-server vs direct minio-go on the same MinIO (the Go
#      benchmark, with the server built as in its image), 1/16/64 clients;
#   2. pulumi vs kubectl on a control plane of its own (.cluster/bench):
#      the e2e lifecycle (up, no-op preview, drift repaired by
#      hack/stack.sh, destroy) and the kubectl baseline of the same objects;
#   3. no-op `make preview` and `pulumi preview` of a deployed stack, as a
#      user runs them (own Pulumi backend, the same control plane).
#
# Usage: hack/bench.sh [history|cluster|preview...]   (default: all three)
set -euo pipefail
# shellcheck source=env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$LAB5_ROOT"
parts=${*:-history cluster preview}
export CLUSTER_STATE=$LAB5_ROOT/.cluster/bench
work=$(mktemp -d)
figures=$work/figures.tsv
: >"$figures"
cluster_started=0
cleanup() {
	[ "$cluster_started" = 0 ] || hack/cluster.sh down --purge >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

history() {
	phase "history-server vs direct MinIO"
	mkdir -p .build
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o .build/history-server ./apps/history-server
	HISTORY_SERVER_BIN=$LAB5_ROOT/.build/history-server LAB5_BENCH_OUT=$figures \
		go test -count=1 -run '^$' -bench . -benchtime 2s ./apps/...
}

ensure_cluster() {
	[ "$cluster_started" = 1 ] && return
	go mod download
	hack/cluster.sh up
	cluster_started=1
}

cluster() {
	phase "pulumi vs kubectl (e2e lifecycle and baseline)"
	mkdir -p .build
	go test -tags cluster -c -o .build/e2e.test ./test/e2e
	ensure_cluster
	build_program
	(cd test/e2e && "$LAB5_ROOT/hack/cluster.sh" exec env GOPROXY=off GOFLAGS="$GOFLAGS -mod=mod" LAB5_BENCH_OUT="$figures" \
		"$LAB5_ROOT/.build/e2e.test" -test.v -test.timeout 20m -test.run '^(TestPulumiLifecycle|TestKubectlApplyBaseline)$') |
		grep -E '^(=== RUN|--- |PASS|FAIL|ok)|TIMING|pulumi vs kubectl|^  [a-z]' || true
}

# seconds CMD...: run CMD quietly, print its wall time in seconds.
seconds() {
	local start end
	start=$(date +%s.%N)
	"$@" >"$work/last.log" 2>&1 || { cat "$work/last.log" >&2; return 1; }
	end=$(date +%s.%N)
	echo "$end - $start" | bc
}

preview() {
	phase "no-op make preview / pulumi preview of a deployed stack"
	ensure_cluster
	# A backend of its own: the user's stack is never touched.
	export PULUMI_BACKEND_URL=file://$work/state
	mkdir -p "$work/state"
	local kc=$KUBECONFIG_SAVED t_make t_pulumi
	unset KUBECONFIG
	STACK=dev hack/stack.sh up >"$work/up.log" 2>&1 || { cat "$work/up.log" >&2; return 1; }
	seconds make --no-print-directory preview STACK=dev >/dev/null # warm
	t_make=$(seconds make --no-print-directory preview STACK=dev)
	t_pulumi=$(seconds hack/cluster.sh exec env GOPROXY=off GOFLAGS="$GOFLAGS -mod=mod" \
		pulumi preview --stack dev --expect-no-changes)
	printf '%s\t%.1f\ts\t%s\n' "no-op make preview (refresh included)" "$t_make" "<= 5" \
		"no-op pulumi preview, full stack (a user's command)" "$t_pulumi" "<= 4" >>"$figures"
	STACK=dev hack/stack.sh destroy >/dev/null 2>&1 || true
	export KUBECONFIG=$kc
}

KUBECONFIG_SAVED=${KUBECONFIG:-}
for part in $parts; do
	case $part in
	history | cluster | preview) "$part" ;;
	*) die "unknown part $part (history, cluster, preview)" ;;
	esac
done

phase "summary"
awk -F'\t' '
	function verdict(v, t,   op, x) {
		if (t == "-" || t == "") return "-"
		split(t, a, " "); op = a[1]; x = a[2] + 0
		if (op == "<=") return v <= x ? "pass" : "falls short"
		if (op == ">=") return v >= x ? "pass" : "falls short"
		if (op == "<") return v < x ? "pass" : "falls short"
		if (op == ">") return v > x ? "pass" : "falls short"
		return "?"
	}
	{ printf "%-78s %8s %-4s %-8s %s\n", $1, $2, $3, $4, verdict($2 + 0, $4) }
	BEGIN { printf "%-78s %8s %-4s %-8s %s\n", "figure", "value", "unit", "target", "verdict" }
' "$figures"
