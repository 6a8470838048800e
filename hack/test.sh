#!/usr/bin/env bash
# Every test of the project, tier by tier, with each phase's wall time:
#   lint (gofmt, golangci-lint with go vet, shellcheck, tool pins)
#   -> unit and integration (httptest, Pulumi mocks, real MinIO)
#   -> cluster tier (real kube-apiserver + kwok, real pulumi CLI), run inside
#      the control plane's loopback-only network namespace.
# The cluster tier uses its own control plane (.cluster/test), so it never
# touches what `make up` deployed. When it fails, its evidence (component
# logs, objects, test output) is kept in artifacts/ before the control plane
# is removed.
set -euo pipefail
# shellcheck source=env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$LAB5_ROOT"
export CLUSTER_STATE=$LAB5_ROOT/.cluster/test
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
trap report EXIT

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
keep_evidence() {
	local ns
	rm -rf "$ARTIFACTS" && mkdir -p "$ARTIFACTS"
	cp -r "$CLUSTER_STATE/logs" "$ARTIFACTS/cluster-logs" 2>/dev/null || true
	cp .tools/test/*.log "$ARTIFACTS/" 2>/dev/null || true
	if hack/cluster.sh status >/dev/null 2>&1; then
		hack/cluster.sh exec kubectl get nodes,events -A -o wide >"$ARTIFACTS/cluster.txt" 2>&1 || true
		for ns in $(hack/cluster.sh exec kubectl get namespaces -o name 2>/dev/null | cut -d/ -f2); do
			hack/cluster.sh exec kubectl get all,networkpolicies,ingresses,configmaps,pvc,events \
				-n "$ns" -o yaml >"$ARTIFACTS/namespace-$ns.yaml" 2>&1 || true
		done
	fi
	log "cluster tier failed: logs, objects and test output kept in $ARTIFACTS"
}

cluster_tests() {
	local pkg bin name rc=0
	mkdir -p .tools/test
	for pkg in "${CLUSTER_PKGS[@]}"; do
		go test -tags cluster -c -o ".tools/test/$(basename "$pkg").test" "$pkg"
	done
	go mod download
	hack/cluster.sh up
	trap 'hack/cluster.sh down --purge; report' EXIT
	for pkg in "${CLUSTER_PKGS[@]}"; do
		name=$(basename "$pkg")
		bin=$LAB5_ROOT/.tools/test/$name.test
		# Each test binary runs in its package folder, as go test would; its
		# output is also kept for the evidence.
		(cd "$pkg" && "$LAB5_ROOT/hack/cluster.sh" exec env GOPROXY=off GOFLAGS="$GOFLAGS -mod=mod" \
			"$bin" -test.v -test.timeout 40m ${TEST_RUN:+-test.run "$TEST_RUN"}) 2>&1 |
			tee ".tools/test/$name.log" || rc=1
		[ "$rc" = 0 ] || break
	done
	if [ "$rc" != 0 ]; then
		keep_evidence
		return 1
	fi
}

timed lint lint
timed "unit + integration" go test -count=1 ./...
timed "cluster + e2e" cluster_tests
