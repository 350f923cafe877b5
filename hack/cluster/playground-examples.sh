#!/usr/bin/env bash
# playground-examples.sh (make cluster-examples): on the playground (make cluster-up), every
# workflow of examples/ submitted the way the playground tells a user to (argo-eci render with
# examples/profiles.yaml, piped to kubectl create), then waited for: each must reach Succeeded.
# oss-artifacts runs in namespace `real` (the kubelet node, its artifact really moves through the OSS
# test server); the others in `default` (the kwok node). Exits 1 on the first example that fails,
# with its workflow's status; the workflows are left for inspection.
set -euo pipefail
HERE_=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE_/lib.sh"
TIMEOUT=${ARGO_ECI_EXAMPLE_TIMEOUT:-600} # seconds per example

# wait_phase prints the workflow's phase once it has ended (Succeeded, Failed, Error), or nothing
# after TIMEOUT seconds.
wait_phase() {
	local deadline=$((SECONDS + TIMEOUT)) phase
	while ((SECONDS < deadline)); do
		phase=$(kubectl_ -n "$1" get "$2" -o jsonpath='{.status.phase}')
		case $phase in Succeeded | Failed | Error)
			echo "$phase"
			return
			;;
		esac
		sleep 2
	done
}

curl -fsSk --max-time 2 "https://127.0.0.1:${ARGO_ECI_WEBHOOK_PORT:-30443}/readyz" >/dev/null ||
	{ say examples "FAILED: the playground is not running (make cluster-up)"; exit 1; }
for example in oss-artifacts:real eci-fanout:default fluid-md5sum:default imagecache-fanout:default spot-ci-build:default; do
	file=${example%%:*} ns=${example#*:}
	wf=$("$BIN/argo-eci" render -f "$ROOT/examples/$file.yaml" --profiles "$ROOT/examples/profiles.yaml" |
		kubectl_ -n "$ns" create -f - -o name)
	say "$file" "$ns/${wf#*/} submitted"
	phase=$(wait_phase "$ns" "$wf")
	if [[ $phase != Succeeded ]]; then
		say "$file" "FAILED: $ns/${wf#*/} ended ${phase:-nowhere: still running after $TIMEOUT s}"
		kubectl_ -n "$ns" get "$wf" -o jsonpath='{.status.message}{"\n"}{range .status.nodes.*}{.displayName}{": "}{.phase}{" "}{.message}{"\n"}{end}' >&2
		exit 1
	fi
	say "$file" "$ns/${wf#*/} Succeeded"
done
