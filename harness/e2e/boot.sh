#!/usr/bin/env bash
# boot.sh BUILD_DIR - boot a real Debian 12 VM from our NoCloud seed: twice
# with cloud-init, once with the startup-script agent instead.
#
# 1. The guest image comes from boot-image.sh (built once into a cache
#    outside the repository, reused while unchanged).  Like a stock cloud
#    image it has no zstd, curl, wget, docker or podman.
# 2. Bake the fixture bundle with the defaults (runtime systemd: the image
#    flattened into a root filesystem) and --compress gzip; make a seed
#    with an extra cloud-config part holding power_state: poweroff (so the
#    multipart path goes through real cloud-init too).
# 3. Boot 1 on a throw-away qcow2 overlay: qemu exits when the guest powers
#    off.  The serial log must show "meshvm-join: joined" and no
#    DataSourceNone; debugfs then reads the disk: result.json without
#    errors, identity files with their owners and modes, the stored token
#    (root, 0600), status.json joined with boot count 1.
# 4. Boot 2 of the same disk: power_state runs once per instance, so we
#    power the guest off through the QEMU monitor (system_powerdown, every
#    ~10 s) once the console shows the join line and cloud-init's final
#    message.  The token must be back
#    under /var/run before istio started, nothing else may change, and
#    status.json says joined with boot count 2.
# 5. Boot 3, a fresh disk from the same image, with cloud-init disabled on
#    the kernel command line (cloud-init=disabled) and the image's stand-in
#    for Google's guest agent selected (meshvm.agent=startup-script): it
#    runs the seed's meshvm/startup-script, which writes and runs the join.
# In every boot the service answers on :3550 from its root filesystem
# (the stub sidecar checks it before it reports ready).
# Hard timeouts around every boot.  Logs stay in BUILD_DIR/boot/.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

build=$(cd "${1:?usage: boot.sh BUILD_DIR}" && pwd)
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
meshvm=$build/meshvm
boot_timeout=${MESHVM_BOOT_TIMEOUT:-420}
logs=$build/boot
t_start=$(date +%s)

for tool in qemu-system-x86_64 qemu-img debugfs python3; do
	command -v "$tool" >/dev/null || {
		echo "boot.sh: $tool is missing (scripts/lib.sh installs it)" >&2
		exit 1
	}
done

rm -rf "$logs"
mkdir -p "$logs"
work=$(mktemp -d "${TMPDIR:-/tmp}/meshvm-boot.XXXXXX")
# shellcheck source=qemu.sh
. "$src/harness/e2e/qemu.sh"
cleanup() {
	qemu_kill
	rm -rf "$work"
}
trap cleanup EXIT

failures=0
ok() { echo "ok   - $*"; }
bad() {
	echo "FAIL - $*"
	failures=$((failures + 1))
}
check() { # check DESCRIPTION COMMAND...
	local what=$1
	shift
	if "$@"; then ok "$what"; else bad "$what"; fi
}
die() {
	echo "boot.sh: $*" >&2
	exit 1
}

image=$(bash "$src/harness/e2e/boot-image.sh")
echo "# image: $image ($(($(date +%s) - t_start)) s)"

#--- inputs ----------------------------------------------------------------

"$meshvm" bake -f "$build/fixtures/bundle/bundle.yaml" -o "$work/bundle" \
	--compress gzip >"$logs/bake.log" 2>&1 || die "bake failed: $(cat "$logs/bake.log")"

b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
exp=$(($(date +%s) + 86400))
{
	printf '%s' '{"alg":"RS256","kid":"test"}' | b64url
	printf '.'
	printf '{"aud":["istio-ca"],"exp":%s,"iss":"https://kubernetes.default.svc","sub":"system:serviceaccount:default:default"}' "$exp" | b64url
	printf '.'
	printf 'not-a-real-signature' | b64url
	printf '\n'
} >"$work/token"
chmod 0600 "$work/token"

cat >"$work/extra.yaml" <<'EOF'
#cloud-config
# The boot test's own part: power off once cloud-init is done (first boot).
power_state:
  mode: poweroff
  message: meshvm boot test powering off
  timeout: 120
  condition: true
EOF

"$meshvm" cloudinit seed --bundle "$work/bundle" --token-file "$work/token" \
	-o "$work/seed.iso" --user-data-extra "$work/extra.yaml" \
	--instance-id meshvm-boot-test --hostname productcatalog-vm \
	--ready-timeout 240 >"$logs/seed.log" 2>&1 ||
	die "seed failed: $(cat "$logs/seed.log")"
pinned=$(sha256sum "$work/bundle" | cut -c1-64)

qemu-img create -q -f qcow2 -b "$image/disk.img" -F raw "$work/disk.qcow2"

#--- booting ---------------------------------------------------------------

# boot_look N: qemu_watch's look at boot N's console; with boot_power=1,
# power off (repeated every ~10 s) once it shows the join line and
# cloud-init's final message (boot_power=2: the join line alone, for the
# startup-script agent).
boot_look() {
	local n=$1 serial=$logs/serial$1.log
	if grep -qE 'DataSourceNone|not a valid seed' "$serial" 2>/dev/null; then
		qemu_kill
		die "boot $n: cloud-init found no seed (see $serial)"
	fi
	if grep -q 'meshvm-join: failed' "$serial" 2>/dev/null; then
		qemu_kill
		grep 'meshvm-join:' "$serial" >&2 || true
		die "boot $n: the join failed (see $serial)"
	fi
	# Power off once the join is reported and cloud-init has finished
	# (it rewrites result.json at the end of every boot).
	if { [ "$boot_power" = 1 ] && grep -q 'meshvm-join: joined' "$serial" 2>/dev/null &&
		grep -q 'meshvm: cloud-init .* finished' "$serial" 2>/dev/null; } ||
		{ [ "$boot_power" = 2 ] && grep -q 'meshvm-join: joined' "$serial" 2>/dev/null; }; then
		qemu_powerdown
	fi
}

# boot N POWER [CMDLINE]: start qemu (POWER: see boot_look); wait for it to
# exit, or fail after $boot_timeout seconds.
boot() {
	local n=$1 extra=${3:-}
	boot_power=$2
	qemu_start "$n" "$extra" -accel tcg \
		-drive "file=$work/seed.iso,media=cdrom,readonly=on" \
		-netdev user,id=n0,restrict=on -device virtio-net-pci,netdev=n0
	qemu_watch "$n" boot_look die
	echo "# boot $n: $(($(date +%s) - qemu_t0)) s from start to power-off"
	qemu-img convert -O raw "$work/disk.qcow2" "$work/disk$n.raw"
}

# Reading the guest's disk without mounting it.
dcat() { debugfs -R "cat $2" "$work/disk$1.raw" 2>/dev/null; }
dstat() { # dstat N PATH -> "MODE UID GID" (octal mode without type)
	debugfs -R "stat $2" "$work/disk$1.raw" 2>/dev/null | awk '
		/Mode:/ { for (i = 1; i <= NF; i++) if ($i == "Mode:") m = $(i + 1) }
		/^User:/ { u = $2; g = $4 }
		END { if (m != "") print m, u, g }'
}
uid_of() { dcat "$1" /etc/passwd | awk -F: -v u="$2" '$1 == u { print $3 }'; }
gid_of() { dcat "$1" /etc/group | awk -F: -v g="$2" '$1 == g { print $3 }'; }
json_get() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(json.dumps(d.get(sys.argv[1])) if not isinstance(d.get(sys.argv[1]), str) else d[sys.argv[1]])' "$1"; }

lacks() { ! grep -q -e "$2" "$1"; }
lacks_fixed() { ! grep -qF -e "$2" "$1"; }
# phases FILE: the join's phase lines, in order, on one line
phases() { grep -oE 'meshvm-join: (fetching|verifying|installing|starting|waiting|joined|failed)' "$1" | uniq | sed 's/meshvm-join: //' | tr '\n' ' '; }

# in_order FILE A B: the first line matching A comes before the first
# line matching B.
in_order() {
	local a b
	a=$(grep -n -m1 -e "$2" "$1" | cut -d: -f1)
	b=$(grep -n -m1 -e "$3" "$1" | cut -d: -f1)
	[ -n "$a" ] && [ -n "$b" ] && [ "$a" -lt "$b" ]
}

identity_files="/etc/certs/root-cert.pem /var/lib/istio/envoy/cluster.env /etc/istio/config/mesh"

check_disk() { # check_disk N [COUNT]: what every boot must leave on the disk
	local n=$1 count=${2:-$1} puid pgid st
	puid=$(uid_of "$n" istio-proxy)
	pgid=$(gid_of "$n" istio-proxy)
	check "boot $n: user istio-proxy exists (uid ${puid:-none})" [ -n "$puid" ]
	if [ "$count" = "$n" ]; then # the cloud-init boots
		dcat "$n" /var/lib/cloud/data/result.json >"$logs/result$n.json"
		check "boot $n: result.json from NoCloud" grep -q 'DataSourceNoCloud' "$logs/result$n.json"
		check "boot $n: result.json has no errors" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))["v1"]
sys.exit(0 if d["errors"] == [] else 1)' "$logs/result$n.json"
	fi
	for t in /usr/bin/zstd /usr/bin/curl /usr/bin/wget /usr/bin/docker /usr/bin/podman; do
		check "boot $n: the image has no $t" [ -z "$(dstat "$n" "$t")" ]
	done
	for f in $identity_files; do
		st=$(dstat "$n" "$f")
		check "boot $n: $f is 0644 istio-proxy:istio-proxy ($st)" \
			[ "$st" = "0644 $puid $pgid" ]
	done
	check "boot $n: root-cert.pem is the bundle's" \
		cmp -s <(dcat "$n" /etc/certs/root-cert.pem) "$build/fixtures/bundle/identity/root-cert.pem"
	check "boot $n: cluster.env is the bundle's" \
		cmp -s <(dcat "$n" /var/lib/istio/envoy/cluster.env) "$build/fixtures/bundle/identity/cluster.env"
	check "boot $n: mesh config is the bundle's" \
		cmp -s <(dcat "$n" /etc/istio/config/mesh) "$build/fixtures/bundle/identity/mesh.yaml"
	st=$(dstat "$n" /etc/istio/proxy)
	check "boot $n: /etc/istio/proxy owned by istio-proxy ($st)" [ "${st#* }" = "$puid $pgid" ]
	check "boot $n: /etc/hosts has the bundle's hosts exactly once" \
		[ "$(dcat "$n" /etc/hosts | grep -c 'istiod.istio-system.svc')" = 1 ]
	st=$(dstat "$n" /etc/meshvm/istio-token)
	check "boot $n: /etc/meshvm/istio-token is 0600 root:root ($st)" [ "$st" = "0600 0 0" ]
	check "boot $n: the stored token is the seed's" \
		cmp -s <(dcat "$n" /etc/meshvm/istio-token) <(tr -d '\n' <"$work/token")
	st=$(dstat "$n" /usr/local/sbin/meshvm-join)
	check "boot $n: the join script is 0700 root ($st)" [ "$st" = "0700 0 0" ]
	st=$(dstat "$n" /etc/systemd/system/productcatalog.service)
	check "boot $n: the bundle's unit is installed 0644 ($st)" [ "$st" = "0644 0 0" ]
	st=$(dstat "$n" /var/lib/meshvm/rootfs/productcatalogservice/app/productcatalogservice)
	check "boot $n: the service's root filesystem is in place ($st)" [ "$st" = "0755 0 0" ]
	dcat "$n" /etc/systemd/system/productcatalogservice.service >"$logs/unit$n.service"
	check "boot $n: the generated unit runs it from its root" \
		grep -q '^RootDirectory=/var/lib/meshvm/rootfs/productcatalogservice$' "$logs/unit$n.service"
	check "boot $n: the generated unit uses a dynamic user" grep -q '^DynamicUser=yes$' "$logs/unit$n.service"
	for u in productcatalogservice productcatalog istio meshvm-join; do
		check "boot $n: $u.service enabled" \
			[ -n "$(dstat "$n" "/etc/systemd/system/multi-user.target.wants/$u.service")" ]
	done
	dcat "$n" /var/lib/meshvm/status.json >"$logs/status$n.json"
	check "boot $n: status.json phase joined" [ "$(json_get phase <"$logs/status$n.json")" = joined ]
	check "boot $n: status.json boot_count $count" [ "$(json_get boot_count <"$logs/status$n.json")" = "$count" ]
	check "boot $n: status.json pins the bundle" [ "$(json_get bundle_sha256 <"$logs/status$n.json")" = "$pinned" ]
	check "boot $n: status.json token exp" [ "$(json_get token_exp <"$logs/status$n.json")" = "$exp" ]
	check "boot $n: status.json token not expired" [ "$(json_get token_expired <"$logs/status$n.json")" = false ]
	dcat "$n" /var/log/meshvm-join.log >"$logs/join$n.log"
	check "boot $n: the join log holds no token" lacks_fixed "$logs/join$n.log" "$(cut -d. -f2 "$work/token")"
}

# Boot 1 ---------------------------------------------------------------------
boot 1 0
s1=$logs/serial1.log
check "boot 1: console shows meshvm-join: joined" grep -q 'meshvm-join: joined' "$s1"
check "boot 1: no DataSourceNone" lacks "$s1" DataSourceNone
check "boot 1: phases in order ($(phases "$s1"))" \
	[ "$(phases "$s1")" = "fetching verifying installing starting waiting joined " ]
check "boot 1: istio started with the token in place" grep -q 'istio-stub: starting, token present' "$s1"
check "boot 1: cloud-init final_message" grep -q 'meshvm: cloud-init .* finished' "$s1"
check "boot 1: the service answers on :3550 (its unit)" grep -q 'productcatalog: :3550 answers' "$s1"
check "boot 1: the stub sidecar saw the service answer" grep -q 'istio-stub: the service answers on :3550' "$s1"
check_disk 1

# Boot 2 ---------------------------------------------------------------------
boot 2 1
s2=$logs/serial2.log
check "boot 2: console shows meshvm-join: joined" grep -q 'meshvm-join: joined' "$s2"
check "boot 2: no DataSourceNone" lacks "$s2" DataSourceNone
check "boot 2: cloud-init final_message" grep -q 'meshvm: cloud-init .* finished' "$s2"
check "boot 2: the join ran again before istio (starting, then the stub)" \
	in_order "$s2" 'meshvm-join: starting' 'istio-stub: starting'
check "boot 2: istio started with the token in place" grep -q 'istio-stub: starting, token present' "$s2"
check "boot 2: no 'token missing' report" lacks "$s2" 'token missing'
check_disk 2
boot2_log=$(awk 'f; /joined bundle .* boot 1$/ { f = 1 }' "$logs/join2.log")
printf '%s\n' "$boot2_log" >"$logs/join2-only.log"
check "boot 2: token reinstalled under /var/run" grep -q 'istio token installed in /var/run/secrets/tokens/istio-token' "$logs/join2-only.log"
check "boot 2: the token was installed before istio was started" \
	in_order "$logs/join2-only.log" 'istio token installed' 'starting productcatalogservice.service productcatalog.service istio.service'
check "boot 2: sidecar not reinstalled" grep -q 'already installed' "$logs/join2-only.log"
check "boot 2: identity untouched" grep -q 'identity files already in place' "$logs/join2-only.log"
check "boot 2: bundle not fetched again" grep -q 'bundle already here' "$logs/join2-only.log"
for f in $identity_files /etc/hosts /etc/meshvm/istio-token /etc/meshvm/join.conf \
	/etc/meshvm/bundle.sha256 /etc/systemd/system/productcatalog.service \
	/var/lib/meshvm/sidecar.sha256 /var/lib/meshvm/bundle; do
	check "boot 2: $f unchanged" cmp -s <(dcat 1 "$f"; dstat 1 "$f") <(dcat 2 "$f"; dstat 2 "$f")
done
check "boot 2: the service answers on :3550" grep -q 'istio-stub: the service answers on :3550' "$s2"

# Boot 3: the startup-script agent ---------------------------------------------
qemu-img create -q -f qcow2 -b "$image/disk.img" -F raw "$work/disk.qcow2.new"
mv -f "$work/disk.qcow2.new" "$work/disk.qcow2"
boot 3 2 'cloud-init=disabled meshvm.agent=startup-script'
s3=$logs/serial3.log
check "boot 3: the stand-in agent ran the startup-script" grep -q 'meshvm-guest-agent: running startup-script' "$s3"
check "boot 3: console shows meshvm-join: joined" grep -q 'meshvm-join: joined' "$s3"
check "boot 3: cloud-init did not run" [ -z "$(dstat 3 /var/lib/cloud/data/result.json)" ]
check "boot 3: phases in order ($(phases "$s3"))" \
	[ "$(phases "$s3")" = "fetching verifying installing starting waiting joined " ]
check "boot 3: join.conf written by the startup-script" \
	grep -q 'written by the startup-script' <(dcat 3 /etc/meshvm/join.conf)
check "boot 3: the stub sidecar saw the service answer" grep -q 'istio-stub: the service answers on :3550' "$s3"
check_disk 3 1

echo "# boot test: $(($(date +%s) - t_start)) s in all"
if [ "$failures" -ne 0 ]; then
	echo "boot.sh: $failures check(s) failed; logs in $logs" >&2
	exit 1
fi
echo "boot.sh: all checks passed"
