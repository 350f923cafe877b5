#!/usr/bin/env bash
# prometheus.sh start|stop|status: a real Prometheus (Debian's `prometheus` package, installed with
# apt-get when missing) on 127.0.0.1:$ARGO_ECI_PROMETHEUS_PORT (default 39090) that scrapes kwok's
# simulated kubelet metrics (hack/cluster/kwok-metrics.yaml) every 5 s:
# http://127.0.0.1:$ARGO_ECI_KWOK_PORT/metrics/nodes/<node>/metrics/resource as job "kubelet".
#
# State: .cache/state/prometheus/ (TSDB, 1 day retention), config in .cache/state/config/prometheus.yml,
# log in .cache/state/logs/prometheus.log, PID in .cache/state/pids/prometheus. `start` is a no-op
# when it already runs; `stop` sends SIGTERM, then SIGKILL after 10 s. up.sh calls `start` once kwok
# runs, down.sh calls `stop`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PROMETHEUS_PORT=${ARGO_ECI_PROMETHEUS_PORT:-39090}
PROM_PID=$PIDS/prometheus
PROM_DATA=$STATE/prometheus

prom_bin() { command -v prometheus || echo /usr/bin/prometheus; }

# prom_pid: the recorded PID when that process is alive and runs Debian's prometheus binary.
prom_pid() {
	local pid exe
	[[ -f $PROM_PID ]] || return 1
	pid=$(<"$PROM_PID")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
	[[ ${exe% (deleted)} == "$(readlink -f "$(prom_bin)")" ]] || return 1
	echo "$pid"
}

prom_ready() { curl -fsS --max-time 2 "http://127.0.0.1:$PROMETHEUS_PORT/-/ready" >/dev/null 2>&1; }

install_prometheus() {
	command -v prometheus >/dev/null && command -v promtool >/dev/null && return
	say prometheus "installing Debian prometheus ..."
	local sudo=
	[[ $(id -u) == 0 ]] || sudo=sudo
	mkdir -p "$LOGS"
	{ $sudo apt-get update && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends prometheus; } \
		>"$LOGS/prometheus-apt.log" 2>&1 || { say prometheus "FAILED: apt-get install prometheus"; tail -n 20 "$LOGS/prometheus-apt.log"; exit 1; }
}

write_config() {
	mkdir -p "$CONF"
	cat >"$CONF/prometheus.yml" <<YAML
global:
  scrape_interval: 5s
  scrape_timeout: 4s
  evaluation_interval: 5s
scrape_configs:
- job_name: kubelet
  metrics_path: /metrics/nodes/$NODE_NAME/metrics/resource
  static_configs:
  - targets: ['127.0.0.1:$KWOK_PORT']
    labels: {node: $NODE_NAME}
YAML
}

start() {
	install_prometheus
	if prom_pid >/dev/null && prom_ready; then
		say prometheus "already running on 127.0.0.1:$PROMETHEUS_PORT"
		return
	fi
	write_config
	mkdir -p "$PIDS" "$LOGS" "$PROM_DATA"
	# The Debian package may start its own service on :9090; ours has its own port, data and config.
	setsid "$(prom_bin)" --config.file="$CONF/prometheus.yml" --storage.tsdb.path="$PROM_DATA" \
		--storage.tsdb.retention.time=1d --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" \
		--web.enable-lifecycle --log.level=warn </dev/null >"$LOGS/prometheus.log" 2>&1 9>&- &
	echo $! >"$PROM_PID"
	local deadline=$((SECONDS + 60))
	until prom_ready; do
		if ! prom_pid >/dev/null; then
			say prometheus "FAILED: exited"
			tail -n 40 "$LOGS/prometheus.log"
			exit 1
		fi
		if ((SECONDS >= deadline)); then
			say prometheus "FAILED: not ready after 60s"
			tail -n 40 "$LOGS/prometheus.log"
			exit 1
		fi
		sleep 0.5
	done
	say prometheus "ready on http://127.0.0.1:$PROMETHEUS_PORT (scraping kwok on 127.0.0.1:$KWOK_PORT every 5s)"
}

stop_prometheus() {
	local pid deadline
	pid=$(prom_pid) || { rm -f "$PROM_PID"; return 0; }
	kill -TERM "$pid" 2>/dev/null || true
	deadline=$((SECONDS + 10))
	while prom_pid >/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
	if prom_pid >/dev/null; then
		kill -KILL "$pid" 2>/dev/null || true
		say prometheus "killed (pid $pid did not stop within 10s of SIGTERM)"
	else
		say prometheus "stopped (pid $pid)"
	fi
	rm -f "$PROM_PID"
}

case ${1:-} in
start) start ;;
stop) stop_prometheus ;;
status)
	if prom_pid >/dev/null && prom_ready; then
		echo "prometheus: running on http://127.0.0.1:$PROMETHEUS_PORT (pid $(prom_pid))"
	else
		echo "prometheus: not running"
		exit 1
	fi
	;;
*)
	echo "usage: $0 start|stop|status" >&2
	exit 2
	;;
esac
