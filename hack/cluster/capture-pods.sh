#!/usr/bin/env bash
# capture-pods.sh has the real Argo workflow-controller of the local control plane build the pods
# of a set of representative workflows (test/e2e/foundation_test.go, argoPodCases) and writes
# them, normalised, to emissary/testdata/argo-pods/<case>.json for the shaping engine's table
# tests. Without ARGO_ECI_CAPTURE_PODS the same test (part of `make e2e`) checks that the committed
# files still match what the controller builds. Starts the control plane if needed; stop it with
# hack/cluster/down.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ARGO_ECI_CAPTURE_PODS=1 go test -tags e2e -count=1 -run '^TestArgoPods$' -v ./test/e2e/ | grep -E '^(=== RUN|--- |\s+foundation_test.go:.*wrote|ok|FAIL|PASS)' || true
test "${PIPESTATUS[0]}" -eq 0
