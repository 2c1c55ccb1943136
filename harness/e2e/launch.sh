#!/usr/bin/env bash
# harness/e2e/launch.sh - the real gcloud sees what the launch step made
# on `meshvm fake` (`meshvm init --example && meshvm up --until launch`,
# no other file): with vm.count 1 the instance (RUNNING, its label, its
# boot metadata keys, the token key present and the token nowhere in
# meshvm's files); with vm.count 3 (a second fake) the instance template,
# the managed instance group of 3 with autohealing on the health check,
# its members, the health check and the firewall rule for Google's
# health-check ranges.  Inside a private network namespace (lib.sh).
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
e2e_enter_netns "$@"
e2e_require gcloud python3 curl ip

bin=${MESHVM_BIN:-$here/../../build/meshvm}
export MESHVM_BIN=$bin
work=$(mktemp -d "${TMPDIR:-/tmp}/meshvm-e2e-launch.XXXXXX")
cleanup() {
	e2e_stop_fake || true
	rm -rf "$work"
}
trap cleanup EXIT
export PROJECT_ID=fake-project MESHVM_TIMING=fast
export GOOGLE_OAUTH_ACCESS_TOKEN=e2e-token KUBECACHEDIR=$work/kcache

# deploy NAME COUNT: a fresh fake and `up --until launch` in $work/NAME.
deploy() {
	mkdir "$work/$1"
	e2e_start_fake "$work/$1" --no-auth --listen 127.0.0.1:0 --op-polls 1
	export MESHVM_GOOGLE_ENDPOINT=$FAKE_URL
	e2e_gcloud_config "$work/$1"
	cd "$work/$1"
	check "$1: init --example" quiet "$bin" init --example
	if [ "$2" -gt 1 ]; then
		sed -i "s/^  name: istio-gce\$/  name: istio-gce\n  count: $2/" meshvm.yaml
	fi
	check "$1: up --until launch" quiet "$bin" up --until launch
}

# ---- one VM ----
deploy one 1
out=$(gcloud compute instances list 2>&1)
expect_in "$out" "istio-gce" "instances list shows istio-gce"
expect_in "$out" "us-central1-b" "in the seed's zone"
expect_in "$out" "RUNNING" "RUNNING"
desc=$(gcloud compute instances describe istio-gce --zone us-central1-b \
	--format=json)
expect_eq "$(jget 'd["labels"]["meshvm-id"][:3]' <<<"$desc")" "mv-" \
	"the instance carries the deployment id"
expect_eq "$(jget '",".join(sorted(i["key"] for i in d["metadata"]["items"]))' <<<"$desc")" \
	"enable-guest-attributes,meshvm-bundle-digest,meshvm-istio-token,user-data" \
	"boot metadata: user-data, the token key, guest attributes on, the digest"
expect_in "$(jget 'd["serviceAccounts"][0]["scopes"]' <<<"$desc")" \
	"devstorage.read_only" "the storage read scope"
token=$(jget '[i["value"] for i in d["metadata"]["items"] if i["key"] == "meshvm-istio-token"][0]' <<<"$desc")
if grep -rqF "$token" .meshvm meshvm.yaml; then
	fail "the token is in meshvm's files"
else
	ok "the token is only in the instance's metadata"
fi
e2e_stop_fake
cd "$work"

# ---- a fleet of 3 ----
deploy fleet 3
out=$(gcloud compute instance-templates list 2>&1)
expect_in "$out" "istio-gce-" "instance-templates list shows the template"
expect_eq "$(grep -c '^istio-gce-' <<<"$out")" 1 "one template"
out=$(gcloud compute instance-groups managed list 2>&1)
expect_in "$out" "istio-gce" "managed list shows the group"
out=$(gcloud compute instance-groups managed list \
	--format='value(name,targetSize)' 2>&1)
expect_eq "$out" "$(printf 'istio-gce\t3')" "the group's target size is 3"
out=$(gcloud compute instance-groups managed list-instances istio-gce \
	--zone us-central1-b 2>&1)
expect_eq "$(grep -c '^istio-gce-' <<<"$out")" 3 "list-instances: 3 members"
desc=$(gcloud compute instance-groups managed describe istio-gce \
	--zone us-central1-b --format=json)
expect_in "$(jget 'd["autoHealingPolicies"][0]["healthCheck"]' <<<"$desc")" \
	"healthChecks/istio-gce-autoheal" "autohealing on the health check"
expect_eq "$(jget 'd["status"]["isStable"]' <<<"$desc")" "true" \
	"the group is stable"
out=$(gcloud compute health-checks describe istio-gce-autoheal --format=json)
expect_eq "$(jget '[d["httpHealthCheck"]["port"], d["httpHealthCheck"]["requestPath"]]' <<<"$out")" \
	"[15021, \"/healthz/ready\"]" "the health check asks the sidecar's readiness"
out=$(gcloud compute firewall-rules describe istio-gce-health-checks \
	--format=json)
expect_eq "$(jget '" ".join(sorted(d["sourceRanges"]))' <<<"$out")" \
	"130.211.0.0/22 35.191.0.0/16" "Google's health-check ranges"
cd "$work"
check "the fake stops with 0 on SIGTERM" e2e_stop_fake
echo "launch e2e: $pass checks passed"
