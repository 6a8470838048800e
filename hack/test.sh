#!/usr/bin/env bash
# Every test of the project, tier by tier, with each phase's wall time:
#   lint -> unit and integration (httptest, Pulumi mocks, real MinIO)
#   -> cluster tier (real kube-apiserver + kwok, real pulumi CLI), run inside
#      the control plane's loopback-only network namespace.
# The cluster tier uses its own control plane (.cluster/test), so it never
# touches what `make up` deployed.
set -euo pipefail
# shellcheck source=env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$LAB5_ROOT"
export CLUSTER_STATE=$LAB5_ROOT/.cluster/test
timings=()
timed() { # NAME CMD...
	local name=$1 start=$SECONDS
	shift
	phase "$name"
	"$@"
	timings+=("$(printf '%-28s %4ds' "$name" $((SECONDS - start)))")
}
report() {
	printf '\n=== phase times\n' >&2
	printf '%s\n' "${timings[@]}" >&2
}
trap report EXIT

lint() {
	local unformatted
	unformatted=$(gofmt -l $(git ls-files '*.go'))
	[ -z "$unformatted" ] || { echo "gofmt needed: $unformatted" >&2; return 1; }
	go vet ./...
	go vet -tags cluster ./test/...
}

# Test packages that need the control plane carry the build tag "cluster".
CLUSTER_PKGS=(./test/cluster ./test/e2e)

cluster_tests() {
	local pkg bin
	mkdir -p .tools/test
	for pkg in "${CLUSTER_PKGS[@]}"; do
		go test -tags cluster -c -o ".tools/test/$(basename "$pkg").test" "$pkg"
	done
	go mod download
	hack/cluster.sh up
	trap 'hack/cluster.sh down --purge; report' EXIT
	for pkg in "${CLUSTER_PKGS[@]}"; do
		bin=$LAB5_ROOT/.tools/test/$(basename "$pkg").test
		# Each test binary runs in its package folder, as go test would.
		(cd "$pkg" && "$LAB5_ROOT/hack/cluster.sh" exec env GOPROXY=off GOFLAGS="$GOFLAGS -mod=mod" \
			"$bin" -test.v -test.timeout 40m ${TEST_RUN:+-test.run "$TEST_RUN"})
	done
}

timed lint lint
timed "unit + integration" go test -count=1 ./...
timed "cluster + e2e" cluster_tests
