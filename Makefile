# The project's single entry point. `make up` and `make test` are the two
# commands a newcomer needs; everything else is a step of those.
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help tools cluster-up cluster-down up preview destroy down outputs test test-unit test-runtime bench fuzz lint

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 16

tools: ## build or reuse the toolchain in .tools/bin (pulumi, provider, control plane, minio)
	@hack/tools.sh

cluster-up: tools ## start the local control plane (fake kwok nodes, loopback only)
	@hack/cluster.sh up

cluster-down: ## stop the local control plane (its state stays in .cluster/)
	@hack/cluster.sh down

up: tools ## deploy the lab: stack dev to KUBECONFIG's cluster if it answers, else stack local on the local control plane with a real node (REAL_NODE=0: fake nodes, stack dev)
	@STACK=$(STACK) hack/stack.sh up

# hack/tools.sh takes a second or two even when everything is built, more
# than preview's whole budget allows: preview runs it only when a pin or a
# build recipe changed since its last complete run (or .tools is new).
TOOLS_STAMP := .tools/.complete
$(TOOLS_STAMP): tools/versions.env hack/tools.sh $(wildcard tools/*/go.mod)
	@hack/tools.sh && touch $@

preview: $(TOOLS_STAMP) ## pulumi preview --refresh of the stack make up deploys (STACK=name for another)
	@STACK=$(STACK) hack/stack.sh preview

destroy: tools ## pulumi destroy of the stack make up deploys
	@STACK=$(STACK) hack/stack.sh destroy

outputs: tools ## print the stack outputs
	@STACK=$(STACK) hack/stack.sh outputs

down: destroy ## destroy the stack, then stop the local control plane
	@hack/cluster.sh down

test: ## every test: lint, unit, integration (real MinIO), cluster and e2e (real pulumi + kube-apiserver), runtime (real node)
	@hack/tools.sh test node
	@hack/test.sh

test-runtime: ## the real-node tier only: stack "local" on a real node, checked with real packets, destroyed
	@hack/tools.sh test node
	@hack/test.sh runtime

test-unit: ## fast tier only: unit and integration tests (no control plane needed)
	@source hack/env.sh && go test ./...

bench: $(TOOLS_STAMP) ## every performance figure with its target: history-server vs MinIO, pulumi vs kubectl, no-op preview
	@hack/bench.sh

fuzz: ## run each fuzz target for 20s
	@source hack/env.sh && for f in $$(go test -list 'Fuzz.*' ./apps/... | grep ^Fuzz); do \
		pkg=$$(grep -rl "func $$f" apps | head -1 | xargs dirname); \
		go test -run '^$$' -fuzz "^$$f$$" -fuzztime 20s ./$$pkg || exit 1; done
