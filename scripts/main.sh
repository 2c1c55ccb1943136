#!/usr/bin/env bash
# The main job: everything meshvm does, offline, on this machine.
# Today: bake the fixture bundle, verify it, print its summary.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$(meshvm_root)"
# shellcheck disable=SC2086
ensure_packages $MESHVM_PACKAGES
meshvm_build build >/dev/null

out=build/main
mkdir -p "$out"
echo "== bake: build/fixtures/bundle/bundle.yaml -> $out/productcatalogservice.bundle"
build/meshvm bake -f build/fixtures/bundle/bundle.yaml \
	-o "$out/productcatalogservice.bundle"
sha=$(sha256sum "$out/productcatalogservice.bundle" | cut -c1-64)
echo
echo "== verify (against the digest bake printed)"
build/meshvm bundle verify "$out/productcatalogservice.bundle" --sha256 "$sha"
echo
echo "== inspect"
build/meshvm bundle inspect "$out/productcatalogservice.bundle"
