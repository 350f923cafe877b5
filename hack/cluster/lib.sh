# lib.sh: paths, ports and process helpers shared by up.sh and down.sh. Source it; do not run it.
# Every port can be moved with an environment variable when it clashes with something local.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/hack/cluster
BIN=$ROOT/.cache/bin
STATE=$ROOT/.cache/state
PKI=$STATE/pki
PIDS=$STATE/pids
LOGS=$STATE/logs
CONF=$STATE/config
KUBECONFIG_FILE=$STATE/kubeconfig

ETCD_PORT=${ARGO_ECI_ETCD_PORT:-32379}
ETCD_PEER_PORT=${ARGO_ECI_ETCD_PEER_PORT:-32380}
APISERVER_PORT=${ARGO_ECI_APISERVER_PORT:-36443}
KWOK_PORT=${ARGO_ECI_KWOK_PORT:-30247}
REGISTRY_PORT=${ARGO_ECI_REGISTRY_PORT:-30500}
KUBELET_HEALTHZ_PORT=${ARGO_ECI_KUBELET_HEALTHZ_PORT:-30248}
# The workflow-controller serves /healthz on :6060; Argo hard-codes that address.
CONTROLLER_HEALTH_PORT=6060

# Addresses, all in the benchmarking range 198.18.0.0/15 (never routed on the internet): the real
# node's bridge and pods, the Service range, and kwok's simulated pods and node.
BRIDGE=argoeci0
NODE_IP=198.18.0.1
POD_CIDR=198.18.0.0/24
SERVICE_CIDR=198.19.0.0/16
KUBERNETES_SERVICE_IP=198.19.0.1
KWOK_POD_CIDR=198.18.128.0/17
KWOK_NODE_IP=198.18.1.2
NAT_CHAIN=ARGO-ECI-SERVICES

# The two ECI-like virtual nodes: kwok's (simulated pods, for scale) and the kubelet's (real pods).
# Both carry type=virtual-kubelet and the virtual-kubelet taint; NODE_KIND_LABEL tells them apart,
# and a namespace picks one with the PodNodeSelector annotation (kwok when it has none).
NODE_NAME=virtual-kubelet-cn-hangzhou-k
REAL_NODE_NAME=virtual-kubelet-cn-hangzhou-j
NODE_KIND_LABEL=test.argo-eci.io/node

# Started by playground.sh (make cluster-up) on top: argo-eci's webhook and the OSS/Fluid stand-ins.
PLAYGROUND_COMPONENTS=(webhook playground)

# Start order; down.sh stops them in reverse.
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok eci-simulator workflow-controller registry containerd kubelet)

say() { printf 'cluster: %4ss %-24s %s\n' "$SECONDS" "$1" "$2"; }

# log_tail COMPONENT: prints the last lines of the component's log.
log_tail() {
	local log=$LOGS/$1.log
	[[ -s $log ]] || return 0
	echo "---- last 40 lines of $log ----"
	tail -n 40 "$log"
	echo "----"
}

# fail COMPONENT MESSAGE: reports a failed step with the component's log tail and exits.
fail() {
	say "$1" "FAILED: $2"
	log_tail "$1"
	exit 1
}

# binary_of COMPONENT: the executable a component runs as.
binary_of() {
	case $1 in
	etcd | containerd) command -v "$1" ;;
	webhook) echo "$BIN/argo-eci" ;;
	*) echo "$BIN/$1" ;;
	esac
}

# pid_of COMPONENT: prints the recorded PID when that process is alive and still runs the
# component's binary (a recycled PID never counts), else fails. A binary that build.sh replaced
# while it ran shows as "PATH (deleted)" and still counts.
pid_of() {
	local file=$PIDS/$1 pid exe
	[[ -f $file ]] || return 1
	pid=$(<"$file")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
	exe=${exe% (deleted)}
	[[ $exe == "$(readlink -f "$(binary_of "$1")")" ]] || return 1
	echo "$pid"
}

# ---- processes -----------------------------------------------------------------------------
# launch COMPONENT ARGS...: starts the component in its own session, output to its log, PID recorded.
launch() {
	local name=$1 pid
	shift
	if pid=$(pid_of "$name"); then
		say "$name" "running (pid $pid)"
		return
	fi
	echo "=== $(date -u +%FT%TZ) starting $name" >>"$LOGS/$name.log"
	setsid "$(binary_of "$name")" "$@" >>"$LOGS/$name.log" 2>&1 </dev/null 9>&- &
	pid=$!
	echo "$pid" >"$PIDS/$name"
	# Until setsid has exec'd the binary, /proc/PID/exe still names bash or setsid.
	local deadline=$((SECONDS + 10))
	until pid_of "$name" >/dev/null; do
		kill -0 "$pid" 2>/dev/null || fail "$name" "exited at once"
		((SECONDS < deadline)) || fail "$name" "pid $pid never became $(binary_of "$name")"
		sleep 0.05
	done
	say "$name" "started (pid $pid)"
}

# wait_until COMPONENT SECONDS DESCRIPTION COMMAND...: polls COMMAND; fails early when the
# component's process has died.
wait_until() {
	local name=$1 timeout=$2 what=$3 deadline
	shift 3
	deadline=$((SECONDS + timeout))
	until "$@" >/dev/null 2>&1; do
		if ! pid_of "$name" >/dev/null; then
			fail "$name" "exited while waiting for $what"
		fi
		((SECONDS < deadline)) || fail "$name" "timed out after ${timeout}s waiting for $what"
		sleep 0.3
	done
	say "$name" "$what"
}

# healthy_apiserver: true when the apiserver answers /readyz with our admin identity.
healthy_apiserver() {
	curl -fsS --max-time 3 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
		"https://127.0.0.1:$APISERVER_PORT/readyz" >/dev/null 2>&1
}

# stop WAIT COMPONENT...: SIGTERM to each running component, SIGKILL to those still running after
# WAIT seconds. Sets any=true when something was running.
stop() {
	local wait=$1 c pid deadline entry entries=()
	shift
	for c in "$@"; do
		if pid=$(pid_of "$c"); then
			kill -TERM "$pid" 2>/dev/null || true
			entries+=("$c:$pid")
			any=true
		fi
	done
	deadline=$((SECONDS + wait))
	for entry in "${entries[@]}"; do
		c=${entry%%:*}
		pid=${entry#*:}
		while pid_of "$c" >/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
		if pid_of "$c" >/dev/null; then
			kill -KILL "$pid" 2>/dev/null || true
			while pid_of "$c" >/dev/null; do sleep 0.1; done
			say "$c" "killed (pid $pid did not stop within ${wait}s of SIGTERM)"
		else
			say "$c" "stopped (pid $pid)"
		fi
		rm -f "$PIDS/$c"
	done
}

# stop_all: stops every component: the kubelet node and its pods, then clients, then the apiserver, then its storage. Argo
# v4.0.7's workflow-controller swallows SIGTERM (util/logging installs a handler that only flushes
# logs), so it gets SIGKILL soon.
stop_all() {
	stop 5 playground webhook
	node_down || say node "FAILED: not everything of the kubelet node was removed"
	stop 2 workflow-controller
	stop 5 eci-simulator kwok kube-scheduler kube-controller-manager
	stop 10 kube-apiserver
	stop 10 etcd
}

# lock_cluster: serialises up.sh and down.sh (tests in several packages may call up.sh at once).
# The lock is fd 9; processes up.sh starts must not inherit it.
lock_cluster() {
	mkdir -p "$ROOT/.cache"
	exec 9>"$ROOT/.cache/cluster.lock"
	flock -w 900 9 || { say all "FAILED: another up.sh/down.sh held .cache/cluster.lock for 15 minutes"; exit 1; }
}

kubectl_() { "$BIN/kubectl" --kubeconfig "$KUBECONFIG_FILE" "$@"; }

source "$HERE/node.sh"
