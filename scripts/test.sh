#!/usr/bin/env bash
# Every test: unit, protocol, e2e and boot (ctest labels); the full crash
# matrix (label slow) only when asked; label asan is for the sanitizer build (.ci/run).  Extra arguments go to ctest, e.g.
# `scripts/test.sh -L unit` or `scripts/test.sh -L slow`.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$(meshvm_root)"
# shellcheck disable=SC2086
ensure_packages $MESHVM_PACKAGES chromium
meshvm_build build >/dev/null
if [ $# -eq 0 ]; then
	set -- -LE 'slow|asan'
fi
ctest --test-dir build --output-on-failure -j2 "$@"
