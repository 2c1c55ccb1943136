#!/usr/bin/env bash
# harness/e2e/mesh.sh - the real kubectl, through the .meshvm/kubeconfig
# `meshvm up` writes, sees what the mesh steps made on `meshvm fake`
# (`meshvm init --example && meshvm up --until identity`, no other file):
# Secret cacerts whose intermediate `openssl verify` accepts against the
# mesh root, the east-west gateway's load-balancer address (the one in the
# identity hosts file), both remote secrets, the WorkloadGroup.  Inside a
# private network namespace (lib.sh).
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
e2e_enter_netns "$@"
e2e_require gcloud kubectl openssl base64 ip

bin=${MESHVM_BIN:-$here/../../build/meshvm}
export MESHVM_BIN=$bin
work=$(mktemp -d "${TMPDIR:-/tmp}/meshvm-e2e-mesh.XXXXXX")
cleanup() {
	e2e_stop_fake || true
	rm -rf "$work"
}
trap cleanup EXIT

e2e_start_fake "$work" --no-auth --listen 127.0.0.1:0 --op-polls 2
export PROJECT_ID=meshvm-e2e MESHVM_GOOGLE_ENDPOINT=$FAKE_URL MESHVM_TIMING=fast
export GOOGLE_OAUTH_ACCESS_TOKEN=e2e-token KUBECACHEDIR=$work/kcache
mkdir "$work/run"
cd "$work/run"

check "init --example" quiet "$bin" init --example
check "up --until identity" quiet "$bin" up --until identity

root=.meshvm/ca/root-cert.pem
hosts=$(cat .meshvm/identity/hosts)
for c in cluster1:us-west1-b cluster2:us-east1-b; do
	name=${c%%:*}
	zone=${c#*:}
	k=(kubectl --kubeconfig .meshvm/kubeconfig --context "gke_${PROJECT_ID}_${zone}_$name")
	peer=cluster2
	[ "$name" = cluster2 ] && peer=cluster1

	"${k[@]}" -n istio-system get secret cacerts \
		-o jsonpath='{.data.ca-cert\.pem}' | base64 -d >"$work/$name-ca.pem"
	check "$name: kubectl sees cacerts; openssl verifies its intermediate against the root" \
		quiet openssl verify -CAfile "$root" "$work/$name-ca.pem"
	check "$name: the local intermediate verifies too" \
		quiet openssl verify -CAfile "$root" ".meshvm/ca/$name/ca-cert.pem"
	cmp -s "$work/$name-ca.pem" ".meshvm/ca/$name/ca-cert.pem" ||
		fail "$name: cacerts differs from .meshvm/ca/$name/ca-cert.pem"

	ip=$("${k[@]}" -n istio-system get service istio-eastwestgateway \
		-o jsonpath='{.status.loadBalancer.ingress[0].ip}')
	[ -n "$ip" ] || fail "$name: the east-west gateway has no address"
	ok "$name: east-west gateway at $ip"
	if [ "$name" = cluster1 ]; then
		expect_eq "$hosts" "$ip istiod.istio-system.svc" \
			"the identity hosts file names cluster1's gateway"
	fi

	secrets=$("${k[@]}" -n istio-system get secrets \
		-l istio/multiCluster=true -o name)
	expect_eq "$secrets" "secret/istio-remote-secret-$peer" \
		"$name: the remote secret of $peer (and only it)"
	kc=$("${k[@]}" -n istio-system get secret "istio-remote-secret-$peer" \
		-o jsonpath="{.data.$peer}" | base64 -d)
	expect_in "$kc" "token: " "$name: the remote secret holds a token kubeconfig"

	wg=$("${k[@]}" -n default get workloadgroup productcatalogservice \
		-o jsonpath='{.spec.template.network} {.spec.template.serviceAccount} {.metadata.labels.meshvm-id}')
	expect_in "$wg" "vm-network productcatalogservice mv-" \
		"$name: WorkloadGroup productcatalogservice"
done
echo "mesh.sh: ok ($pass checks)"
