#!/usr/bin/env bash
# gce-boot.sh BUILD_DIR - a launched instance boots for real: the boot
# test's Debian 12 image under qemu reads its instance from `meshvm fake`'s
# metadata server through cloud-init's GCE datasource, fetches its bundle
# from the fake's Cloud Storage with the instance's service-account token,
# takes the Istio token from the metadata key meshvm-istio-token, and the
# fixture sidecar registers with the fake's simulated istiod: the
# WorkloadEntry turns Healthy (the real kubectl reads it).
#
# The network (all inside `unshare -n`: loopback only, nothing leaves):
#   qemu user networking, restrict=on, net=169.254.169.0/24 (so
#   169.254.169.254 is inside it, as on GCE; the guest is .15), and
#   guestfwd rules, each to a relay (relay.py) into the namespace:
#     169.254.169.254:80  -> the VM's own listener on the fake
#                            (POST /_fake/vms/NAME/listener): its metadata
#                            server at /computeMetadata/v1/, storage reads
#     LB_IP:15012         -> the simulated istiod on the east-west
#                            gateway's address; the fake's LB range is
#                            169.254.169.64/27, put on lo here so the
#                            fake can listen there, and the bundle's hosts
#                            line names that same address in the guest.
#   The image (boot-image.sh, the boot test's one cached image) has
#   metadata.google.internal in /etc/hosts and the GCE datasource enabled;
#   the kernel command line picks it (ci.ds=GCE) and qemu's SMBIOS says
#   product "Google Compute Engine", serial GoogleCloud-<id>.
#   The VM fetches gs:// through vm.storage_endpoint's user-data key
#   (`meshvm cloudinit userdata --storage-url`), here the metadata host.
#
# The instance is the one `meshvm up --until launch` made (vm.image
# debian-cloud/debian-12, vm.boot_agent cloud-init, vm.storage_endpoint
# the metadata host); boot 2 follows `meshvm launch --refresh-token`.
# KVM when a quick probe boots, else TCG (the log says which).  Hard
# timeouts everywhere.  Logs stay in BUILD_DIR/gce-boot/.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
build=$(cd "${1:?usage: gce-boot.sh BUILD_DIR}" && pwd)
e2e_enter_netns "$build"
e2e_require qemu-system-x86_64 qemu-img gcloud kubectl curl ip
[ -x /usr/bin/python3 ] || { echo "gce-boot.sh: /usr/bin/python3 is required" >&2; exit 1; }

t_start=$(date +%s)
bin=$build/meshvm
export MESHVM_BIN=$bin
boot_timeout=${MESHVM_BOOT_TIMEOUT:-900}
logs=$build/gce-boot
vm=istio-gce
zone=us-central1-b
lb_range=169.254.169.64/27
rm -rf "$logs"
mkdir -p "$logs"
work=$(mktemp -d "${TMPDIR:-/tmp}/meshvm-gce-boot.XXXXXX")
# shellcheck source=qemu.sh
. "$here/qemu.sh"
cleanup() {
	qemu_kill
	e2e_stop_fake || true
	rm -rf "$work"
}
trap cleanup EXIT
say() { echo "# $*"; }

image=$(bash "$here/boot-image.sh")
say "image: $image ($(($(date +%s) - t_start)) s)"

# The LB range on lo: the fake listens for istiod on the gateway's address.
ip addr add "$lb_range" dev lo
e2e_start_fake "$work" --lb-range "$lb_range" --op-polls 2
say "fake: $FAKE_URL"
export PROJECT_ID=meshvm-e2e MESHVM_GOOGLE_ENDPOINT=$FAKE_URL MESHVM_TIMING=fast
export KUBECACHEDIR=$work/kcache
# Auth stays on: the VM's storage read must carry its own token.
curl -sf -X POST "$FAKE_URL/_fake/token" | jget 'd["access_token"]' >"$work/access-token"
chmod 0600 "$work/access-token"
e2e_gcloud_config "$work"
gcloud config set core/project "$PROJECT_ID" >/dev/null 2>&1
gcloud config set auth/access_token_file "$work/access-token" >/dev/null 2>&1
gcloud config set auth/disable_credentials false >/dev/null 2>&1
mkdir "$work/run"
cd "$work/run"

#--- the instance: `meshvm up --until launch` makes it ------------------

kc() { # kubectl on cluster1 (the VM's home cluster)
	kubectl --kubeconfig .meshvm/kubeconfig \
		--context "gke_${PROJECT_ID}_us-west1-b_cluster1" "$@"
}
token_of() { # FILE: the instance's meshvm-istio-token (0600; never printed)
	(umask 077 && gcloud compute instances describe "$vm" --zone "$zone" \
		--format=json | jget '[i["value"] for i in d["metadata"]["items"]
	if i["key"] == "meshvm-istio-token"][0]' >"$1")
}

# The example deployment on the boot image's OS (Debian 12: gzip bundles),
# booted by cloud-init (Debian's default agent is startup-script), and the
# VM's storage reads through its listener on the metadata host.
"$bin" init --example >/dev/null
sed -i -e 's|^  image: .*ubuntu.*$|  image: projects/debian-cloud/global/images/family/debian-12|' \
	-e 's|^  boot_agent: auto$|  boot_agent: cloud-init\
  storage_endpoint: http://metadata.google.internal/storage/v1|' meshvm.yaml
if ! grep -q '^  storage_endpoint: ' meshvm.yaml || ! grep -q 'family/debian-12$' meshvm.yaml; then
	fail "meshvm.yaml: the example's vm.image/vm.boot_agent lines changed"
fi
"$bin" up --until launch --access-token-file "$work/access-token" \
	>"$logs/up.log" 2>&1 || { tail -20 "$logs/up.log" >&2; fail "up --until launch"; }
ok "up --until launch: bundle, deliver, launch"
# bucket, object and pinned digest: the deliver step's state record
read -r bucket object pinned < <(jget '" ".join([[r["bucket"], r["object"],
	r["digest"].removeprefix("sha256:")] for r in d["resources"].values()
	if r.get("kind") == "object"][0])' <.meshvm/state.json)
ok "the bundle is gs://$bucket/$object (sha256 ${pinned:0:12}...)"
token_of "$work/istio-token"
iid=$(gcloud compute instances describe "$vm" --zone "$zone" --format='value(id)')
check "the instance's user-data points the VM at the storage endpoint" \
	bash -c "gcloud compute instances describe $vm --zone $zone --format=json |
		grep -q 'MESHVM_STORAGE_URL=http://metadata.google.internal/storage/v1'"

#--- booting ----------------------------------------------------------------

listener=$(curl -sf -X POST "$FAKE_URL/_fake/vms/$vm/listener") ||
	fail "POST /_fake/vms/$vm/listener"
vm_port=${listener##*:}
vm_port=${vm_port%%[!0-9]*}
lb_ip=$(awk '/istiod.istio-system.svc/ { print $1; exit }' .meshvm/identity/hosts)
[ -n "$lb_ip" ] || fail "no istiod address in the identity hosts file"
curl -s -o /dev/null "http://$lb_ip:15012/" || fail "the fake does not listen on $lb_ip:15012"
ok "istiod on $lb_ip:15012, $vm's metadata on 127.0.0.1:$vm_port"

relay="/usr/bin/python3 $here/relay.py"
netdev="user,id=n0,restrict=on,net=169.254.169.0/24"
netdev="$netdev,guestfwd=tcp:169.254.169.254:80-cmd:$relay 127.0.0.1 $vm_port"
netdev="$netdev,guestfwd=tcp:$lb_ip:15012-cmd:$relay $lb_ip 15012"

# KVM when a quick probe boots the kernel, else TCG.
accel=tcg
if [ -w /dev/kvm ]; then
	timeout 20 qemu-system-x86_64 -accel kvm -m 256 -display none -no-reboot \
		-kernel "$image/vmlinuz" -append 'console=ttyS0 panic=-1 root=/dev/null' \
		-serial "file:$work/kvm-probe.log" >/dev/null 2>&1 || true
	if grep -q 'Kernel panic\|VFS' "$work/kvm-probe.log" 2>/dev/null; then accel=kvm; fi
fi
say "accelerator: $accel"

# boot_look N: qemu_watch's look at boot N's console: once it shows the
# join's end (joined and the sidecar stub's registration line, or failed)
# and cloud-init's final message (ours: "meshvm: cloud-init ... finished"),
# power off through the monitor.
boot_look() {
	local n=$1 serial=$logs/serial$1.log
	if grep -q 'DataSourceNone' "$serial" 2>/dev/null; then
		qemu_kill
		fail "boot $n: cloud-init found no datasource (see $serial)"
	fi
	if grep -qi 'cloud-init .* finished at' "$serial" 2>/dev/null &&
		{ grep -q 'meshvm-join: failed' "$serial" ||
			{ grep -q 'meshvm-join: joined' "$serial" &&
				grep -q 'istio-stub: registered\|istio-stub: not registered' "$serial"; }; }; then
		qemu_powerdown
	fi
}

# boot N: start qemu on the instance's disk, watched by boot_look; fail
# after $boot_timeout s.  Then the disk is readable (dcat/dstat N PATH).
boot() {
	local n=$1 serial=$logs/serial$1.log
	qemu_start "$n" ci.ds=GCE -accel "$accel" \
		-smbios "type=1,manufacturer=Google,product=Google Compute Engine,serial=GoogleCloud-$iid" \
		-netdev "$netdev" -device virtio-net-pci,netdev=n0
	qemu_watch "$n" boot_look fail
	say "boot $n ($accel): $(($(date +%s) - qemu_t0)) s from start to power-off"
	qemu-img convert -O raw "$work/disk.qcow2" "$work/disk$n.raw"
	grep -aiE 'meshvm-join:|istio-stub:|cloud-init .* finished' "$serial" |
		grep -v '^meshvm-join' >"$logs/key-lines$n.txt" || true
}

# Reading the guest's disk without mounting it.
dcat() { debugfs -R "cat $2" "$work/disk$1.raw" 2>/dev/null; }
dexists() { debugfs -R "stat $2" "$work/disk$1.raw" 2>&1 | grep -q '^Inode:'; }
lacks() { ! grep -q -e "$2" "$1"; }
# journal_vm: what the fake saw from the instance, through its listener
journal_vm() { curl -sf "$FAKE_URL/_fake/journal?listener=vm:$vm"; }
jcount() { journal_vm | grep -c "\"path\":\"$1\"" || true; }
bundle_gets() { journal_vm | grep -c "\"path\":\"/storage/v1/b/$bucket/o/${object//\//%2F}\".*\"status\":200" || true; }
entries() { # NAME HEALTHY lines of the WorkloadEntries (real kubectl)
	kc -n default get workloadentries -o \
		jsonpath='{range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Healthy")].status}{"\n"}{end}'
}
# istiod's name for it: <group>-<ip>-<network> (cluster.env's values,
# shell-quoted only where needed)
entry=productcatalogservice-169.254.169.15-$(sed -n 's/^ISTIO_META_NETWORK=//p' .meshvm/identity/cluster.env | tr -d "'\"")
iat_of() { # the iat claim of the JWT in FILE (not a secret)
	/usr/bin/python3 -c 'import base64, json, sys
p = open(sys.argv[1]).read().strip().split(".")[1]
print(json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))["iat"])' "$1"
}

# Boot 1 ---------------------------------------------------------------------
qemu-img create -q -f qcow2 -b "$image/disk.img" -F raw "$work/disk.qcow2"
boot 1
s1=$logs/serial1.log
check "boot 1: no NoCloud, no None on the console" lacks "$s1" 'DataSourceNoCloud\|DataSourceNone'
dcat 1 /var/lib/cloud/data/result.json >"$logs/result1.json"
dcat 1 /var/log/cloud-init.log >"$logs/cloud-init1.log"
check "boot 1: cloud-init.log: the GCE datasource crawled the metadata server" \
	grep -q 'Crawl of GCE metadata service' "$logs/cloud-init1.log"
check "boot 1: cloud-init.log: datasource DataSourceGCE" \
	grep -q 'found local data from DataSourceGCE\|found network data from DataSourceGCE' "$logs/cloud-init1.log"
check "boot 1: result.json: datasource GCE, no errors" /usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))["v1"]
sys.exit(0 if d["datasource"].startswith("DataSourceGCE") and d["errors"] == [] else 1)' "$logs/result1.json"
check "boot 1: console shows meshvm-join: joined" grep -q 'meshvm-join: joined' "$s1"
check "boot 1: istio started with the token in place" grep -q 'istio-stub: starting, token present' "$s1"
iat1=$(iat_of "$work/istio-token")
check "boot 1: the stub registered with istiod, token iat $iat1" \
	grep -q "istio-stub: registered with istiod .* WorkloadEntry default/$entry, healthy (token iat $iat1)" "$s1"
dcat 1 /var/lib/meshvm/status.json >"$logs/status1.json"
expect_eq "$(jget 'd["phase"]' <"$logs/status1.json")" joined "boot 1: status.json phase joined"
expect_eq "$(jget 'd["bundle_sha256"]' <"$logs/status1.json")" "$pinned" "boot 1: status.json pins the bundle"
check "journal: cloud-init read instance/attributes/ (recursive)" \
	[ "$(jcount "/vm/$vm/computeMetadata/v1/instance/attributes/")" -ge 1 ]
check "journal: cloud-init read project/attributes/" \
	[ "$(jcount "/vm/$vm/computeMetadata/v1/project/attributes/")" -ge 1 ]
check "journal: the join read meshvm-istio-token" \
	[ "$(jcount "/vm/$vm/computeMetadata/v1/instance/attributes/meshvm-istio-token")" -ge 1 ]
check "journal: the join asked for the service-account token" \
	[ "$(jcount "/vm/$vm/computeMetadata/v1/instance/service-accounts/default/token")" -ge 1 ]
expect_eq "$(bundle_gets)" 1 "journal: that instance downloaded the bundle once, with its token (auth on)"
entries >"$logs/entries1.txt"
check "kubectl: WorkloadEntry $entry is Healthy=True" grep -qx "$entry True" "$logs/entries1.txt"

if [ "${MESHVM_GCE_BOOT_FULL:-0}" = 1 ]; then
	# Boot 2: `meshvm launch --refresh-token` writes a fresh token to the
	# metadata, then a reboot of the same disk.
	sleep 2 # a new second: a new iat
	quiet "$bin" launch --refresh-token --access-token-file "$work/access-token" ||
		fail "meshvm launch --refresh-token"
	token_of "$work/istio-token2"
	iat2=$(iat_of "$work/istio-token2")
	check "a new token (iat $iat1 -> $iat2)" [ "$iat2" != "$iat1" ]
	boot 2
	s2=$logs/serial2.log
	check "boot 2: console shows meshvm-join: joined" grep -q 'meshvm-join: joined' "$s2"
	check "boot 2: istiod was shown the new token (iat $iat2)" \
		grep -q "istio-stub: registered with istiod .* WorkloadEntry default/$entry, healthy (token iat $iat2)" "$s2"
	expect_eq "$(bundle_gets)" 1 "boot 2: the bundle was not downloaded again"
	entries >"$logs/entries2.txt"
	check "kubectl: $entry Healthy=True again" grep -qx "$entry True" "$logs/entries2.txt"
	dcat 2 /var/lib/meshvm/status.json >"$logs/status2.json"
	expect_eq "$(jget 'd["boot_count"]' <"$logs/status2.json")" 2 "boot 2: status.json boot_count 2"

	# Boot 3: the object replaced by other bytes; a fresh disk must fail
	# closed on the pinned digest.
	cat .meshvm/bundle/bundle.tar.* >"$work/other.bundle"
	printf 'other bytes\n' >>"$work/other.bundle"
	auth=(-H "Authorization: Bearer $(cat "$work/access-token")")
	curl -sf "${auth[@]}" --data-binary @"$work/other.bundle" \
		"$FAKE_URL/upload/storage/v1/b/$bucket/o?uploadType=media&name=${object//\//%2F}" \
		>/dev/null || fail "replace the object"
	qemu-img create -q -f qcow2 -b "$image/disk.img" -F raw "$work/disk.qcow2.new"
	mv -f "$work/disk.qcow2.new" "$work/disk.qcow2"
	boot 3
	s3=$logs/serial3.log
	check "boot 3: the join failed on the digest" grep -q 'meshvm-join: failed.*digest mismatch' "$s3"
	check "boot 3: no sidecar started" lacks "$s3" 'istio-stub:'
	check "boot 3: no sidecar installed" bash -c "! debugfs -R 'stat /lib/systemd/system/istio.service' '$work/disk3.raw' 2>&1 | grep -q '^Inode:'"
	dcat 3 /var/lib/meshvm/status.json >"$logs/status3.json"
	expect_eq "$(jget 'd["phase"]' <"$logs/status3.json")" failed "boot 3: status.json phase failed"
	expect_in "$(jget 'd["error"]' <"$logs/status3.json")" "digest mismatch" "boot 3: status.json names the digest"
fi

say "gce-boot: $(($(date +%s) - t_start)) s in all ($accel, bundle $pinned)"
echo "gce-boot.sh: ok ($pass checks)"
