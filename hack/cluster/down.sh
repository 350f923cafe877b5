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
stopped=()
for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
	c=${COMPONENTS[i]}
	if pid=$(pid_of "$c"); then
		kill -TERM "$pid" 2>/dev/null || true
		stopped+=("$c:$pid")
	fi
done

deadline=$((SECONDS + 8))
for entry in "${stopped[@]}"; do
	c=${entry%%:*}
	pid=${entry#*:}
	while pid_of "$c" >/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
	if pid_of "$c" >/dev/null; then
		kill -KILL "$pid" 2>/dev/null || true
		while pid_of "$c" >/dev/null; do sleep 0.1; done
		say "$c" "killed (pid $pid did not stop on SIGTERM)"
	else
		say "$c" "stopped (pid $pid)"
	fi
done
for c in "${COMPONENTS[@]}"; do rm -f "$PIDS/$c"; done
[[ ${#stopped[@]} -gt 0 ]] || say all "nothing was running"

if $purge; then
	rm -rf "$STATE"
	say all "state purged ($STATE)"
fi
