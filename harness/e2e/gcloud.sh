#!/usr/bin/env bash
# harness/e2e/gcloud.sh - the real gcloud (528) against `meshvm fake`,
# with nothing changed but endpoint settings, inside a private network
# namespace.  The seed's commands must exit 0 and print what Google would
# print; the error paths (not found, 429 retried, 503 reported) too; the
# fake's state and journal must agree.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
e2e_enter_netns "$@"
e2e_require gcloud python3 curl ip

work=$(mktemp -d "${TMPDIR:-/tmp}/meshvm-e2e-gcloud.XXXXXX")
cleanup() {
	e2e_stop_fake || true
	rm -rf "$work"
}
trap cleanup EXIT

e2e_start_fake "$work" --no-auth --op-polls 1
e2e_gcloud_config "$work"
state() { curl -sf "$FAKE_URL/_fake/state"; }

# ---- clusters ----
out=$(gcloud container clusters create cluster1 --zone us-west1-b \
	--num-nodes 4 --machine-type n1-standard-4 --quiet 2>&1)
expect_in "$out" "cluster1  us-west1-b  1.32.4-gke.1106006" "create cluster1"
expect_in "$out" "n1-standard-4" "create cluster1 prints the machine type"
expect_in "$out" "kubeconfig entry generated for cluster1" \
	"create writes the kubeconfig entry"
out=$(gcloud container clusters create cluster2 --zone us-east1-b \
	--num-nodes 4 --machine-type n1-standard-4 --quiet 2>&1)
expect_in "$out" "RUNNING" "create cluster2"

out=$(gcloud container clusters list 2>&1)
expect_in "$out" "cluster1  us-west1-b" "list shows cluster1"
expect_in "$out" "cluster2  us-east1-b" "list shows cluster2"
expect_eq "$(grep -c RUNNING <<<"$out")" 2 "both clusters RUNNING"
expect_eq "$(awk '$1 == "cluster1" {print $7}' <<<"$out")" 4 \
	"cluster1 has 4 nodes"

pods=$(gcloud container clusters describe cluster1 --zone us-west1-b \
	--format='value(clusterIpv4Cidr)')
[[ $pods =~ ^10\.[0-9]+\.0\.0/14$ ]] || fail "clusterIpv4Cidr '$pods'"
want=$(state | jget 'd["clusters"]["fake-project/us-west1-b/cluster1"]["clusterIpv4Cidr"]')
expect_eq "$pods" "$want" "describe reads clusterIpv4Cidr $pods"
pods2=$(gcloud container clusters describe cluster2 --zone us-east1-b \
	--format='value(clusterIpv4Cidr)')
check "the clusters' pod ranges differ" [ "$pods" != "$pods2" ]

rm -f "$KUBECONFIG"
out=$(gcloud container clusters get-credentials cluster1 --zone us-west1-b 2>&1)
expect_in "$out" "kubeconfig entry generated for cluster1" "get-credentials"
endpoint=$(state | jget 'd["clusters"]["fake-project/us-west1-b/cluster1"]["endpoint"]')
expect_in "$(cat "$KUBECONFIG")" "server: https://$endpoint" \
	"kubeconfig server is https://$endpoint"
expect_in "$(cat "$KUBECONFIG")" "gke_fake-project_us-west1-b_cluster1" \
	"kubeconfig context"

# ---- the VM ----
# shellcheck disable=SC2016 # $HOME is data here
printf '#cloud-config\n# caf\xc3\xa9 "quoted" \\back\\slash\ttab\nruncmd:\n  - [sh, -c, "echo $HOME > /tmp/x"]\n\n' \
	>"$work/user-data"
out=$(gcloud compute instances create istio-gce --zone us-central1-b \
	--metadata-from-file "user-data=$work/user-data" --tags istio-gce 2>&1)
expect_in "$out" "istio-gce  us-central1-b" "instances create"
expect_in "$out" "RUNNING" "the instance is RUNNING"
ip=$(gcloud compute instances describe istio-gce --zone us-central1-b \
	--format='value(networkInterfaces[0].networkIP)')
[[ $ip =~ ^10\.128\. ]] || fail "networkIP $ip not in 10.128.0.0/20"
ok "networkIP $ip in us-central1's subnet"

out=$(gcloud compute firewall-rules create allow-mesh --network default \
	--allow tcp,udp,icmp --source-ranges "$pods" --target-tags istio-gce 2>&1)
expect_in "$out" "allow-mesh  default  INGRESS    1000" "firewall-rules create"
got=$(gcloud compute firewall-rules describe allow-mesh \
	--format='value(sourceRanges)')
expect_eq "$got" "$pods" "the firewall admits $pods"

gcloud compute instances describe istio-gce --zone us-central1-b \
	--format=json | python3 -c '
import json, sys
d = json.load(sys.stdin)
v = [i["value"] for i in d["metadata"]["items"] if i["key"] == "user-data"]
sys.stdout.buffer.write(v[0].encode())' >"$work/user-data.back"
check "user-data round-trips byte for byte" \
	cmp "$work/user-data" "$work/user-data.back"
out=$(gcloud compute instances list 2>&1)
expect_in "$out" "istio-gce  us-central1-b" "instances list"
check "add-metadata (setMetadata with the fingerprint)" quiet gcloud compute \
	instances add-metadata istio-gce --zone us-central1-b \
	--metadata istio-token=t0k3n
# What the VM sees: the metadata server, user-data byte for byte.
md="$FAKE_URL/vm/istio-gce/computeMetadata/v1/instance"
curl -sf -H 'Metadata-Flavor: Google' "$md/attributes/user-data" \
	-o "$work/user-data.md"
check "the metadata server serves user-data byte for byte" \
	cmp "$work/user-data" "$work/user-data.md"
# What the VM reports: guest attributes and its serial console.
curl -sf -X PUT -H 'Metadata-Flavor: Google' --data-binary 'joined' \
	"$md/guest-attributes/meshvm/phase" || fail "PUT a guest attribute"
curl -sf -X POST --data-binary $'meshvm: join done\n' \
	"$FAKE_URL/vm/istio-gce/serialPort/1" || fail "append to the console"
out=$(gcloud compute instances get-guest-attributes istio-gce \
	--zone us-central1-b --query-path meshvm/ 2>&1) || fail "get-guest-attributes: $out"
expect_in "$out" "meshvm     phase  joined" "get-guest-attributes"
out=$(gcloud compute instances get-serial-port-output istio-gce \
	--zone us-central1-b 2>&1) || fail "get-serial-port-output: $out"
expect_in "$out" "meshvm: join done" "get-serial-port-output"
expect_eq "$(curl -sf -H 'Metadata-Flavor: Google' "$md/attributes/istio-token")" \
	t0k3n "the metadata server has the added key"
expect_eq "$(curl -sf -H 'Metadata-Flavor: Google' "$md/network-interfaces/0/ip")" \
	"$ip" "the metadata server's IP is the instance's networkIP"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "$md/hostname")" 403 \
	"the metadata server wants Metadata-Flavor: Google"

# ---- template + managed group of 3 ----
out=$(gcloud compute instance-templates create istio-tmpl \
	--machine-type n1-standard-2 --tags istio-gce \
	--metadata-from-file "user-data=$work/user-data" 2>&1)
expect_in "$out" "istio-tmpl  n1-standard-2" "instance-templates create"
out=$(gcloud compute instance-groups managed create istio-mig \
	--zone us-central1-b --template istio-tmpl --size 3 2>&1)
expect_in "$out" "istio-mig" "managed instance group create"
out=$(gcloud compute instance-groups managed list-instances istio-mig \
	--zone us-central1-b 2>&1)
expect_eq "$(grep -c '^istio-mig-.... *us-central1-b *RUNNING' <<<"$out")" \
	3 "the group runs 3 instances"
n=$(state | python3 -c '
import json, sys
d = json.load(sys.stdin)["instances"]
print(sum(1 for k, v in d.items() if "/istio-mig-" in k and
          any(i["key"] == "user-data" for i in v["metadata"]["items"]) and
          any(i["key"] == "instance-template" for i in v["metadata"]["items"])))')
expect_eq "$n" 3 "group members carry the template's metadata"
out=$(gcloud compute instance-groups managed list 2>&1)
expect_eq "$(awk '$1 == "istio-mig" {print $2, $5, $6}' <<<"$out")" \
	"us-central1-b 3 3" "managed list: size 3 of a target size 3"

# ---- error paths ----
if out=$(gcloud container clusters describe nope --zone us-west1-b 2>&1); then
	fail "describe of a missing cluster succeeded"
fi
expect_in "$out" "No cluster named 'nope' in fake-project." "not found"

curl -sf -X PUT "$FAKE_URL/_fake/faults" --data-binary @- >/dev/null <<'YAML'
rules:
  - name: throttle
    method: GET
    path: /v1/projects/*/locations/*/clusters/cluster1
    nth: 1
    status: 429
    retry_after: 1
YAML
seq0=$(curl -sf "$FAKE_URL/_fake/journal" | tail -n 1 | jget 'd["seq"]')
out=$(gcloud container clusters describe cluster1 --zone us-west1-b \
	--format='value(name,status)' 2>&1)
expect_in "$out" "cluster1	RUNNING" "a 429 with Retry-After is retried"
codes=$(curl -sf "$FAKE_URL/_fake/journal?since=$seq0" | python3 -c '
import json, sys
print(" ".join(str(json.loads(l)["status"]) for l in sys.stdin))')
expect_eq "$codes" "429 200" "journal: 429 then 200"

curl -sf -X PUT "$FAKE_URL/_fake/faults" --data-binary @- >/dev/null <<'YAML'
rules:
  - name: down
    method: GET
    path: /v1/projects/*/locations/*/clusters/cluster1
    status: 503
YAML
seq0=$(curl -sf "$FAKE_URL/_fake/journal" | tail -n 1 | jget 'd["seq"]')
if out=$(gcloud container clusters describe cluster1 --zone us-west1-b 2>&1); then
	fail "describe succeeded through a 503"
fi
expect_in "$out" "code=503" "a 503 is reported"
n=$(curl -sf "$FAKE_URL/_fake/journal?since=$seq0" | grep -c '"status":503')
expect_eq "$n" 1 "a 503 is not retried"
curl -sf -X DELETE "$FAKE_URL/_fake/faults" >/dev/null

# ---- deletes of everything ----
check "delete the group" quiet gcloud compute instance-groups managed \
	delete istio-mig --zone us-central1-b --quiet
check "delete the template" quiet gcloud compute instance-templates delete \
	istio-tmpl --quiet
check "delete the instance" quiet gcloud compute instances delete istio-gce \
	--zone us-central1-b --quiet
check "delete the firewall rule" quiet gcloud compute firewall-rules delete \
	allow-mesh --quiet
check "delete cluster1" quiet gcloud container clusters delete cluster1 \
	--zone us-west1-b --quiet
check "delete cluster2" quiet gcloud container clusters delete cluster2 \
	--zone us-east1-b --quiet

expect_eq "$(gcloud compute instances list --format='value(name)')" "" \
	"no instances left"
expect_eq "$(gcloud compute firewall-rules list --format='value(name)')" "" \
	"no firewall rules left"
expect_eq "$(gcloud compute instance-templates list --format='value(name)')" \
	"" "no templates left"
expect_eq "$(gcloud container clusters list --format='value(name)')" "" \
	"no clusters left"
left=$(state | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(sum(len(d.get(t, {})) for t in ("clusters", "instances", "firewalls",
          "instance_templates", "instance_group_managers", "kube")))')
expect_eq "$left" 0 "the fake's state is empty"

# ---- the journal ----
python3 - "$work/journal.jsonl" <<'PY'
import json, sys
bad = []
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e["method"] == "GET" and e["mutating"]:
        bad.append("GET marked mutating: " + e["path"])
    if e["path"].endswith("/wait") and e["mutating"]:
        bad.append("wait marked mutating")
    expected = e["path"].endswith("/clusters/nope") or \
        (e["path"].endswith("/instance/hostname") and e["status"] == 403)
    if e["status"] >= 400 and e.get("fault") is None and not expected:
        bad.append("unexpected %d on %s %s" % (e["status"], e["method"],
                                               e["path"]))
    if "user-agent" not in e["headers"]:
        bad.append("no user-agent kept")
if bad:
    print("\n".join(bad))
    sys.exit(1)
PY
ok "journal: only the expected failures, mutating flags right"
check "the fake stops with 0 on SIGTERM" e2e_stop_fake
echo "gcloud e2e: $pass checks passed"
