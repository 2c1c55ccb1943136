#!/bin/sh
# join-shim.sh - a recording stand-in for the commands the join script
# calls, so test_join can run cloudinit/join.sh without root.  The test
# links it under each command's name (dpkg, rpm, systemctl, systemd-run,
# docker, podman, ctr, chown, curl, mount, blkid) in a directory put first
# on PATH.  Every call is appended to $SHIM_LOG as one line, with
# $MESHVM_ROOT shown as <ROOT>; then the shim does the least that keeps
# the script going:
#   dpkg -i / rpm -i   like the sidecar's postinst: adds user istio-proxy
#                      to <ROOT>/etc/passwd (SHIM_DPKG_FAIL=1: fail)
#   systemctl          remembers enable in <ROOT>/.shim/enabled/NAME so
#                      is-enabled answers; is-failed is true only for
#                      $SHIM_FAILED_UNIT; everything else succeeds
#   mount -o ro DEV D  copies $SHIM_SEED_DIR into D (the "mounted" seed)
#   blkid              prints /dev/sr0 when $SHIM_SEED_DIR is set
#   curl               the readiness URL answers (after $SHIM_READY_AFTER
#                      failed tries); metadata token key → $SHIM_MD_TOKEN;
#                      service-account token → a fixed JSON; storage →
#                      $SHIM_BUNDLE; anything else fails like curl (22)
#   df -P DIR          $SHIM_DF_AVAIL KiB available (the free-space check)
#   curl -X PUT .../guest-attributes/NS/KEY  (the join's phase reports)
#                      not in $SHIM_LOG: "NS/KEY=value" lines go to
#                      <ROOT>/.shim/guest-attributes ($SHIM_GA_FAIL=1: fail)
set -eu

name=$(basename "$0")
root=${MESHVM_ROOT:?}
args=$*
case $name:$args in
curl:*-X\ PUT*/guest-attributes/*)
	[ "${SHIM_GA_FAIL:-0}" = 1 ] && exit 7
	for a in "$@"; do :; done
	mkdir -p "$root/.shim"
	printf '%s=%s\n' "${a#*/guest-attributes/}" "$(cat)" >>"$root/.shim/guest-attributes"
	exit 0
	;;
esac
printf '%s\n' "$name${args:+ $args}" |
	sed -e "s|$root|<ROOT>|g" -e 's|/tmp\.[A-Za-z0-9]*|/tmp.X|g' >>"${SHIM_LOG:?}"

case $name in
dpkg | rpm)
	[ "${SHIM_DPKG_FAIL:-0}" = 1 ] && exit 1
	grep -q '^istio-proxy:' "$root/etc/passwd" 2>/dev/null ||
		echo 'istio-proxy:x:998:998::/var/lib/istio:/usr/sbin/nologin' \
			>>"$root/etc/passwd"
	;;
systemctl)
	mkdir -p "$root/.shim/enabled"
	case $1 in
	is-enabled)
		shift
		[ "$1" = --quiet ] && shift
		[ -e "$root/.shim/enabled/$1" ]
		;;
	is-failed)
		shift
		[ "$1" = --quiet ] && shift
		[ "$1" = "${SHIM_FAILED_UNIT:-}" ]
		;;
	enable)
		shift
		[ "$1" = --quiet ] && shift
		: >"$root/.shim/enabled/$1"
		;;
	esac
	;;
mount)
	# mount -o ro DEV DIR
	[ -n "${SHIM_SEED_DIR:-}" ] || exit 32
	for dir in "$@"; do :; done
	cp -R "$SHIM_SEED_DIR/." "$dir/"
	;;
blkid)
	[ -n "${SHIM_SEED_DIR:-}" ] || exit 2
	echo /dev/sr0
	;;
df)
	printf 'Filesystem 1024-blocks Used Available Capacity Mounted on\n'
	printf '/dev/vda 1000000 0 %s 1%% /\n' "${SHIM_DF_AVAIL:?}"
	;;
curl)
	out=
	url=
	while [ $# -gt 0 ]; do
		case $1 in
		-o)
			out=$2
			shift
			;;
		-H | --max-time | --connect-timeout | --retry) shift ;;
		-*) ;;
		*) url=$1 ;;
		esac
		shift
	done
	case $url in
	*/healthz/ready)
		n=$(cat "$root/.shim/ready-tries" 2>/dev/null || echo 0)
		n=$((n + 1))
		mkdir -p "$root/.shim"
		echo "$n" >"$root/.shim/ready-tries"
		[ "$n" -gt "${SHIM_READY_AFTER:-0}" ] || exit 7
		;;
	*/instance/attributes/meshvm-istio-token)
		[ -n "${SHIM_MD_TOKEN:-}" ] || exit 22
		cp "$SHIM_MD_TOKEN" "$out"
		;;
	*/instance/service-accounts/default/token)
		printf '{"access_token":"ya29.shim-access-token","expires_in":3599,"token_type":"Bearer"}' >"$out"
		;;
	*alt=media | https://*)
		[ -n "${SHIM_BUNDLE:-}" ] || exit 22
		cp "$SHIM_BUNDLE" "$out"
		;;
	*) exit 22 ;;
	esac
	;;
esac
exit 0
