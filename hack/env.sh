# shellcheck shell=bash
# The one preamble of hack/: the project root, the tool versions, log/die,
# and the settings for running Pulumi and Go locally. Sourced by every other
# hack/ script; every value can be overridden from the environment.
#
# The dev stack's secrets (Pulumi.dev.yaml) are encrypted with a passphrase
# that is published here on purpose: the stack targets a throwaway local
# control plane and its only secret is a demo MinIO password. For any real
# cluster create your own stack with your own passphrase (see README).
LAB5_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../tools/versions.env
source "$LAB5_ROOT/tools/versions.env"

# log MESSAGE: one line on stderr, tagged with the calling script's name.
LOG_TAG=${LOG_TAG:-$(basename "${BASH_SOURCE[1]:-$0}" .sh)}
log() { printf '[%s %s] %s\n' "$LOG_TAG" "$(date +%H:%M:%S)" "$*" >&2; }
die() {
	log "ERROR: $*"
	exit 1
}
export PATH=$LAB5_ROOT/.tools/bin:$PATH
export GOTOOLCHAIN=${GOTOOLCHAIN:-local}
export GOFLAGS=${GOFLAGS:--buildvcs=false}
export PULUMI_HOME=${PULUMI_HOME:-$LAB5_ROOT/.pulumi/home}
export PULUMI_BACKEND_URL=${PULUMI_BACKEND_URL:-file://$LAB5_ROOT/.pulumi/state}
export PULUMI_CONFIG_PASSPHRASE=${PULUMI_CONFIG_PASSPHRASE-lab5-dev-stack-not-a-secret}
export PULUMI_SKIP_UPDATE_CHECK=true
# pulumi runs 4 operations per core at once by default (8 here), and a
# destroy deletes one dependency level at a time: with more objects in a
# level than slots, a namespace's delete (and its 5 s finalization) waited
# for a slot. The operations wait on the API server, not on this machine.
export PULUMI_PARALLEL=${PULUMI_PARALLEL:-32}
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=${PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION:-true}
export PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK=true
# Use the provider installed into PULUMI_HOME, not the copy on PATH.
export PULUMI_IGNORE_AMBIENT_PLUGINS=true
export KUBECACHEDIR=${KUBECACHEDIR:-$LAB5_ROOT/.cluster/kube-cache}
mkdir -p "$PULUMI_HOME" "${PULUMI_BACKEND_URL#file://}" 2>/dev/null || true

phase() { printf '\n=== %s\n' "$*" >&2; }

# build_program builds the Pulumi program (cmd/lab5) exactly as the
# launcher (main.go) does when pulumi runs it inside the local cluster's
# namespace: same flags, same environment, same output. The launcher's own
# build is then a build ID check, so that a timed pulumi command measures
# deploying, not compiling.
build_program() {
	mkdir -p "$LAB5_ROOT/.build"
	"$LAB5_ROOT/hack/cluster.sh" exec env GOPROXY=off GOFLAGS="$GOFLAGS -mod=mod" CGO_ENABLED=0 \
		go build -trimpath -buildvcs=false -o "$LAB5_ROOT/.build/lab5" ./cmd/lab5
}
