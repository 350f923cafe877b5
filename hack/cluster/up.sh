#!/usr/bin/env bash
# up.sh starts the local control plane on 127.0.0.1 from the binaries hack/cluster/build.sh made:
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler (profiles default-scheduler and
# eci-scheduler), kwok (one fake ECI virtual node) and Argo's workflow-controller (all namespaces,
# executor plugins on). State lives in .cache/state: pki/, etcd/, logs/, pids/, config/ and the
# admin kubeconfig at .cache/state/kubeconfig.
#
# Idempotent: when every component runs and the apiserver is ready it returns at once; otherwise
# it starts what is missing, applies the CRDs and objects and waits until the cluster is usable.
# A failing step names the component, prints the tail of its log and stops every component.
# Stop it with down.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lock_cluster

start=$SECONDS
# A failed start leaves nothing running: stop whatever is up (state is kept for the next try).
trap 'rc=$?; if ((rc != 0)); then say all "start failed: stopping the components"; stop_all; fi' EXIT

all_running() {
	local c
	for c in "${COMPONENTS[@]}"; do pid_of "$c" >/dev/null || return 1; done
	healthy_apiserver
}


# ---- certificates and keys ------------------------------------------------------------------
ensure_openssl() {
	command -v openssl >/dev/null && return
	say openssl "installing Debian openssl ..."
	local sudo=
	[[ $(id -u) == 0 ]] || sudo=sudo
	{ $sudo apt-get update && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends openssl; } \
		>"$LOGS/openssl.log" 2>&1 || fail openssl "apt-get install openssl"
}

# issue NAME SUBJECT EXTENSIONS: an EC P-256 key and a certificate signed by the local CA.
issue() {
	local name=$1 subject=$2 ext=$3
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$PKI/$name.key"
	openssl req -new -key "$PKI/$name.key" -subj "$subject" -out "$PKI/$name.csr"
	openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
		-days 3650 -sha256 -extfile <(printf '%s\n' "$ext") -out "$PKI/$name.crt"
	rm -f "$PKI/$name.csr"
}

make_pki() {
	[[ -s $PKI/ca.crt && -s $PKI/apiserver.crt && -s $PKI/admin.crt && -s $PKI/sa.key && -s $PKI/sa.pub &&
		-s $PKI/kubelet.crt && -s $PKI/kubelet-client.crt && -s $PKI/apiserver-kubelet-client.crt ]] && return
	ensure_openssl
	say pki "generating CA, serving, admin and service-account keys"
	(
		set -e
		openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$PKI/ca.key"
		openssl req -x509 -new -key "$PKI/ca.key" -subj "/CN=argo-eci-local-ca" -days 3650 -sha256 \
			-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
			-out "$PKI/ca.crt"
		issue apiserver "/CN=kube-apiserver" "$(printf '%s\n' \
			"basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
			"extendedKeyUsage=serverAuth" \
			"subjectAltName=IP:127.0.0.1,IP:$KUBERNETES_SERVICE_IP,IP:$NODE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local")"
		issue admin "/O=system:masters/CN=argo-eci-admin" "$(printf '%s\n' \
			"basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
			"extendedKeyUsage=clientAuth")"
		# The kubelet node: its serving certificate (the apiserver verifies it), its client identity
		# (Node authorizer), and the apiserver's identity towards it (logs, exec).
		issue kubelet "/CN=$REAL_NODE_NAME" "$(printf '%s\n' \
			"basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
			"extendedKeyUsage=serverAuth" "subjectAltName=IP:$NODE_IP,DNS:$REAL_NODE_NAME")"
		issue kubelet-client "/O=system:nodes/CN=system:node:$REAL_NODE_NAME" "$(printf '%s\n' \
			"basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
			"extendedKeyUsage=clientAuth")"
		issue apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "$(printf '%s\n' \
			"basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
			"extendedKeyUsage=clientAuth")"
		openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$PKI/sa.key"
		openssl pkey -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub"
	) >"$LOGS/pki.log" 2>&1 || fail pki "openssl"
}

write_kubeconfig() {
	local b64="base64 -w0"
	cat >"$KUBECONFIG_FILE.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: argo-eci-local
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority-data: $($b64 <"$PKI/ca.crt")
users:
- name: argo-eci-admin
  user:
    client-certificate-data: $($b64 <"$PKI/admin.crt")
    client-key-data: $($b64 <"$PKI/admin.key")
contexts:
- name: argo-eci-local
  context:
    cluster: argo-eci-local
    user: argo-eci-admin
current-context: argo-eci-local
EOF
	mv -f "$KUBECONFIG_FILE.tmp" "$KUBECONFIG_FILE"
}

etcd_healthy() { curl -fsS --max-time 2 "http://127.0.0.1:$ETCD_PORT/health" | grep -q '"health":"true"'; }

write_configs() {
	cat >"$CONF/scheduler.yaml" <<EOF
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: $KUBECONFIG_FILE
  qps: 100
  burst: 200
leaderElection:
  leaderElect: false
profiles:
- schedulerName: default-scheduler
- schedulerName: eci-scheduler
EOF
	# Pods go to the kwok node unless their namespace names another with the annotation
	# scheduler.alpha.kubernetes.io/node-selector (test/cluster does, for the kubelet node).
	cat >"$CONF/admission.yaml" <<EOF
apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: PodNodeSelector
  path: $CONF/podnodeselector.yaml
EOF
	cat >"$CONF/podnodeselector.yaml" <<EOF
podNodeSelectorPluginConfig:
  clusterDefaultNodeSelector: $NODE_KIND_LABEL=kwok
EOF
	local kwok_dir
	kwok_dir=$(cd "$ROOT/hack/tools/kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok) || fail kwok "locating the kwok module (go list -m)"
	{
		cat <<EOF
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokConfiguration
options:
  cidr: $KWOK_POD_CIDR
  nodeIP: $KWOK_NODE_IP
  manageNodesWithAnnotationSelector: kwok.x-k8s.io/node=fake
  serverAddress: 127.0.0.1:$KWOK_PORT
  enableDebuggingHandlers: false
  nodeLeaseDurationSeconds: 40
  podPlayStageParallelism: 16
  nodePlayStageParallelism: 4
  nodeLeaseParallelism: 4
  podsOnNodeSyncParallelism: 4
EOF
		local f
		for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
			pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
			printf -- '---\n# from %s\n' "kwok@v0.8.0/kustomize/stage/$f"
			cat "$kwok_dir/kustomize/stage/$f"
		done
		# kwok-stages.yaml replaces kwok's stock pod-ready stage: a pod runs only once the ECI
		# simulator placed it. kwok-metrics.yaml gives pods simulated usage for Prometheus.
		printf -- '---\n'
		cat "$HERE/kwok-stages.yaml"
		printf -- '---\n'
		cat "$HERE/kwok-metrics.yaml"
	} >"$CONF/kwok.yaml"
}

# ---- objects -------------------------------------------------------------------------------
# put FILE...: creates the objects, then replaces the ones that already existed. Plain create and
# replace are much cheaper than (server-side) apply for Argo's and Fluid's large CRDs, and one
# kubectl call for all files saves a discovery round per file.
put() {
	local args=() out
	for f in "$@"; do args+=(-f "$f"); done
	if out=$(kubectl_ create "${args[@]}" 2>&1); then
		echo "$out"
		return
	fi
	echo "$out"
	if grep -v 'AlreadyExists' <<<"$out" | grep -q '^Error'; then
		return 1
	fi
	kubectl_ replace "${args[@]}"
}

# apply_objects: installs the CRDs and objects the cluster needs. Skipped when the same manifests
# were already installed into this etcd (the hash lives next to the etcd data).
apply_objects() {
	local argo_dir fluid_dir files hash
	argo_dir=$(cd "$ROOT/hack/tools/argo" && go list -m -f '{{.Dir}}' github.com/argoproj/argo-workflows/v4) ||
		fail kube-apiserver "locating the argo-workflows module (go list -m)"
	fluid_dir=$(cd "$ROOT" && go mod download -json github.com/fluid-cloudnative/fluid@v1.0.8 | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
	[[ -d $fluid_dir ]] || fail kube-apiserver "locating the fluid v1.0.8 module (go mod download)"
	files=("$argo_dir"/manifests/base/crds/full/argoproj.io_*.yaml "$fluid_dir"/charts/fluid/fluid/crds/data.fluid.io_*.yaml
		"$HERE"/crds/*.yaml "$HERE/controller.yaml" "$HERE/node.yaml")
	hash=$(cat "${files[@]}" | sha256sum | cut -d' ' -f1)
	if [[ -f $STATE/etcd/argo-eci-applied && $(<"$STATE/etcd/argo-eci-applied") == "$hash" ]]; then
		say apply "objects already installed"
		# A running, ready cluster established them when they were installed.
		[[ -f $STATE/ready ]] && return 0
	else
		put "${files[@]}" >"$LOGS/apply.log" 2>&1 || { say apply "FAILED: kubectl create/replace"; tail -n 40 "$LOGS/apply.log"; exit 1; }
		echo "$hash" >"$STATE/etcd/argo-eci-applied"
		say apply "CRDs (argo, fluid, ImageCache), namespace argo, controller ConfigMap, node $NODE_NAME"
	fi
	# kubectl wait gives up at once on a CRD whose status has no conditions yet ("accessor error:
	# <nil>"), so retry it until the deadline.
	local deadline=$((SECONDS + 120))
	until kubectl_ wait --for condition=Established --timeout=60s crd --all >>"$LOGS/apply.log" 2>&1; do
		if ((SECONDS >= deadline)); then
			say apply "FAILED: CRDs not Established"
			tail -n 40 "$LOGS/apply.log"
			exit 1
		fi
		sleep 1
	done
	say apply "CRDs Established"
}

node_ready() {
	[[ $(kubectl_ get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}') == True ]]
}
node_untainted() { # the not-ready taint the node lifecycle controller sets at first is gone
	! kubectl_ get node "$NODE_NAME" -o jsonpath='{.spec.taints[*].key}' | grep -q 'node.kubernetes.io/not-ready'
}
default_sa() { kubectl_ -n default get serviceaccount default && kubectl_ -n argo get serviceaccount default; }
eci_simulator_leader() { [[ -n $(kubectl_ -n kube-system get lease eci-simulator -o 'jsonpath={.spec.holderIdentity}' 2>/dev/null) ]]; }
controller_healthy() { curl -fsS --max-time 2 "http://127.0.0.1:$CONTROLLER_HEALTH_PORT/healthz"; }

# ---- go -----------------------------------------------------------------------------------
if [[ -f $STATE/ready ]] && all_running; then
	# Changed CRDs or controller settings still reach a running cluster (hash-guarded: no-op when unchanged).
	apply_objects
	"$HERE/prometheus.sh" start
	say all "already running (kubeconfig $KUBECONFIG_FILE)"
	exit 0
fi
rm -f "$STATE/ready"

for b in kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kwok eci-simulator workflow-controller argoexec argo-eci pause registry; do
	[[ -x $BIN/$b ]] || fail "$b" "$BIN/$b is missing: run hack/cluster/build.sh first"
done
command -v etcd >/dev/null || fail etcd "etcd is not installed: run hack/cluster/build.sh first"
mkdir -p "$PKI" "$PIDS" "$LOGS" "$CONF"
# etcd data from a cluster with other address ranges would keep its old Service IPs: start afresh.
layout="services=$SERVICE_CIDR kubelet-node=$REAL_NODE_NAME"
if [[ -d $STATE/etcd/member && $(cat "$STATE/etcd/argo-eci-layout" 2>/dev/null) != "$layout" ]]; then
	say etcd "data from an older cluster layout: starting with an empty etcd"
	rm -rf "$STATE/etcd"
fi
mkdir -p -m 700 "$STATE/etcd"
echo "$layout" >"$STATE/etcd/argo-eci-layout"

make_pki
write_kubeconfig
write_configs

launch etcd --name argo-eci-local --data-dir "$STATE/etcd" \
	--listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
	--listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
	--initial-cluster "argo-eci-local=http://127.0.0.1:$ETCD_PEER_PORT" \
	--quota-backend-bytes 4294967296 --snapshot-count 10000 --log-level warn
wait_until etcd 30 "healthy" etcd_healthy

launch kube-apiserver \
	--etcd-servers "http://127.0.0.1:$ETCD_PORT" \
	--bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$APISERVER_PORT" \
	--endpoint-reconciler-type none \
	--tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
	--client-ca-file "$PKI/ca.crt" \
	--service-account-issuer https://kubernetes.default.svc.cluster.local \
	--service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
	--service-cluster-ip-range "$SERVICE_CIDR" \
	--enable-admission-plugins PodNodeSelector --admission-control-config-file "$CONF/admission.yaml" \
	--kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
	--kubelet-certificate-authority "$PKI/ca.crt" --kubelet-preferred-address-types InternalIP \
	--authorization-mode Node,RBAC \
	--allow-privileged=true \
	--profiling=false \
	--max-requests-inflight 800 --max-mutating-requests-inflight 400 \
	--enable-priority-and-fairness=false
wait_until kube-apiserver 90 "ready (/readyz)" healthy_apiserver

launch kube-controller-manager \
	--kubeconfig "$KUBECONFIG_FILE" --secure-port=0 --leader-elect=false \
	--service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
	--use-service-account-credentials=false \
	--kube-api-qps 100 --kube-api-burst 200
launch kube-scheduler --config "$CONF/scheduler.yaml" --secure-port=0
launch kwok --config "$CONF/kwok.yaml" --kubeconfig "$KUBECONFIG_FILE"
launch eci-simulator --kubeconfig "$KUBECONFIG_FILE" --namespace kube-system

apply_objects

# 1 s keeps the suite quick; ARGO_ECI_CONTROLLER_REQUEUE_TIME=10s gives Argo's production default
# (BenchmarkWarmToFanOut needs it).
LEADER_ELECTION_DISABLE=true ARGO_EXECUTOR_PLUGINS=true DEFAULT_REQUEUE_TIME="${ARGO_ECI_CONTROLLER_REQUEUE_TIME:-1s}" \
	launch workflow-controller \
	--kubeconfig "$KUBECONFIG_FILE" --namespace argo \
	--executor-image quay.io/argoproj/argoexec:v4.0.7 \
	--qps 100 --burst 200

wait_until kwok 60 "node $NODE_NAME Ready" node_ready
wait_until kube-controller-manager 60 "node not-ready taint removed" node_untainted
wait_until kube-controller-manager 60 "default ServiceAccounts exist" default_sa
wait_until workflow-controller 60 "healthy (/healthz)" controller_healthy
wait_until kube-scheduler 5 "running" pid_of kube-scheduler
node_up
wait_until eci-simulator 60 "holds the Lease kube-system/eci-simulator" eci_simulator_leader
"$HERE/prometheus.sh" start

date -u +%FT%TZ >"$STATE/ready"
say all "up in $((SECONDS - start))s (kubeconfig $KUBECONFIG_FILE)"
