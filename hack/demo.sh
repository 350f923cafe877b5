#!/usr/bin/env bash
# make demo: build (cached) and start the local control plane unless it is already up, run
# the Fluid fan-out example with argo-eci's webhook and executor plugin, print the report, and stop what
# this script started — also when a step fails.
set -euo pipefail
cd "$(dirname "$0")/.."
started=""
stop() {
  if [ -n "$started" ]; then
    echo "== stopping the local control plane"
    hack/cluster/down.sh
  fi
}
trap stop EXIT
echo "== building the local control plane (cached under .cache/bin)"
hack/cluster/build.sh
pidfile=.cache/state/pids/kube-apiserver
if ! { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }; then
  started=1
fi
echo "== starting the local control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok, Argo workflow-controller)"
hack/cluster/up.sh
echo "== running the demo"
go run ./hack/demo -root "$PWD" "$@"
