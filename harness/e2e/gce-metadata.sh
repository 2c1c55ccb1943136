#!/usr/bin/env bash
# harness/e2e/gce-metadata.sh - cloud-init's own GCE datasource reader
# (cloudinit.sources.DataSourceGCE.read_md from Debian's cloud-init, the
# code a booted image runs) against the fake's metadata server, for an
# instance the real gcloud made: through the /vm/NAME/ path and through
# the VM's own listener (POST /_fake/vms/NAME/listener) that
# harness/e2e/gce-boot.sh forwards a real guest to.  The fast check
# before a boot.  Inside a private network namespace (lib.sh).
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
e2e_enter_netns "$@"
e2e_require gcloud curl
if ! /usr/bin/python3 -c 'import cloudinit.sources.DataSourceGCE' 2>/dev/null; then
	echo "gce-metadata.sh: Debian's cloud-init (/usr/bin/python3) is required" >&2
	exit 1
fi

export MESHVM_BIN=${MESHVM_BIN:-$here/../../build/meshvm}
work=$(mktemp -d "${TMPDIR:-/tmp}/meshvm-e2e-gcemd.XXXXXX")
cleanup() {
	e2e_stop_fake || true
	rm -rf "$work"
}
trap cleanup EXIT

e2e_start_fake "$work" --no-auth
e2e_gcloud_config "$work"
readmd() { /usr/bin/python3 "$here/gce-read-md.py" "$1"; }

printf '#cloud-config\n# caf\xc3\xa9 "q"\nruncmd:\n  - [sh, -c, "echo hi"]\n' >"$work/user-data"
printf 'tok.en' >"$work/token"
for vm in vm1 vm2; do
	quiet gcloud compute instances create "$vm" --zone us-central1-b \
		--metadata-from-file "user-data=$work/user-data,meshvm-istio-token=$work/token" ||
		fail "gcloud compute instances create $vm"
done
id=$(gcloud compute instances describe vm1 --zone us-central1-b --format='value(id)')

check_readmd() { # check_readmd LABEL URL
	local out
	out=$(readmd "$2") || fail "$1: read_md raised: $out"
	expect_eq "$(jget 'd["success"]' <<<"$out")" true "$1: read_md succeeds"
	expect_eq "$(jget 'd["meta-data"]["instance-id"]' <<<"$out")" "$id" "$1: instance-id"
	expect_eq "$(jget 'd["meta-data"]["availability-zone"]' <<<"$out")" \
		us-central1-b "$1: availability-zone"
	expect_eq "$(jget 'd["meta-data"]["local-hostname"]' <<<"$out")" \
		vm1.us-central1-b.c.fake-project.internal "$1: local-hostname"
	expect_eq "$(jget 'json.loads(d["meta-data"]["project-data"])' <<<"$out")" \
		'{}' "$1: project/attributes/?recursive=True is JSON"
	expect_eq "$(jget 'json.loads(d["meta-data"]["instance-data"])["meshvm-istio-token"]' <<<"$out")" \
		tok.en "$1: instance/attributes/?recursive=True holds every key"
	jget 'd["user-data"]' <<<"$out" >"$work/ud.got"
	check "$1: user-data byte for byte" cmp -s <(cat "$work/user-data"; echo) "$work/ud.got"
}

check_readmd "/vm/vm1 path" "$FAKE_URL/vm/vm1/computeMetadata/v1/"

# The VM's own listener, as a booted guest sees it.
vl=$(curl -sf -X POST "$FAKE_URL/_fake/vms/vm1/listener") || fail "POST /_fake/vms/vm1/listener"
url=$(jget 'd["url"]' <<<"$vl")
expect_eq "$(jget 'd["metadata_url"]' <<<"$vl")" "$url/computeMetadata/v1" "the listener's metadata_url"
expect_eq "$(curl -sf -X POST "$FAKE_URL/_fake/vms/vm1/listener")" "$vl" "a second POST finds the same listener"
check_readmd "vm1's listener" "$url/computeMetadata/v1/"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$FAKE_URL/_fake/vms/nope/listener")" \
	404 "no listener for an instance that does not exist"

md=$url/computeMetadata/v1
mget() { curl -sf -H 'Metadata-Flavor: Google' "$md/$1"; }
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "$md/instance/id")" 403 \
	"Metadata-Flavor: Google is required"
expect_in "$(curl -s -D - -o /dev/null -H 'Metadata-Flavor: Google' "$md/instance/id")" \
	"Metadata-Flavor: Google" "Metadata-Flavor is echoed"
expect_eq "$(mget instance/attributes/meshvm-istio-token)" tok.en "a key as text"
expect_eq "$(mget instance/attributes/ | sort | tr '\n' ' ')" \
	"meshvm-istio-token user-data " "instance/attributes/ lists the keys"
expect_in "$(mget 'instance/?recursive=true')" '"networkInterfaces":' \
	"instance/?recursive=true: camelCase names"
expect_in "$(mget instance/)" "network-interfaces/" "instance/ lists subdirectories"
ip=$(gcloud compute instances describe vm1 --zone us-central1-b \
	--format='value(networkInterfaces[0].networkIP)')
expect_eq "$(mget instance/network-interfaces/0/ip)" "$ip" "network-interfaces/0/ip"
expect_eq "$(mget project/project-id)" fake-project "project/project-id"
expect_in "$(mget instance/service-accounts/default/token)" '"access_token"' \
	"a service-account token"
expect_eq "$(mget instance/service-accounts/default/aliases)" default "service-accounts/default/aliases"
check "guest attributes through the listener" quiet curl -sf -X PUT \
	-H 'Metadata-Flavor: Google' --data-binary joined "$md/instance/guest-attributes/meshvm/phase"
out=$(gcloud compute instances get-guest-attributes vm1 --zone us-central1-b \
	--query-path meshvm/ 2>&1) || fail "get-guest-attributes: $out"
expect_in "$out" "phase  joined" "the attribute landed on vm1"

# What the guest cannot reach through its listener.
for p in /_fake/state /vm/vm2/computeMetadata/v1/instance/id \
	/compute/v1/projects/fake-project/zones/us-central1-b/instances; do
	expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -H 'Metadata-Flavor: Google' "$url$p")" \
		404 "the VM listener refuses $p"
done
# Storage reads work there (the bundle download).
curl -sf -X POST -H 'Content-Type: application/json' -d '{"name":"bkt"}' \
	"$FAKE_URL/storage/v1/b?project=fake-project" >/dev/null || fail "bucket insert"
curl -sf -X POST --data-binary @"$work/user-data" \
	"$FAKE_URL/upload/storage/v1/b/bkt/o?uploadType=media&name=dir%2Fobj" >/dev/null ||
	fail "object upload"
check "the VM listener serves ?alt=media" cmp -s "$work/user-data" \
	<(curl -sf "$url/storage/v1/b/bkt/o/dir%2Fobj?alt=media")
expect_in "$(curl -sf "$FAKE_URL/_fake/journal?listener=vm:vm1")" '"/vm/vm1/computeMetadata/v1/instance/id"' \
	"the journal names the VM's listener"
echo "gce-metadata.sh: ok ($pass checks)"
