#!/usr/bin/env bash
# boot-image.sh [CACHE_DIR] - build (or reuse) the Debian 12 guest image the
# boot test runs, and print the directory that holds it.
#
# One image for every boot test (boot.sh: NoCloud seed; gce-boot.sh: the
# GCE datasource against the fake), variants chosen on the kernel command
# line.  The image is built once per machine into a cache directory outside the
# repository (default ${XDG_CACHE_HOME:-$HOME/.cache}/meshvm/boot-image, or
# $MESHVM_BOOT_CACHE) and reused while this script is unchanged: the stamp
# is the script's own sha256.  The cache then holds:
#   disk.img     raw ext4 root filesystem (1 GiB, made with mke2fs -d)
#   vmlinuz      the guest kernel, booted directly with -kernel
#   initrd.img   its initramfs
#   debs/        debootstrap's package cache (--cache-dir), kept for rebuilds
#   stamp        sha256 of this script when the image was built
# Needs root (debootstrap), debootstrap, e2fsprogs, and Debian's registry.
# See shared/reference/cloud-init-boot.md for why each tweak is here.
set -euo pipefail

cache=${1:-${MESHVM_BOOT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/meshvm/boot-image}}
mirror=${MESHVM_DEBIAN_MIRROR:-http://deb.debian.org/debian}
stamp=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-64)

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9

if [ -f "$cache/stamp" ] && [ "$(cat "$cache/stamp")" = "$stamp" ] &&
	[ -f "$cache/disk.img" ] && [ -f "$cache/vmlinuz" ] &&
	[ -f "$cache/initrd.img" ]; then
	echo "$cache"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "boot-image.sh: debootstrap needs root" >&2
	exit 1
fi

start=$(date +%s)
rm -f "$cache/stamp" "$cache/disk.img" "$cache/vmlinuz" "$cache/initrd.img"
root=$cache/root
rm -rf "$root"
mkdir -p "$cache/debs" "$root"

# python3-cffi-backend: debootstrap does not resolve the virtual package
# python3-cryptography needs.  dbus: without it logind ignores ACPI
# power-off.  busybox: the fixture sidecar's readiness stub.  Like a stock
# cloud image, no zstd, curl, wget, docker or podman: the join makes do
# (gzip bundles, python3's urllib, runtime systemd).
pkgs=systemd-sysv,udev,dbus,cloud-init,python3-cffi-backend
pkgs=$pkgs,linux-image-cloud-amd64,ifupdown,iproute2,kmod,busybox
echo "boot-image.sh: debootstrap bookworm into $root" >&2
debootstrap --variant=minbase --include="$pkgs" \
	--cache-dir="$cache/debs" bookworm "$root" "$mirror" \
	>"$cache/debootstrap.log" 2>&1 || {
	tail -30 "$cache/debootstrap.log" >&2
	exit 1
}

# Image tweaks (each one measured, see the reference file).
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
printf '/dev/vda / ext4 rw 0 1\n' >"$root/etc/fstab"
printf 'LANG=C.UTF-8\n' >"$root/etc/default/locale"
printf 'meshvm-guest\n' >"$root/etc/hostname"
for t in apt-daily.timer apt-daily-upgrade.timer fstrim.timer e2scrub_all.timer; do
	rm -f "$root/etc/systemd/system/timers.target.wants/$t"
done
# Two datasources, no probing of others (each costs time): NoCloud (the
# boot test's seed) and GCE (gce-boot.sh: the fake's metadata server;
# the kernel command line says ci.ds=GCE and qemu's SMBIOS says "Google
# Compute Engine", as ds-identify and DataSourceGCE check on GCE).
printf 'datasource_list: [ NoCloud, GCE, None ]\n' \
	>"$root/etc/cloud/cloud.cfg.d/90-meshvm-datasource.cfg"
# As Google's images have it: the metadata server by name, no DNS needed.
cat >"$root/etc/hosts" <<'HOSTS'
127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
169.254.169.254	metadata.google.internal metadata
HOSTS
rm -rf "$root/var/cache/apt/archives"/*.deb "$root/var/lib/apt/lists"/*

# A stand-in for Google's guest agent, for the startup-script variant
# (kernel command line: cloud-init=disabled meshvm.agent=startup-script):
# like the agent, it runs the startup-script as root on every boot; here
# the script comes from the seed (meshvm/startup-script) instead of the
# metadata server.
cat >"$root/usr/local/sbin/meshvm-guest-agent" <<'AGENT'
#!/bin/sh
set -eu
dev=$(blkid -l -o device -t LABEL=cidata || blkid -l -o device -t LABEL=CIDATA)
mkdir -p /run/meshvm-agent
mount -o ro "$dev" /run/meshvm-agent
cp /run/meshvm-agent/meshvm/startup-script /run/meshvm-agent.sh
umount /run/meshvm-agent
echo "meshvm-guest-agent: running startup-script"
exec /bin/sh /run/meshvm-agent.sh
AGENT
chmod 0755 "$root/usr/local/sbin/meshvm-guest-agent"
cat >"$root/etc/systemd/system/meshvm-guest-agent.service" <<'UNIT'
[Unit]
Description=meshvm boot test: stand-in for the guest agent's startup-script runner
ConditionKernelCommandLine=meshvm.agent=startup-script
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/meshvm-guest-agent
StandardOutput=journal+console
StandardError=journal+console
TimeoutStartSec=20min

[Install]
WantedBy=multi-user.target
UNIT
ln -s /etc/systemd/system/meshvm-guest-agent.service \
	"$root/etc/systemd/system/multi-user.target.wants/meshvm-guest-agent.service"

# The newest kernel and initramfs (globs expand sorted).
for k in "$root"/boot/vmlinuz-*; do kernel=$k; done
for i in "$root"/boot/initrd.img-*; do initrd=$i; done
cp "$kernel" "$cache/vmlinuz"
cp "$initrd" "$cache/initrd.img"
mke2fs -q -F -t ext4 -d "$root" "$cache/disk.img" 1G >&2
rm -rf "$root"
echo "$stamp" >"$cache/stamp"
echo "boot-image.sh: image built in $(($(date +%s) - start)) s" >&2
echo "$cache"
