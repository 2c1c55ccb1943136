#!/usr/bin/env bash
# harness/e2e/provision.sh - the real gcloud and kubectl confirm what
# `meshvm up --until firewall` created in the fake: gcloud lists exactly
# the two clusters and four firewall rules (sources = the live pod ranges),
# kubectl reaches both clusters through .meshvm/kubeconfig, and after
# `meshvm down --yes` gcloud lists nothing.  Runs in a private network
# namespace so a missed endpoint override fails instead of leaking.
set -euo pipefail

if [ -z "${MESHVM_IN_NETNS:-}" ]; then
	export MESHVM_IN_NETNS=1
	# shellcheck disable=SC2016  # expanded by the inner bash
	exec unshare -n bash -c 'ip link set lo up && exec bash "$0" "$@"' "$0" "$@"
fi

bin=${MESHVM_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/build/meshvm}
for t in gcloud kubectl; do
	command -v "$t" >/dev/null || { echo "provision.sh: $t is required" >&2; exit 1; }
done
work=$(mktemp -d)
fake_pid=
cleanup() {
	if [ -n "$fake_pid" ]; then
		kill "$fake_pid" 2>/dev/null || true
		wait "$fake_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
cd "$work"

"$bin" fake --no-auth --listen 127.0.0.1:0 --ready-file ready --journal journal.jsonl \
	--op-polls 2 >fake.log 2>&1 &
fake_pid=$!
for _ in $(seq 200); do [ -s ready ] && break; sleep 0.05; done
url=$(head -n1 ready)
echo "fake at $url"

export PROJECT_ID=meshvm-e2e MESHVM_GOOGLE_ENDPOINT=$url MESHVM_TIMING=fast
export GOOGLE_OAUTH_ACCESS_TOKEN=e2e-token
"$bin" init >/dev/null
"$bin" -C meshvm.yaml up --until firewall

export CLOUDSDK_CONFIG=$work/gcloud CLOUDSDK_CORE_DISABLE_PROMPTS=1
gc() { gcloud "$@" 2>/dev/null; }
gc config set auth/disable_credentials true
gc config set core/project "$PROJECT_ID"
gc config set core/disable_usage_reporting true
gc config set core/check_gce_metadata false
gc config set component_manager/disable_update_check true
gc config set api_endpoint_overrides/container "$url/"
gc config set api_endpoint_overrides/compute "$url/compute/v1/"
gc config set api_endpoint_overrides/serviceusage "$url/"

clusters=$(gc container clusters list --format='value(name,location,status)' | sort)
expected=$(printf 'cluster1\tus-west1-b\tRUNNING\ncluster2\tus-east1-b\tRUNNING')
if [ "$clusters" != "$expected" ]; then
	printf 'gcloud lists clusters:\n%s\nexpected:\n%s\n' "$clusters" "$expected"
	exit 1
fi
rules=$(gc compute firewall-rules list --format='value(name)' | sort | tr '\n' ' ')
if [ "$rules" != "cluster1-to-istio-gce cluster2-to-istio-gce istio-gce-to-cluster1 istio-gce-to-cluster2 " ]; then
	echo "gcloud lists firewall rules: $rules"
	exit 1
fi
src=$(gc compute firewall-rules describe cluster1-to-istio-gce --format='value(sourceRanges)')
pod=$(gc container clusters describe cluster1 --zone us-west1-b --format='value(clusterIpv4Cidr)')
[ "$src" = "$pod" ] || { echo "rule source $src != pod range $pod"; exit 1; }
echo "gcloud: 2 clusters, 4 firewall rules, sources = pod ranges ($pod)"

export KUBECACHEDIR=$work/kcache
for ctx in gke_meshvm-e2e_us-west1-b_cluster1 gke_meshvm-e2e_us-east1-b_cluster2; do
	kubectl --kubeconfig .meshvm/kubeconfig --context "$ctx" get namespaces -o name >/dev/null
	kubectl --kubeconfig .meshvm/kubeconfig --context "$ctx" version -o json | grep -q '"gitVersion"'
done
echo "kubectl: both contexts of .meshvm/kubeconfig answer"

"$bin" -C meshvm.yaml down --yes
left=$(gc container clusters list --format='value(name)')
[ -z "$left" ] || { echo "clusters left after down: $left"; exit 1; }
left=$(gc compute firewall-rules list --format='value(name)')
[ -z "$left" ] || { echo "firewall rules left after down: $left"; exit 1; }
echo "provision.sh: ok"
