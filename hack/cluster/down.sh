#!/usr/bin/env bash
# down.sh stops the local control plane that up.sh started: every PID recorded in
# .cache/state/pids gets SIGTERM, then SIGKILL if it is still alive after a few seconds. Only
# recorded PIDs that still run the component's binary are signalled. Built binaries are kept.
#   down.sh           stop; keep state (certs, etcd data, logs) for a quick restart
#   down.sh --purge   stop and delete .cache/state
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lock_cluster

purge=false
case "${1:-}" in
"") ;;
--purge) purge=true ;;
*)
	echo "usage: $0 [--purge]" >&2
	exit 2
	;;
esac

rm -f "$STATE/ready"

any=false
stop_all
for c in "${COMPONENTS[@]}"; do rm -f "$PIDS/$c"; done
$any || say all "nothing was running"

if $purge; then
	rm -rf "$STATE"
	say all "state purged ($STATE)"
fi
