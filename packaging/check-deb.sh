#!/usr/bin/env bash
# packaging/check-deb.sh [BUILD_DIR] - what CI checks of the Debian package:
# cpack makes meshvm_<version>_amd64.deb; unpacked with dpkg -x into a clean
# directory, its meshvm runs and its manual page renders; lintian reports no
# error (warnings are printed, not fatal).
set -eu
build=${1:-build}
rm -f "$build"/meshvm_*.deb
(cd "$build" && cpack -G DEB >/dev/null)
set -- "$build"/meshvm_*_amd64.deb
[ -f "$1" ] || { echo "check-deb: cpack made no .deb" >&2; exit 1; }
deb=$1
echo "package: $(basename "$deb")"
dpkg-deb -f "$deb" Version Depends
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
dpkg -x "$deb" "$root"
"$root/usr/bin/meshvm" --version
for page in "$root"/usr/share/man/man1/*.1.gz; do
	MANWIDTH=80 man -l "$page" >/dev/null
done
MANWIDTH=80 man -l "$root/usr/share/man/man1/meshvm.1.gz" | head -n 4
[ -f "$root/usr/share/bash-completion/completions/meshvm" ]
[ -f "$root/usr/share/zsh/site-functions/_meshvm" ]
[ -f "$root/usr/share/doc/meshvm/copyright" ]
out=$(lintian --tag-display-limit 0 "$deb" 2>&1 | grep -v 'root privileges' || true)
[ -z "$out" ] || printf '%s\n' "$out"
if printf '%s\n' "$out" | grep -q '^E:'; then
	echo "check-deb: lintian reports errors" >&2
	exit 1
fi
echo "lintian: no errors"
