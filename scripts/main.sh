#!/usr/bin/env bash
# The main job: what meshvm does today, offline, on this machine.
#   1. bake the fixture VM bundle, verify it against the digest bake printed
#   2. turn it into GCE user-data (the VM fetches the bundle, pins its digest)
#      and check that user-data offline
#   3. `meshvm rehearse --report build/main/report`: the fake Google Cloud +
#      Kubernetes in-process, the offline example's config, `up` through
#      every step, `status`, `down`; a table per step (wall time, requests,
#      mutating requests, retries, faults) and the report (report.json, the
#      journal, topology.svg + .dot, migration.svg)
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
echo "== rehearse: the whole deployment offline, against the embedded fake"
"$bin" rehearse --report "$out/report"
echo
echo "== the VM in the mesh: WorkloadEntries the simulated istiod made when the VM's real join script registered"
python3 - "$out/report/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for c in r["topology"]["clusters"]:
    for we in c.get("workload_entries", []):
        print("%s  WorkloadEntry %s  address %s  Healthy=%s" % (
            c["name"], we["name"], we["address"], we["healthy"]))
PY
echo
echo "report: $out/report/report.json, topology.svg, migration.svg, journal.jsonl"
echo "main job: ok (artifacts in build/main)"
