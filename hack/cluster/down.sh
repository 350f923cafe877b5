#!/usr/bin/env bash
# down.sh stops the local control plane that up.sh started: every PID recorded in
# .cache/state/pids gets SIGTERM, then SIGKILL if it is still alive after a few seconds. Only
# recorded PIDs that still run the component's binary are signalled. The kubelet node goes first:
# its pods and containerd's shims (found through their cgroups), its mounts, network namespaces,
# bridge, iptables chains and cgroups are removed too, also after a crashed run (node.sh).
# Built binaries are kept.
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
"$HERE/prometheus.sh" stop
stop_all
for c in "${PLAYGROUND_COMPONENTS[@]}" "${COMPONENTS[@]}"; do rm -f "$PIDS/$c"; done
$any || say all "nothing was running"

if $purge; then
	if [[ -d $STATE ]] && awk -v p="$(readlink -f "$STATE")/" 'index($5, p) == 1 {found=1} END {exit !found}' /proc/self/mountinfo; then
		say all "FAILED: mounts remain under $STATE; not purging"
		exit 1
	fi
	rm -rf "$STATE"
	say all "state purged ($STATE)"
fi
