# scripts/lib.sh - shared by scripts/main.sh, scripts/test.sh and .ci/run.
# Installs what is missing (Debian 12), configures and builds build/.
# shellcheck shell=bash

# Build and test dependencies, all from Debian's registry.
# shellcheck disable=SC2034  # used by the scripts that source this file
MESHVM_PACKAGES="build-essential cmake pkg-config libcurl4-openssl-dev
libjansson-dev libyaml-dev libarchive-dev libssl-dev libzstd-dev
libmicrohttpd-dev libcmocka-dev openssl dpkg-dev zstd libarchive-tools
busybox python3 util-linux iproute2 curl
debootstrap qemu-system-x86 qemu-utils e2fsprogs cloud-init shellcheck
prometheus"

meshvm_root() {
	cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd
}

# ensure_packages PKG...: apt-get install the ones not installed yet.
ensure_packages() {
	local missing="" p
	for p in "$@"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
			grep -q '^install ok installed$' || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	local sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	echo "meshvm: installing$missing" >&2
	$sudo apt-get update -qq
	# shellcheck disable=SC2086  # a list of package names
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
		--no-install-recommends $missing >/dev/null
}

# meshvm_build [BUILD_DIR] [cmake args...]: configure once, build always.
meshvm_build() {
	local dir=${1:-build}
	shift || true
	if [ ! -f "$dir/CMakeCache.txt" ] || [ $# -gt 0 ]; then
		cmake -S . -B "$dir" "$@" >/dev/null
	fi
	cmake --build "$dir" -j"$(nproc)"
}
