#!/usr/bin/env bash
# bench/bake-floor.sh - the CPU that `meshvm bake --runtime docker` cannot
# avoid on bench/bake.sh's 1x inputs, next to the CPU that bake and
# bsdtar --zstd threads=2 spend in the same rounds (issue 18).
#
#   bash bench/bake-floor.sh [RUNS]      (default 5 rounds; medians)
#
# Run bench/bake.sh once first: it generates the inputs in $BENCH_DIR
# (default /var/tmp/meshvm-bench).  CPU = user + sys of /usr/bin/time, so
# a loaded machine moves these figures less than walls, but it still
# moves them: compare figures of the same run only.
#
# The floor, each part measured alone in the same round:
#   sha    (input + output bytes) / `openssl speed -evp sha256` (its CPU
#          time, one core, hot buffer): every input byte goes into its entry's digest,
#          every output byte into the bundle's digest
#   zstd   `zstd -3 --single-thread` over the image's text layer (bake
#          stores the incompressible pieces; level 3 runs on the text only)
#   read   `cat INPUTS >/dev/null`: one read of every input byte
#   write  `dd if=/dev/zero bs=128k` of the bundle's size: one write of
#          every output byte into the page cache
#   reread `cat BUNDLE >/dev/null`: the bundle's digest starts after the
#          manifest frame, which needs every input's digest, and 64 MiB
#          cannot hold the output until then, so the output is read back
#          (a cost of the format, not of the code)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
runs=${1:-5}
dir=${BENCH_DIR:-/var/tmp/meshvm-bench}
spec=$dir/x1/spec
bin=$PWD/build/meshvm
scratch=${TMPDIR:-/var/tmp}/meshvm-floor.$$
image=$spec/artifacts/productcatalogservice.tar

[ -f "$dir/x1/.done" ] || { echo "bench: run bench/bake.sh first (inputs)" >&2; exit 2; }
[ -x "$bin" ] || { echo "bench: build first (cmake --build build)" >&2; exit 2; }
mkdir -p "$scratch"
trap 'rm -rf "$scratch"' EXIT
tar -xOf "$image" l2.tar >"$scratch/text"
cd "$spec"
mapfile -t inputs < <(find artifacts identity units -type f | sort)
in_bytes=$(cat "${inputs[@]}" | wc -c)
"$bin" bake -f bundle.yaml -o "$scratch/bundle" --runtime docker >/dev/null 2>&1
out_bytes=$(stat -c %s "$scratch/bundle")

declare -A cpu
# cpu_of NAME CMD...: one run; appends its user + sys seconds.
cpu_of() {
	local name=$1
	shift
	sync
	/usr/bin/time -o "$scratch/t" -f "%U %S" "$@" >/dev/null 2>"$scratch/err" || {
		echo "bench: $name failed:" >&2
		cat "$scratch/err" >&2
		exit 1
	}
	cpu[$name]="${cpu[$name]:-} $(awk '{printf "%.2f", $1 + $2}' "$scratch/t")"
}
add() { cpu[$1]="${cpu[$1]:-} $2"; }
med() { echo "${cpu[$1]}" | tr ' ' '\n' | grep . | sort -g |
	awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

for ((i = 0; i < runs; i++)); do
	rm -f "$scratch/out"
	cpu_of bake "$bin" bake -f bundle.yaml -o "$scratch/out" --runtime docker
	rm -f "$scratch/out"
	cpu_of bsdtar bsdtar --zstd --options zstd:threads=2 -cf "$scratch/out" \
		artifacts identity units
	rm -f "$scratch/out"
	rate=$(openssl speed -bytes 65536 -seconds 1 -evp sha256 2>/dev/null |
		awk '/^sha256/ {sub(/k$/, "", $2); printf "%.0f", $2 * 1000}')
	add sha "$(awk -v r="$rate" -v b=$((in_bytes + out_bytes)) 'BEGIN {printf "%.2f", b / r}')"
	cpu_of zstd zstd -3 --single-thread -q -c "$scratch/text"
	cpu_of read cat "${inputs[@]}"
	cpu_of write dd if=/dev/zero of="$scratch/out" bs=128k \
		count=$(((out_bytes + 131071) / 131072)) status=none
	rm -f "$scratch/out"
	cpu_of reread cat "$scratch/bundle"
done

floor=$(awk -v a="$(med sha)" -v b="$(med zstd)" -v c="$(med read)" \
	-v d="$(med write)" 'BEGIN {printf "%.2f", a + b + c + d}')
fmt=$(awk -v f="$floor" -v r="$(med reread)" 'BEGIN {printf "%.2f", f + r}')
echo "bake's CPU floor on the 1x inputs ($in_bytes bytes in, $out_bytes out; $runs rounds, medians, load $(cut -d' ' -f1-3 /proc/loadavg))"
printf '  sha256 of in+out %.2f s + zstd -3 on the text %.2f s + read %.2f s + write %.2f s = floor %.2f s\n' \
	"$(med sha)" "$(med zstd)" "$(med read)" "$(med write)" "$floor"
printf '  + reading the output back for its digest %.2f s = floor of the format %.2f s\n' \
	"$(med reread)" "$fmt"
printf '  bake --runtime docker %.2f s CPU (runs:%s)\n' "$(med bake)" "${cpu[bake]}"
printf '  bsdtar --zstd threads=2 %.2f s CPU (runs:%s)\n' "$(med bsdtar)" "${cpu[bsdtar]}"
awk -v f="$floor" -v g="$fmt" -v b="$(med bake)" -v t="$(med bsdtar)" 'BEGIN {
	printf "  floor / bsdtar = %.2f, floor of the format / bsdtar = %.2f, bake / bsdtar = %.2f, bake / floor of the format = %.2f\n",
		f / t, g / t, b / t, b / g }'
