# node.sh: the real kubelet node beside the control plane (containerd, runc, CNI bridge, kubelet).
# Sourced by up.sh (node_up) and down.sh (node_down); needs lib.sh first. Needs root.
#
# Network: bridge $BRIDGE with $NODE_IP/24 is the node address (kubelet). Pods get 198.18.0.0/24
# from the CNI bridge plugin (host-local IPAM), no default route, only routes to the pod subnet and
# to the Service range 198.19.0.0/16 via the node address; ip_forward is never touched. Services
# of ours listen on 127.0.0.1 and pods reach them through one DNAT rule each in the nat chain
# $NAT_CHAIN (route_localnet on the bridge): 198.19.0.1:443 is the apiserver; tests add more
# (test/cluster ExposeToPods).
#
# Images come from the registry process (hack/cluster/registry) on 127.0.0.1:$REGISTRY_PORT,
# containerd's mirror for every registry host.
#
# What this creates, and node_down removes (also after a crash, from the state on disk): the
# processes (containerd and everything it spawned run in the pids cgroup $NODE_CGROUP; pod
# processes in kubelet's kubepods cgroups), mounts under $NODE_STATE (rootfs, volumes, network
# namespaces), the bridge and its veths, the iptables chains (ours and the KUBE-* ones kubelet
# makes), the kubepods cgroups, CNI cache entries of network $CNI_NETWORK and kubelet's links to
# its container logs in /var/log/containers.

NODE_STATE=$STATE/node
NODE_CGROUP=argo-eci-node
CNI_NETWORK=argo-eci
CNI_CACHE=/var/lib/cni/results

node_state_dirs() {
	mkdir -p "$NODE_STATE"/{containerd,containerd-state,cni,ipam,kubelet,pod-logs,runc}
}

# ---- configuration --------------------------------------------------------------------------
node_write_configs() {
	node_state_dirs
	local mirrors="" host
	for host in docker.io quay.io registry.k8s.io ghcr.io gcr.io "*"; do
		mirrors+=$(printf '\n    [plugins."io.containerd.grpc.v1.cri".registry.mirrors."%s"]\n      endpoint = ["http://127.0.0.1:%s"]' "$host" "$REGISTRY_PORT")
	done
	cat >"$CONF/containerd.toml" <<EOF
# containerd for the local kubelet node: its own root, state and socket; runc with cgroupfs;
# restrict_oom_score_adj because this sandbox lacks CAP_SYS_RESOURCE.
version = 2
root = "$NODE_STATE/containerd"
state = "$NODE_STATE/containerd-state"
disabled_plugins = ["io.containerd.internal.v1.opt"]
[grpc]
  address = "$NODE_STATE/containerd.sock"
[ttrpc]
  address = "$NODE_STATE/containerd.sock.ttrpc"
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.10"
  restrict_oom_score_adj = true
  disable_apparmor = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$NODE_STATE/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$NODE_STATE/cni"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".registry]$mirrors
EOF
	cat >"$NODE_STATE/cni/10-$CNI_NETWORK.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "$CNI_NETWORK",
  "plugins": [{
    "type": "bridge",
    "bridge": "$BRIDGE",
    "isGateway": false,
    "ipMasq": false,
    "hairpinMode": true,
    "ipam": {
      "type": "host-local",
      "dataDir": "$NODE_STATE/ipam",
      "ranges": [[{"subnet": "$POD_CIDR", "rangeStart": "198.18.0.10", "rangeEnd": "198.18.0.250", "gateway": "$NODE_IP"}]],
      "routes": [{"dst": "$SERVICE_CIDR", "gw": "$NODE_IP"}]
    }
  }]
}
EOF
	echo "nameserver 127.0.0.1" >"$CONF/resolv.conf"
	cat >"$CONF/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $PKI/kubelet.crt
tlsPrivateKeyFile: $PKI/kubelet.key
cgroupDriver: cgroupfs
failSwapOn: false
containerRuntimeEndpoint: unix://$NODE_STATE/containerd.sock
resolvConf: $CONF/resolv.conf
podLogsDir: $NODE_STATE/pod-logs
# An image collected here can never be pulled from a public registry again.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%"}
serializeImagePulls: false
maxPods: 110
registerNode: true
registerWithTaints:
- {key: virtual-kubelet.io/provider, value: alibabacloud, effect: NoSchedule}
nodeStatusUpdateFrequency: 5s
syncFrequency: 5s
fileCheckFrequency: 60s
runtimeRequestTimeout: 2m
shutdownGracePeriod: 0s
EOF
	cat >"$CONF/kubelet.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster: {server: "https://127.0.0.1:$APISERVER_PORT", certificate-authority: "$PKI/ca.crt"}
users:
- name: kubelet
  user: {client-certificate: "$PKI/kubelet-client.crt", client-key: "$PKI/kubelet-client.key"}
contexts:
- name: local
  context: {cluster: local, user: kubelet}
current-context: local
EOF
}

# ---- network ------------------------------------------------------------------------------
node_network_up() {
	if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
		ip link add "$BRIDGE" type bridge
	fi
	ip addr replace "$NODE_IP/24" dev "$BRIDGE"
	ip link set "$BRIDGE" up
	sysctl -qw "net.ipv4.conf.$BRIDGE.route_localnet=1"
	iptables -w -t nat -N "$NAT_CHAIN" 2>/dev/null || true
	iptables -w -t nat -C PREROUTING -i "$BRIDGE" -j "$NAT_CHAIN" 2>/dev/null ||
		iptables -w -t nat -A PREROUTING -i "$BRIDGE" -j "$NAT_CHAIN"
	iptables -w -t nat -C "$NAT_CHAIN" -d "$KUBERNETES_SERVICE_IP" -p tcp --dport 443 -j DNAT --to-destination "127.0.0.1:$APISERVER_PORT" 2>/dev/null ||
		iptables -w -t nat -A "$NAT_CHAIN" -d "$KUBERNETES_SERVICE_IP" -p tcp --dport 443 -j DNAT --to-destination "127.0.0.1:$APISERVER_PORT"
}

# iptables_clean BINARY: deletes every jump from a built-in chain to KUBE-* or our chain, then
# flushes and deletes those chains, in the filter, nat and mangle tables.
iptables_clean() {
	local ipt=$1 table rule chain
	command -v "$ipt" >/dev/null || return 0
	for table in filter nat mangle; do
		"$ipt-save" -t "$table" 2>/dev/null | grep -E '^-A [A-Z]+ .*-j (KUBE-|'"$NAT_CHAIN"')' | while read -r rule; do
			# shellcheck disable=SC2086 # the saved rule is re-split into its words
			eval "$ipt -w -t $table -D ${rule#-A }" 2>/dev/null || true
		done
		"$ipt-save" -t "$table" 2>/dev/null | sed -n -E 's/^:((KUBE-|'"$NAT_CHAIN"')[A-Za-z0-9_-]*) .*/\1/p' | while read -r chain; do
			"$ipt" -w -t "$table" -F "$chain" 2>/dev/null || true
		done
		"$ipt-save" -t "$table" 2>/dev/null | sed -n -E 's/^:((KUBE-|'"$NAT_CHAIN"')[A-Za-z0-9_-]*) .*/\1/p' | while read -r chain; do
			"$ipt" -w -t "$table" -X "$chain" 2>/dev/null || true
		done
	done
}

node_network_down() {
	iptables_clean iptables
	iptables_clean ip6tables
	local veth
	for veth in $(ip -o link show master "$BRIDGE" 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
		ip link delete "$veth" 2>/dev/null || true
	done
	ip link delete "$BRIDGE" 2>/dev/null || true
	# containerd's cache of the pod networks it set up: ours and its own loopback network.
	rm -f "$CNI_CACHE/$CNI_NETWORK"-* "$CNI_CACHE"/cni-loopback-* 2>/dev/null || true
	rmdir "$CNI_CACHE" /var/lib/cni 2>/dev/null || true
	rm -rf "$NODE_STATE/ipam"
}

# ---- cgroups and processes ----------------------------------------------------------------
# cgroup_pids DIR...: the PIDs in the cgroups under each DIR (any depth).
cgroup_pids() {
	local d
	for d in "$@"; do
		[[ -d $d ]] && find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null
	done
	return 0
}

# join_node_cgroup PID: moves PID into the pids cgroup every node process lives in; what it
# spawns later (containerd's shims, the containers) starts there too.
join_node_cgroup() {
	mkdir -p "/sys/fs/cgroup/pids/$NODE_CGROUP"
	echo "$1" >"/sys/fs/cgroup/pids/$NODE_CGROUP/cgroup.procs"
}

# kill_cgroups DIR...: SIGKILL to every process in the cgroups until they are empty (10 s at most).
kill_cgroups() {
	local deadline=$((SECONDS + 10)) pids
	while pids=$(cgroup_pids "$@") && [[ -n $pids ]]; do
		# shellcheck disable=SC2086 # one PID per word
		kill -KILL $pids 2>/dev/null || true
		((SECONDS < deadline)) || { say node "processes left in $*: $(echo $pids)"; return 1; }
		sleep 0.2
	done
}

# rm_cgroups NAME: removes the cgroup NAME (and its children) from every v1 hierarchy.
rm_cgroups() {
	local h
	for h in /sys/fs/cgroup/*/; do
		[[ -d $h$1 ]] && find "$h$1" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	return 0
}

# shims_running: true while any containerd runc shim process exists.
shims_running() {
	local exe
	for exe in /proc/[0-9]*/exe; do
		[[ $(readlink "$exe" 2>/dev/null) == */containerd-shim* ]] && return 0
	done
	return 1
}

# unmount_under DIR: unmounts every mount point under DIR, deepest first.
unmount_under() {
	local prefix mounts m
	prefix=$(readlink -f "$1")
	mounts=$(awk -v p="$prefix/" 'index($5, p) == 1 {print $5}' /proc/self/mountinfo | sort -r)
	for m in $mounts; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
	done
	! awk -v p="$prefix/" 'index($5, p) == 1 {found=1} END {exit !found}' /proc/self/mountinfo
}

# ---- up -----------------------------------------------------------------------------------
# containerd answers its own API before its CRI service is initialised, and the kubelet checks the
# CRI API once at start ("server is not initialized yet" ends it). containerd 1.6's CRI service
# logs "Start streaming server" as it marks itself initialised: wait for that line of this start
# (launch heads each start's log with a "=== … starting containerd" line).
containerd_ready() {
	ctr --address "$NODE_STATE/containerd.sock" version &&
		awk '/^=== .* starting containerd$/ {up = 0} /Start streaming server/ {up = 1} END {exit !up}' "$LOGS/containerd.log"
}
kubelet_healthy() { curl -fsS --max-time 2 "http://127.0.0.1:$KUBELET_HEALTHZ_PORT/healthz"; }
registry_ready() { curl -fsS --max-time 2 "http://127.0.0.1:$REGISTRY_PORT/v2/"; }
real_node_ready() {
	[[ $(kubectl_ get node "$REAL_NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}') == True ]]
}
real_node_labelled() {
	kubectl_ label node "$REAL_NODE_NAME" --overwrite \
		type=virtual-kubelet kubernetes.io/role=agent alibabacloud.com/virtual-node=true \
		"$NODE_KIND_LABEL=kubelet"
}

node_up() {
	[[ $(id -u) == 0 ]] || fail kubelet "the kubelet node needs root (containerd, mounts, iptables)"
	node_write_configs
	node_network_up
	launch registry --listen "127.0.0.1:$REGISTRY_PORT" --bin "$BIN" --busybox "$(command -v busybox)" --dir "$STATE/registry"
	wait_until registry 60 "serving images" registry_ready
	launch containerd --config "$CONF/containerd.toml"
	join_node_cgroup "$(pid_of containerd)"
	wait_until containerd 30 "ready" containerd_ready
	launch kubelet --config "$CONF/kubelet.yaml" --kubeconfig "$CONF/kubelet.kubeconfig" \
		--hostname-override "$REAL_NODE_NAME" --node-ip "$NODE_IP" \
		--root-dir "$NODE_STATE/kubelet" --cert-dir "$NODE_STATE/kubelet/pki" \
		--node-labels "type=virtual-kubelet,alibabacloud.com/virtual-node=true,topology.kubernetes.io/region=cn-hangzhou,topology.kubernetes.io/zone=cn-hangzhou-j,$NODE_KIND_LABEL=kubelet" \
		--v 1
	join_node_cgroup "$(pid_of kubelet)"
	wait_until kubelet 60 "healthy (/healthz)" kubelet_healthy
	wait_until kubelet 60 "node $REAL_NODE_NAME Ready" real_node_ready
	wait_until kubelet 10 "labelled" real_node_labelled
}

# ---- down ---------------------------------------------------------------------------------
# node_down: stops the node and removes what it made; works from the disk state alone, so it also
# cleans up after a crash or a killed up.sh.
node_down() {
	local ok=true
	stop 10 kubelet
	kill_cgroups /sys/fs/cgroup/pids/kubepods || ok=false
	stop 5 containerd
	kill_cgroups "/sys/fs/cgroup/pids/$NODE_CGROUP" || ok=false
	stop 2 registry
	if [[ -d $NODE_STATE ]] && ! unmount_under "$NODE_STATE"; then
		say node "mounts left under $NODE_STATE"
		ok=false
	fi
	rm -rf "$NODE_STATE/containerd-state" "$NODE_STATE/runc"
	# containerd 1.6 puts shim sockets in /run/containerd/s whatever its state directory; a killed
	# shim leaves its socket. Removed once no shim runs on the machine.
	if ! shims_running; then
		rm -f /run/containerd/s/* 2>/dev/null || true
		rmdir /run/containerd/s /run/containerd 2>/dev/null || true
	fi
	rm_cgroups kubepods
	rm_cgroups "$NODE_CGROUP"
	# kubelet links every container log into /var/log/containers (a path it hard-codes).
	local link
	for link in /var/log/containers/*.log; do
		[[ -L $link && $(readlink "$link") == "$NODE_STATE"/* ]] && rm -f "$link"
	done
	node_network_down
	$ok
}
