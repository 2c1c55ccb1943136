#!/usr/bin/env bash
# The main job: what meshvm does today, offline, on this machine.
#   1. bake the fixture VM bundle, verify it against the digest bake printed
#   2. turn it into GCE user-data (the VM fetches the bundle, pins its digest)
#      and check that user-data offline
#   3. against the embedded fake Google Cloud + Kubernetes: init the seed's
#      topology with the offline example (init --example), plan, up through
#      identity (clusters, firewall, mesh-ca, istio, app, vm-group,
#      identity), the identity files' paths, status, a rerun, then down
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$(meshvm_root)"
# shellcheck disable=SC2086
ensure_packages $MESHVM_PACKAGES
meshvm_build build >/dev/null

out=$PWD/build/main
rm -rf "$out"
mkdir -p "$out"
bin=$PWD/build/meshvm

echo "== bake: build/fixtures/bundle/bundle.yaml -> build/main/productcatalogservice.bundle"
"$bin" bake -f build/fixtures/bundle/bundle.yaml -o "$out/productcatalogservice.bundle"
sha=$(sha256sum "$out/productcatalogservice.bundle" | cut -c1-64)
echo
echo "== verify (against the digest bake printed)"
"$bin" bundle verify "$out/productcatalogservice.bundle" --sha256 "$sha"
echo
echo "== inspect"
"$bin" bundle inspect "$out/productcatalogservice.bundle"
echo
echo "== cloud-init: GCE user-data that fetches and pins this bundle"
"$bin" cloudinit userdata --bundle "$out/productcatalogservice.bundle" \
	--bundle-url "https://storage.googleapis.com/meshvm-demo/productcatalogservice.bundle" \
	-o "$out/user-data"
"$bin" cloudinit validate "$out/user-data"

echo
echo "== the fake Google Cloud + Kubernetes (loopback only)"
"$bin" fake --no-auth --listen 127.0.0.1:0 --ready-file "$out/fake.url" \
	--journal "$out/journal.jsonl" --op-polls 2 >"$out/fake.log" 2>&1 &
fake=$!
trap 'kill "$fake" 2>/dev/null || true; wait "$fake" 2>/dev/null || true' EXIT
for _ in $(seq 200); do [ -s "$out/fake.url" ] && break; sleep 0.05; done
url=$(head -n1 "$out/fake.url")
echo "fake at $url"
export MESHVM_GOOGLE_ENDPOINT=$url GOOGLE_OAUTH_ACCESS_TOKEN=offline-token
export PROJECT_ID=meshvm-demo MESHVM_TIMING=fast

cd "$out"
echo
echo "== init --example + plan"
"$bin" init --example
"$bin" plan
echo
echo "== up --until identity"
"$bin" up --until identity
echo
echo "== the VM's identity files (from the home cluster; no token)"
for f in cluster.env mesh.yaml hosts root-cert.pem; do
	echo "$out/.meshvm/identity/$f"
done
echo
echo "== status"
"$bin" status
echo
echo "== rerun: nothing to do, no mutating request"
before=$(grep -c '"mutating":true' journal.jsonl)
"$bin" up --until identity >/dev/null 2>&1
after=$(grep -c '"mutating":true' journal.jsonl)
echo "mutating requests during the rerun: $((after - before))"
echo
echo "== down"
"$bin" down --yes
echo
echo "main job: ok (artifacts in build/main)"
