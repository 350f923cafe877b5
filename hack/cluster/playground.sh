#!/usr/bin/env bash
# playground.sh (make cluster-up): the local cluster with argo-eci installed, left running for
# hands-on use until `make cluster-down` (down.sh):
#   - up.sh: control plane, Argo's workflow-controller, the kwok node and the kubelet node;
#   - argo-eci's webhook (this repository's binary) on 127.0.0.1, registered by URL for Argo pods
#     and Workflows, serving examples/profiles.yaml;
#   - namespace `default` (pods on the kwok node, simulated) and `real` (pods on the kubelet node),
#     each with manifests/plugin installed and Argo's executor RBAC;
#   - the OSS test server as the controller's default artifact repository (argo-eci-oss), the
#     Fluid/ECI status simulator for both namespaces, and the work of the agent pods kwok only marks
#     Running in `default` (Argo's agent code and argo-eci's plugin handler, hack/cluster/playground);
#   - what the examples expect to exist in `default`: the Secret access-key (fluid-md5sum) and the
#     claim rust-cache (spot-ci-build).
# hack/cluster/playground-examples.sh (make cluster-examples) then runs every example to Succeeded.
set -euo pipefail
HERE_=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
"$HERE_/build.sh" playground
"$HERE_/up.sh"
source "$HERE_/lib.sh"
lock_cluster

WEBHOOK_PORT=${ARGO_ECI_WEBHOOK_PORT:-30443}
PLAYGROUND_NAMESPACES=(default real)

# ---- argo-eci webhook ---------------------------------------------------------------------------
ca=$("$BIN/argo-eci" webhook --self-signed-dir "$STATE/webhook-tls" --self-signed-hosts 127.0.0.1 --self-signed-only 2>>"$LOGS/webhook.log")
launch webhook webhook --listen "127.0.0.1:$WEBHOOK_PORT" --self-signed-dir "$STATE/webhook-tls" \
	--self-signed-hosts 127.0.0.1 --kubeconfig "$KUBECONFIG_FILE" --profiles-file "$ROOT/examples/profiles.yaml"
webhook_ready() { curl -fsSk --max-time 2 "https://127.0.0.1:$WEBHOOK_PORT/readyz"; }
wait_until webhook 30 "ready (/readyz)" webhook_ready

names=$(printf '"%s",' "${PLAYGROUND_NAMESPACES[@]}")
kubectl_ apply -f - >"$LOGS/playground-apply.log" <<EOF
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: argo-eci-playground
webhooks:
- name: pods.argo-eci.io
  clientConfig: {url: "https://127.0.0.1:$WEBHOOK_PORT/mutate/pods", caBundle: "$ca"}
  rules: [{operations: [CREATE], apiGroups: [""], apiVersions: [v1], resources: [pods], scope: Namespaced}]
  namespaceSelector: {matchExpressions: [{key: kubernetes.io/metadata.name, operator: In, values: [${names%,}]}]}
  objectSelector: {matchExpressions: [{key: workflows.argoproj.io/workflow, operator: Exists}]}
  failurePolicy: Fail
  sideEffects: None
  timeoutSeconds: 5
  admissionReviewVersions: [v1]
- name: workflows.argo-eci.io
  clientConfig: {url: "https://127.0.0.1:$WEBHOOK_PORT/mutate/workflows", caBundle: "$ca"}
  rules: [{operations: [CREATE], apiGroups: [argoproj.io], apiVersions: [v1alpha1], resources: [workflows, cronworkflows, workflowtemplates], scope: Namespaced}]
  namespaceSelector: {matchExpressions: [{key: kubernetes.io/metadata.name, operator: In, values: [${names%,}]}]}
  failurePolicy: Fail
  sideEffects: None
  timeoutSeconds: 5
  admissionReviewVersions: [v1]
EOF
say webhook "registered for namespaces ${PLAYGROUND_NAMESPACES[*]}"

# ---- namespaces, executor plugin, RBAC ------------------------------------------------------------
kubectl_ create namespace real --dry-run=client -o yaml | kubectl_ apply -f - >>"$LOGS/playground-apply.log"
kubectl_ annotate namespace real --overwrite "scheduler.alpha.kubernetes.io/node-selector=$NODE_KIND_LABEL=kubelet" >>"$LOGS/playground-apply.log"
for ns in "${PLAYGROUND_NAMESPACES[@]}"; do
	# The documented overlay: the namespace, the image set once (the one hack/cluster/registry
	# serves) with `images`, and manifests/plugin/image to write it into the plugin ConfigMap.
	overlay="$CONF/plugin-$ns"
	mkdir -p "$overlay"
	base=$(realpath --relative-to="$overlay" "$ROOT/manifests/plugin")
	cat >"$overlay/kustomization.yaml" <<EOF
namespace: $ns
resources: [$base]
images: [{name: argo-eci.invalid/argo-eci, newName: argo-eci/argo-eci, newTag: latest}]
transformers: [$base/image]
EOF
	kubectl_ kustomize "$overlay" |
		sed -e "s/name: argo-eci-executor-plugin-imagecaches$/name: argo-eci-executor-plugin-imagecaches-$ns/" |
		kubectl_ apply -n "$ns" -f - >>"$LOGS/playground-apply.log"
	kubectl_ -n "$ns" create role argo-executor --verb=create,patch --resource=workflowtaskresults.argoproj.io \
		--dry-run=client -o yaml | kubectl_ apply -f - >>"$LOGS/playground-apply.log"
	kubectl_ -n "$ns" create rolebinding argo-executor --role=argo-executor --serviceaccount="$ns:default" \
		--dry-run=client -o yaml | kubectl_ apply -f - >>"$LOGS/playground-apply.log"
done
say plugin "manifests/plugin and executor RBAC in ${PLAYGROUND_NAMESPACES[*]}"

# ---- OSS test server and simulators; the controller's artifact repository -------------------------
launch playground --kubeconfig "$KUBECONFIG_FILE" --bucket argo-artifacts --namespaces "$(IFS=,; echo "${PLAYGROUND_NAMESPACES[*]}")" \
	--agent-namespaces default
# The log is appended to by every start (launch writes a "=== … starting playground" line first):
# only this start's endpoint counts, an earlier one's port is closed.
oss_line() {
	awk '/^=== .* starting playground$/ {line = ""} /^oss endpoint=/ {line = $0} END {if (line == "") exit 1; print line}' "$LOGS/playground.log"
}
wait_until playground 30 "OSS test server and simulators running" oss_line
read -r endpoint bucket region id secret < <(oss_line | sed -E 's/^oss endpoint=(\S+) bucket=(\S+) region=(\S+) accessKeyID=(\S+) accessKeySecret=(\S+)$/\1 \2 \3 \4 \5/')
patch=$(
	cat <<EOF
data:
  artifactRepository: |
    plugin:
      name: argo-eci-oss
      keyFormat: "{{workflow.namespace}}/{{workflow.name}}/{{pod.name}}"
      configuration: |
        endpoint: $endpoint
        bucket: $bucket
        region: $region
        pathStyle: true
  executor: |
    env:
    - {name: OSS_ACCESS_KEY_ID, value: $id}
    - {name: OSS_ACCESS_KEY_SECRET, value: $secret}
EOF
)
kubectl_ -n argo patch configmap workflow-controller-configmap --type merge -p "$patch" >>"$LOGS/playground-apply.log"
say playground "controller artifact repository: argo-eci-oss at $endpoint (bucket $bucket)"

# ---- what the examples expect in `default` (kwok pods mount nothing: any bound claim will do) -------
kubectl_ -n default create secret generic access-key --from-literal=fs.oss.accessKeyId=playground \
	--from-literal=fs.oss.accessKeySecret=playground --dry-run=client -o yaml | kubectl_ apply -f - >>"$LOGS/playground-apply.log"
kubectl_ apply -f - >>"$LOGS/playground-apply.log" <<EOF
apiVersion: v1
kind: PersistentVolume
metadata: {name: playground-rust-cache}
spec:
  capacity: {storage: 100Gi}
  accessModes: [ReadWriteMany]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: ""
  claimRef: {namespace: default, name: rust-cache}
  nfs: {server: $NODE_IP, path: /playground/rust-cache}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: rust-cache, namespace: default}
spec:
  accessModes: [ReadWriteMany]
  storageClassName: ""
  volumeName: playground-rust-cache
  resources: {requests: {storage: 100Gi}}
EOF
say playground "default: Secret access-key and claim rust-cache for the examples"

cat <<EOF

The argo-eci playground is running. Stop everything with: make cluster-down

  export KUBECONFIG=$KUBECONFIG_FILE
  kubectl get nodes -L $NODE_KIND_LABEL     # $NODE_NAME (kwok), $REAL_NODE_NAME (kubelet)

Namespace 'real' runs pods on the kubelet node (containerd); namespace 'default' on the kwok node
(simulated pods, thousands fit). Both have argo-eci's webhook (examples/profiles.yaml) and the
executor plugin; outputs go to the OSS test server through the argo-eci-oss artifact plugin.

Every example runs to Succeeded (make cluster-examples runs them all and waits):

  bin/argo-eci render -f examples/oss-artifacts.yaml --profiles examples/profiles.yaml | kubectl -n real create -f -
  bin/argo-eci render -f examples/eci-fanout.yaml --profiles examples/profiles.yaml | kubectl create -f -
  bin/argo-eci render -f examples/fluid-md5sum.yaml --profiles examples/profiles.yaml | kubectl create -f -
  bin/argo-eci render -f examples/imagecache-fanout.yaml --profiles examples/profiles.yaml | kubectl create -f -
  bin/argo-eci render -f examples/spot-ci-build.yaml --profiles examples/profiles.yaml | kubectl create -f -
  kubectl -n real get workflows,pods -o wide
  kubectl -n real logs <pod> -c main

Images on the kubelet node come from the local registry (hack/cluster/registry): busybox:1.36
(also answering to alpine and docker/whalesay), argo-eci/argo-eci:latest, Argo's argoexec.
Logs: $LOGS
EOF
