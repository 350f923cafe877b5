#!/usr/bin/env bash
# build.sh builds the binaries of the local control plane into .cache/bin (git-ignored):
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kubelet
#                                                 (hack/tools/kube, k8s v1.33.13)
#   workflow-controller, argoexec                 (hack/tools/argo, argo v4.0.7; argoexec static)
#   kwok                                          (hack/tools/kwok, kwok v0.8.0)
#   argo-eci, pause, registry, playground         (this module, static: the kubelet node's images,
#                                                  make cluster-up's stand-ins)
# and installs what the control plane and the kubelet node need from Debian when it is missing:
# etcd-server, containerd, runc, containernetworking-plugins, iptables, busybox-static (one
# apt-get update, one apt-get install).
#
# A binary is rebuilt only when its stamp changes: a hash of its tools module's go.mod, go.sum and
# overlay files, the Go version and the link flags. A tools module may carry overlay/MODULE (a module
# path) and files under overlay/: they are copied over a copy of that module's source in .cache/src,
# which the build uses through a generated -modfile (Go refuses -overlay inside GOMODCACHE).
# Usage: build.sh [COMPONENT...] (default: all of them).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=$ROOT/.cache/bin
STAMPS=$BIN/.stamps
LOGS=$ROOT/.cache/logs/build
mkdir -p "$BIN" "$STAMPS" "$LOGS"
# One build at a time (tests in several packages may run build.sh at once).
exec 9>"$ROOT/.cache/build.lock"
flock -w 3600 9 || { echo "build: another build.sh held .cache/build.lock for an hour" >&2; exit 1; }
export GOFLAGS="${GOFLAGS:--buildvcs=false}"

KUBE_VERSION=v1.33.13
KUBE_LDFLAGS="-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=33"
PLAIN_LDFLAGS="-s -w"

# name | tools module | package | ldflags variable
COMPONENTS=(
	"kube-apiserver|kube|k8s.io/kubernetes/cmd/kube-apiserver|KUBE_LDFLAGS"
	"kube-controller-manager|kube|k8s.io/kubernetes/cmd/kube-controller-manager|KUBE_LDFLAGS"
	"kube-scheduler|kube|k8s.io/kubernetes/cmd/kube-scheduler|KUBE_LDFLAGS"
	"kubectl|kube|k8s.io/kubernetes/cmd/kubectl|KUBE_LDFLAGS"
	"kubelet|kube|k8s.io/kubernetes/cmd/kubelet|KUBE_LDFLAGS"
	"workflow-controller|argo|github.com/argoproj/argo-workflows/v4/cmd/workflow-controller|PLAIN_LDFLAGS"
	"argoexec|argo|github.com/argoproj/argo-workflows/v4/cmd/argoexec|PLAIN_LDFLAGS"
	"kwok|kwok|sigs.k8s.io/kwok/cmd/kwok|PLAIN_LDFLAGS"
)

say() { printf 'build: %-24s %s\n' "$1" "$2"; }

fail() { # component log message
	say "$1" "FAILED: $3"
	if [[ -s $2 ]]; then
		echo "---- last 40 lines of $2 ----"
		tail -n 40 "$2"
		echo "----"
	fi
	exit 1
}

stamp_of() { # module package ldflags
	local dir=$ROOT/hack/tools/$1
	{
		cat "$dir/go.mod" "$dir/go.sum"
		if [[ -d $dir/overlay ]]; then
			(cd "$dir/overlay" && find . -type f | LC_ALL=C sort | xargs sha256sum)
		fi
		go version
		echo "$2"
		echo "$3"
		# argoexec is built static (build_one).
		if [[ $2 == */argoexec ]]; then echo CGO_ENABLED=0; fi
	} | sha256sum | cut -d' ' -f1
}

patched_modfile() { # module: copies the overlaid module, prints a -modfile that points to the copy
	local dir=$ROOT/hack/tools/$1 target version src modfile
	target=$(cd "$dir" && go list -m -f '{{.Path}}' "$(<"$dir/overlay/MODULE")") || return 1
	version=$(cd "$dir" && go list -m -f '{{.Version}}' "$target") || return 1
	src=$ROOT/.cache/src/$1/${target//\//_}@$version
	rm -rf "$src"
	mkdir -p "$(dirname "$src")"
	cp -R "$(cd "$dir" && go list -m -f '{{.Dir}}' "$target")" "$src" || return 1
	chmod -R u+w "$src"
	(cd "$dir/overlay" && find . -type f -name '*.go' -print0 | xargs -0 -I{} cp {} "$src/{}") || return 1
	# overlay/EDITS: one "FILE SED-EXPRESSION" per line, applied to the copy; each must change its file.
	if [[ -f $dir/overlay/EDITS ]]; then
		local file expr
		while read -r file expr; do
			[[ -z $file || $file == \#* ]] && continue
			cp "$src/$file" "$src/$file.orig"
			sed -i -e "$expr" "$src/$file" || return 1
			if cmp -s "$src/$file" "$src/$file.orig"; then
				echo "overlay edit changed nothing: $file $expr" >&2
				return 1
			fi
			rm -f "$src/$file.orig"
		done <"$dir/overlay/EDITS"
	fi
	modfile=$ROOT/.cache/src/$1/go.mod
	{ cat "$dir/go.mod"; printf '\nreplace %s => %s\n' "$target" "$src"; } >"$modfile"
	cp "$dir/go.sum" "${modfile%.mod}.sum"
	echo "$modfile"
}

build_one() { # name module package ldflags-var
	local name=$1 module=$2 pkg=$3 ldflags=${!4}
	local log=$LOGS/$name.log stamp want start
	want=$(stamp_of "$module" "$pkg" "$ldflags")
	if [[ -x $BIN/$name && -f $STAMPS/$name ]] && [[ $(<"$STAMPS/$name") == "$want" ]]; then
		say "$name" "up to date"
		return
	fi
	say "$name" "building from hack/tools/$module ..."
	start=$SECONDS
	rm -f "$STAMPS/$name"
	local modfile=() mf
	if [[ -f $ROOT/hack/tools/$module/overlay/MODULE ]]; then
		mf=$(patched_modfile "$module" 2>"$log") || fail "$name" "$log" "patched copy for hack/tools/$module"
		modfile=(-modfile "$mf")
	fi
	local cgo=${CGO_ENABLED:-}
	# argoexec: emissary copies it into main containers, which may have no C library.
	[[ $name == argoexec ]] && cgo=0
	if ! (cd "$ROOT/hack/tools/$module" && CGO_ENABLED=$cgo go build "${modfile[@]}" -ldflags "$ldflags" -o "$BIN/.$name.tmp" "$pkg") >"$log" 2>&1; then
		rm -f "$BIN/.$name.tmp"
		fail "$name" "$log" "go build $pkg"
	fi
	mv -f "$BIN/.$name.tmp" "$BIN/$name"
	echo "$want" >"$STAMPS/$name"
	say "$name" "built in $((SECONDS - start))s"
}

# Debian packages: etcd for the control plane; containerd, runc, the CNI plugins, iptables and a
# static busybox for the kubelet node. One apt-get update and one install, only when one is missing.
DEBIAN_PACKAGES=(etcd-server containerd runc containernetworking-plugins iptables busybox-static prometheus)

missing_packages() {
	local p
	for p in "${DEBIAN_PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
	done
}

ensure_packages() {
	local log=$LOGS/apt.log missing
	missing=$(missing_packages | tr '\n' ' ')
	if [[ -z ${missing// /} ]]; then
		say debian "found ${DEBIAN_PACKAGES[*]}"
		return
	fi
	say debian "installing $missing..."
	local sudo=
	[[ $(id -u) == 0 ]] || sudo=sudo
	# shellcheck disable=SC2086 # word splitting of the package list is wanted
	if ! { $sudo apt-get update && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends $missing; } >"$log" 2>&1; then
		fail debian "$log" "apt-get install $missing"
	fi
	missing=$(missing_packages | tr '\n' ' ')
	[[ -z ${missing// /} ]] || fail debian "$log" "still missing after apt-get install: $missing"
	say debian "installed"
}

# build_local NAME PACKAGE: a static binary from this module. go build's own cache decides what
# to rebuild, so this runs every time (about a second when nothing changed).
build_local() {
	local name=$1 pkg=$2 log=$LOGS/$1.log start=$SECONDS
	if ! (cd "$ROOT" && CGO_ENABLED=0 go build -ldflags "$PLAIN_LDFLAGS" -o "$BIN/.$name.tmp" "$pkg") >"$log" 2>&1; then
		rm -f "$BIN/.$name.tmp"
		fail "$name" "$log" "go build $pkg"
	fi
	if cmp -s "$BIN/.$name.tmp" "$BIN/$name"; then
		rm -f "$BIN/.$name.tmp"
	else
		mv -f "$BIN/.$name.tmp" "$BIN/$name"
	fi
	say "$name" "current ($((SECONDS - start))s)"
}
LOCALS=("argo-eci|./cmd/argo-eci" "eci-simulator|./cmd/eci-simulator" "pause|./hack/cluster/pause" "registry|./hack/cluster/registry")
# Built only when named (playground.sh does): it links much of Argo and Fluid, which e2e runs do not need.
ON_REQUEST=("playground|./hack/cluster/playground")

want_component() { # name: true when selected on the command line (or nothing was selected)
	[[ ${#SELECTED[@]} == 0 ]] && return 0
	local s
	for s in "${SELECTED[@]}"; do [[ $s == "$1" ]] && return 0; done
	return 1
}

SELECTED=("$@")
known="debian"
for c in "${COMPONENTS[@]}" "${LOCALS[@]}" "${ON_REQUEST[@]}"; do known+=" ${c%%|*}"; done
for s in "${SELECTED[@]}"; do
	[[ " $known " == *" $s "* ]] || { echo "build: unknown component $s (known: $known)" >&2; exit 2; }
done

total=$SECONDS
want_component debian && ensure_packages
for c in "${COMPONENTS[@]}"; do
	IFS='|' read -r name module pkg ldvar <<<"$c"
	want_component "$name" && build_one "$name" "$module" "$pkg" "$ldvar"
done
for c in "${LOCALS[@]}"; do
	want_component "${c%%|*}" && build_local "${c%%|*}" "${c#*|}"
done
for c in "${ON_REQUEST[@]}"; do
	[[ " ${SELECTED[*]} " == *" ${c%%|*} "* ]] && build_local "${c%%|*}" "${c#*|}"
done
say all "done in $((SECONDS - total))s"
