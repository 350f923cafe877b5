# argo-eci: build, test and demo entry points. Every server these targets start listens on
# 127.0.0.1 and is stopped by hack/cluster/down.sh (also when a step fails).
SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)
BIN := bin/argo-eci
# Packages with tests behind the e2e build tag (they need the local control plane).
E2E_PKGS = $(shell grep -rl --include='*_test.go' '^//go:build e2e' . | xargs -n1 dirname | sort -u)

.PHONY: build test unit e2e demo bench lint clean cluster-build cluster-up cluster-examples cluster-down capture-pods

# Static, like the image (Dockerfile); hack/cluster/build.sh builds the kubelet node's copy the same way.
build:
	CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/argo-eci

## test: everything — lint, unit tests, then the end-to-end suite on the local control plane
## (kwok node and kubelet node); the cluster is stopped at the end, also when a test fails.
## The unit tier starts real kube-apiservers (envtest) and Prometheus: cluster-build installs them
## first, and ARGO_ECI_REQUIRE_FIXTURES=1 makes a test whose program is missing fail, not skip.
test: lint cluster-build
	$(MAKE) unit REQUIRE_FIXTURES=1
	$(MAKE) e2e

REQUIRE_FIXTURES ?= 0
unit:
	ARGO_ECI_REQUIRE_FIXTURES=$(REQUIRE_FIXTURES) $(GO) test -count=1 ./...
	@# go test keeps a passing package's output to itself: show the Argo-examples corpus summary.
	@$(GO) test -count=1 -run '^TestArgoExamplesCorpus$$' -v ./cmd/argo-eci | grep '^argo-examples corpus:'

# E2E_SKIP: a regular expression of end-to-end tests to skip (none by default).
E2E_SKIP ?=

## e2e: builds (cached) and starts the local control plane, runs the e2e suite, always stops it.
# The three e2e packages run at once (-p 3), and the long kwok-node tests that call t.Parallel run
# beside each other (-parallel 4): most of their time is waiting. The full verbose log goes to
# .cache/logs/e2e.log; the console gets each test's result and time,
# and the whole log when something fails.
E2E_LOG := .cache/logs/e2e.log
e2e: build cluster-build
	hack/cluster/up.sh
	mkdir -p $(dir $(E2E_LOG)); rc=0; $(GO) test -v -tags e2e -count=1 -p 3 -parallel 4 -timeout 40m -skip '$(E2E_SKIP)' $(E2E_PKGS) > $(E2E_LOG) 2>&1 || rc=$$?; \
	  grep -E '^(--- |ok |FAIL|panic:)' $(E2E_LOG); \
	  if [ $$rc -ne 0 ]; then echo "== e2e failed: full log ($(E2E_LOG))"; cat $(E2E_LOG); fi; \
	  hack/cluster/down.sh; exit $$rc

cluster-build:
	hack/cluster/build.sh

## cluster-up: the playground: cluster, kubelet and kwok nodes, argo-eci's webhook and executor plugin,
## OSS test server and Fluid/ECI simulators, left running; prints how to use it. cluster-down stops it.
cluster-up: build cluster-build
	hack/cluster/playground.sh

## cluster-examples: on the running playground, every example rendered, created and waited for Succeeded.
cluster-examples: build
	hack/cluster/playground-examples.sh

cluster-down:
	hack/cluster/down.sh

## capture-pods: re-capture the Argo-generated pods in emissary/testdata/argo-pods from the real controller.
capture-pods: cluster-build
	hack/cluster/capture-pods.sh

demo: build cluster-build
	hack/demo.sh

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# Linters, pinned and installed by this Makefile into .cache/lint (git-ignored).
STATICCHECK_VERSION := v0.8.2
GOIMPORTS_VERSION := v0.52.0
LINT_BIN := $(CURDIR)/.cache/lint

$(LINT_BIN)/staticcheck-$(STATICCHECK_VERSION):
	mkdir -p $(LINT_BIN)
	GOBIN=$(LINT_BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	touch $@

$(LINT_BIN)/goimports-$(GOIMPORTS_VERSION):
	mkdir -p $(LINT_BIN)
	GOBIN=$(LINT_BIN) $(GO) install golang.org/x/tools/cmd/goimports@$(GOIMPORTS_VERSION)
	touch $@

## lint: go vet, goimports (formatting and import grouping) and staticcheck, also over the e2e-tagged tests.
lint: $(LINT_BIN)/staticcheck-$(STATICCHECK_VERSION) $(LINT_BIN)/goimports-$(GOIMPORTS_VERSION)
	$(GO) vet ./...
	$(GO) vet -tags e2e ./...
	@out=$$($(LINT_BIN)/goimports -l $$(git ls-files '*.go'; git ls-files --others --exclude-standard '*.go')); \
	  if [ -n "$$out" ]; then echo "goimports needed (run $(LINT_BIN)/goimports -w on these):"; echo "$$out"; exit 1; fi
	$(LINT_BIN)/staticcheck ./...
	$(LINT_BIN)/staticcheck -tags e2e ./...

clean:
	-hack/cluster/down.sh
	rm -rf bin .cache/state
