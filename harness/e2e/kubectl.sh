#!/usr/bin/env bash
# harness/e2e/kubectl.sh - the real kubectl (Google's 1.32 dispatcher)
# against the Kubernetes API of a cluster the real gcloud created on
# `meshvm fake`, inside a private network namespace.  The kubeconfig is
# the one `gcloud container clusters get-credentials` writes, with only
# the user swapped for a token.  Client-side apply (create, no-op, one
# PATCH), server-side apply with a conflict and --force-conflicts, get,
# label, patch, create token (a real JWT), delete, and two clusters that
# do not share objects; the fake's journal and state back every check.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
e2e_enter_netns "$@"
e2e_require gcloud kubectl python3 curl ip

work=$(mktemp -d "${TMPDIR:-/tmp}/meshvm-e2e-kubectl.XXXXXX")
cleanup() {
	e2e_stop_fake || true
	rm -rf "$work"
}
trap cleanup EXIT

e2e_start_fake "$work" --no-auth --op-polls 0 --controller-delay-ms 200
e2e_gcloud_config "$work"
export KUBECACHEDIR=$work/kube-cache
app=$here/kubectl/app.yaml

last_seq() {
	curl -sf "$FAKE_URL/_fake/journal" | tail -n 1 | jget 'd["seq"]'
}
# Journal lines of one listener since a sequence number, as
# "METHOD PATH CONTENT-TYPE" for the mutating ones.
mutations_since() {
	curl -sf "$FAKE_URL/_fake/journal?since=$1&listener=$2" | python3 -c '
import json, sys
for l in sys.stdin:
    e = json.loads(l)
    if e["mutating"]:
        print(e["method"], e["path"], e["headers"].get("content-type", ""))'
}

# ---- two clusters, credentials from gcloud, a token user ----
clusters=("cluster1 us-west1-b" "cluster2 us-east1-b")
for c in "${clusters[@]}"; do
	read -r name zone <<<"$c"
	check "gcloud creates $name" quiet gcloud container clusters create \
		"$name" --zone "$zone" --num-nodes 1 --quiet
done
rm -f "$KUBECONFIG"
for c in "${clusters[@]}"; do
	read -r name zone <<<"$c"
	check "get-credentials $name" quiet gcloud container clusters \
		get-credentials "$name" --zone "$zone"
	user=gke_fake-project_${zone}_$name
	# (the dispatcher's /version probe still tries the exec user here:
	# its complaint on stderr is expected)
	kubectl config unset "users.$user.exec" >/dev/null 2>&1
	kubectl config set-credentials "$user" --token=e2e-token >/dev/null
done
ctx1=gke_fake-project_us-west1-b_cluster1
ctx2=gke_fake-project_us-east1-b_cluster2
kubectl config use-context "$ctx1" >/dev/null
expect_in "$(kubectl config view --raw -o jsonpath='{.clusters[0].cluster.server}')" \
	"https://127.0.0.1:" "the kubeconfig points at the fake over HTTPS"

out=$(kubectl version 2>&1)
expect_in "$out" "Server Version: v1.32.4-gke" "kubectl version"

# ---- Istio's CRDs: their kinds exist once these are applied ----
crds=$here/../../fixtures/istio/crds
# (the wording is kubectl's, after its openapi lookups: only refusal is
# checked)
if kubectl apply -f "$app" >/dev/null 2>&1; then
	fail "Istio kinds are not served before their CRDs"
else
	ok "Istio kinds are not served before their CRDs"
fi
out=$(kubectl apply -f "$crds" 2>&1)
expect_in "$out" "customresourcedefinition.apiextensions.k8s.io/virtualservices.networking.istio.io created" \
	"apply creates the Istio CRDs"
check "the CRDs are Established" quiet kubectl wait --for condition=established \
	--timeout=10s -f "$crds"
kubectl delete namespace demo --wait=true >/dev/null 2>&1 || true

# ---- client-side apply ----
out=$(kubectl apply -f "$app" 2>&1)
expect_in "$out" "namespace/demo created" "apply creates the namespace"
expect_in "$out" "deployment.apps/web created" "apply creates the Deployment"
expect_in "$out" "service/web created" "apply creates the Service"
expect_in "$out" "virtualservice.networking.istio.io/web created" \
	"apply creates the VirtualService"
expect_in "$out" "workloadgroup.networking.istio.io/productcatalogservice created" \
	"apply creates the WorkloadGroup"

# ---- a CRD's schema: explain, strict refusal, pruning ----
out=$(kubectl explain virtualservices.spec.http.route 2>&1)
echo "$out" | head -n 12
expect_in "$out" "VirtualService" "kubectl explain finds the CRD's kind"
expect_in "$out" "destination" "kubectl explain shows the CRD's schema"
cat >"$work/vs-extra.yaml" <<'YAML'
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: extra
  namespace: demo
spec:
  hosts: [web]
  bogus: 1
YAML
if out=$(kubectl apply --validate=strict -f "$work/vs-extra.yaml" 2>&1); then
	fail "apply --validate=strict refuses an unknown field"
fi
echo "$out"
expect_in "$out" 'strict decoding error: unknown field "spec.bogus"' \
	"apply --validate=strict refuses an unknown field"
out=$(kubectl apply --validate=warn -f "$work/vs-extra.yaml" 2>&1)
expect_in "$out" 'unknown field "spec.bogus"' "apply --validate=warn warns"
expect_in "$out" "virtualservice.networking.istio.io/extra created" \
	"apply --validate=warn creates"
# (.spec only: the last-applied annotation keeps what was sent, as on a
# real server)
out=$(kubectl get virtualservice extra -n demo -o jsonpath='{.spec}')
expect_in "$out" '"hosts":["web"]' "the VirtualService is stored"
if [[ $out == *bogus* ]]; then
	fail "the unknown field is pruned"
fi
ok "the unknown field is pruned"

seq=$(last_seq)
out=$(kubectl apply -f "$app" 2>&1)
expect_in "$out" "deployment.apps/web unchanged" "apply again: unchanged"
expect_eq "$(mutations_since "$seq" cluster1)" "" \
	"apply again sends no mutating request"

sed 's/replicas: 2/replicas: 3/' "$app" >"$work/app3.yaml"
seq=$(last_seq)
out=$(kubectl apply -f "$work/app3.yaml" 2>&1)
expect_in "$out" "deployment.apps/web configured" "a changed replica count"
expect_eq "$(mutations_since "$seq" cluster1)" \
	"PATCH /apis/apps/v1/namespaces/demo/deployments/web application/strategic-merge-patch+json" \
	"exactly one PATCH, a strategic merge patch"
expect_eq "$(kubectl get -n demo deploy web -o jsonpath='{.spec.replicas}')" 3 \
	"the Deployment has 3 replicas"

# ---- server-side apply ----
out=$(kubectl apply --server-side -f "$work/app3.yaml" 2>&1)
expect_in "$out" "deployment.apps/web serverside-applied" "server-side apply"
sed 's/replicas: 2/replicas: 5/' "$app" >"$work/app5.yaml"
if out=$(kubectl apply --server-side --field-manager other -f "$work/app5.yaml" 2>&1); then
	fail "a conflicting server-side apply succeeded"
fi
expect_in "$out" "Apply failed with 1 conflict: conflict with \"kubectl\" using apps/v1: .spec.replicas" \
	"a second manager changing replicas gets a conflict"
out=$(kubectl apply --server-side --field-manager other --force-conflicts \
	-f "$work/app5.yaml" 2>&1)
expect_in "$out" "deployment.apps/web serverside-applied" "--force-conflicts wins"
managers=$(kubectl get -n demo deploy web -o json --show-managed-fields | python3 -c '
import json, sys
d = json.load(sys.stdin)
own = [m["manager"] for m in d["metadata"]["managedFields"]
       if "f:replicas" in m["fieldsV1"].get("f:spec", {})]
print(d["spec"]["replicas"], " ".join(own))')
expect_eq "$managers" "5 other" "replicas are 5 and owned by \"other\" alone"

# ---- reading ----
kubectl get -n demo deploy web -o json >"$work/web.json"
expect_eq "$(jget 'd["metadata"]["name"] + " " + d["kind"] + " " + str(d["metadata"]["generation"])' <"$work/web.json")" \
	"web Deployment 3" "get -o json (generation 3: created, 3 replicas, 5)"
sleep 0.3 # the simulated controller's delay
expect_eq "$(kubectl get -n demo deploy web -o jsonpath='{.status.availableReplicas}')" 5 \
	"the Deployment becomes available"
out=$(kubectl get -n demo deploy,svc,vs,wg 2>&1)
expect_in "$out" "deployment.apps/web" "get as a table: Deployment"
expect_in "$out" "virtualservice.networking.istio.io/web" \
	"get as a table: VirtualService"
expect_in "$out" "workloadgroup.networking.istio.io/productcatalogservice" \
	"get as a table: WorkloadGroup"

# ---- label, patch ----
out=$(kubectl label -n demo svc web tier=frontend 2>&1)
expect_in "$out" "service/web labeled" "kubectl label"
out=$(kubectl patch -n demo svc web --type merge \
	-p '{"metadata":{"annotations":{"owner":"e2e"}}}' 2>&1)
expect_in "$out" "service/web patched" "kubectl patch --type merge"
expect_eq "$(kubectl get -n demo svc web -o jsonpath='{.metadata.labels.tier} {.metadata.annotations.owner}')" \
	"frontend e2e" "the label and the annotation are there"
expect_eq "$(kubectl get -n demo svc -l tier=frontend -o name)" "service/web" \
	"a label selector finds it"

# ---- a token ----
before=$(date +%s)
tok=$(kubectl create token default --audience istio-ca --duration 1h)
python3 - "$tok" "$before" <<'PY'
import base64, json, sys
tok, before = sys.argv[1], int(sys.argv[2])
head, body, sig = tok.split(".")
pad = lambda s: s + "=" * (-len(s) % 4)
h = json.loads(base64.urlsafe_b64decode(pad(head)))
c = json.loads(base64.urlsafe_b64decode(pad(body)))
assert h["alg"] == "RS256", h
assert c["aud"] == ["istio-ca"], c["aud"]
assert c["exp"] - c["iat"] == 3600, (c["exp"], c["iat"])
assert before - 5 <= c["iat"] <= before + 60, c["iat"]
assert c["sub"] == "system:serviceaccount:default:default", c["sub"]
assert c["kubernetes.io"]["namespace"] == "default"
assert len(base64.urlsafe_b64decode(pad(sig))) == 256
PY
ok "create token: RS256, aud istio-ca, expires in 1h, default/default"
review=$(curl -sf "$FAKE_URL/_fake/journal?listener=cluster1" | tail -n 1 |
	jget 'd["method"] + " " + d["path"] + " " + d["headers"]["content-type"]')
expect_eq "$review" \
	"POST /api/v1/namespaces/default/serviceaccounts/default/token application/vnd.kubernetes.protobuf" \
	"kubectl sent the TokenRequest as protobuf"

# ---- the second cluster ----
out=$(kubectl --context "$ctx2" get ns demo 2>&1 || true)
expect_in "$out" 'namespaces "demo" not found' "cluster2 does not see cluster1's namespace"
out=$(kubectl --context "$ctx2" create namespace only-here 2>&1)
expect_in "$out" "namespace/only-here created" \
	"create namespace (a protobuf body) on cluster2"
check "cluster2 has its own namespace" \
	quiet kubectl --context "$ctx2" get ns only-here
out=$(kubectl get ns only-here 2>&1 || true)
expect_in "$out" 'namespaces "only-here" not found' "cluster1 does not see it"

# ---- delete ----
out=$(kubectl delete -f "$app" 2>&1)
expect_in "$out" 'deployment.apps "web" deleted' "delete -f"
expect_in "$out" 'workloadgroup.networking.istio.io "productcatalogservice" deleted' \
	"delete -f removes the WorkloadGroup"
out=$(kubectl get ns demo 2>&1 || true)
expect_in "$out" 'namespaces "demo" not found' "the namespace is gone"
left=$(curl -sf "$FAKE_URL/_fake/state" | python3 -c '
import json, sys
d = json.load(sys.stdin)["kube"]["fake-project/us-west1-b/cluster1"]["objects"]
print(sum(1 for k in d if "/demo/" in k or k.endswith("//demo")))')
expect_eq "$left" 0 "nothing of demo is left in the fake's state"

check "the fake stops with 0 on SIGTERM" e2e_stop_fake
echo "kubectl e2e: $pass checks passed"
