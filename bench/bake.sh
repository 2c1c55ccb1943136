#!/usr/bin/env bash
# bench/bake.sh - meshvm bake / bundle verify against peer tools, one run.
#
#   bash bench/bake.sh [RUNS]        (default 3 runs per command; median)
#
# Inputs (~1 GiB, generated once into $BENCH_DIR, default /var/tmp/meshvm-bench):
# an image tar holding a 700 MiB incompressible layer and ~300 MiB of text,
# plus the fixture bundle's sidecar, identity and unit.  Peers work on the
# same files:
#   bake   vs  tar -I 'zstd -3 -T0' -cf     and  bsdtar --zstd --options zstd:threads=2 -cf
#   verify vs  zstd -dc BUNDLE | sha256sum
# Then the same bake/verify/unpack on a doubled input, to show peak RSS stays
# flat.  Targets (issue 2): bake <= 1.35x tar+zstd, verify <= 0.3x the
# zstd|sha256sum pipeline, peak RSS <= 64 MiB for bake, verify and unpack.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
runs=${1:-3}
dir=${BENCH_DIR:-/var/tmp/meshvm-bench}
bin=$PWD/build/meshvm

for t in /usr/bin/time bsdtar zstd python3; do
	command -v "$t" >/dev/null || {
		echo "bench: missing $t (apt-get install time libarchive-tools zstd python3)" >&2
		exit 2
	}
done
[ -x "$bin" ] || { echo "bench: build first (cmake --build build)" >&2; exit 2; }

# --- inputs -----------------------------------------------------------------
make_inputs() { # make_inputs DIR SCALE
	local d=$1 scale=$2
	[ -f "$d/.done" ] && return 0
	rm -rf "$d"
	mkdir -p "$d/img"
	cp -R build/fixtures/bundle "$d/spec"
	echo "bench: generating inputs in $d (scale $scale)" >&2
	head -c $((700 * scale))M /dev/urandom >"$d/img/layer.tar"
	python3 - "$d/img/logs.txt" $((300 * scale)) <<'PY'
import random, sys
random.seed(7)
words = ["".join(random.choice("abcdefghijklmnopqrstuvwxyz")
         for _ in range(random.randint(2, 10))) for _ in range(20000)]
target = int(sys.argv[2]) << 20
with open(sys.argv[1], "w") as f:
    n = 0
    while n < target:
        chunk = []
        for _ in range(2000):
            chunk.append("%012d INFO %s\n" % (n, " ".join(random.choices(words, k=12))))
        s = "".join(chunk)
        f.write(s)
        n += len(s)
PY
	echo '[{"Config":"config.json","RepoTags":["bench:1"],"Layers":["layer.tar"]}]' \
		>"$d/img/manifest.json"
	echo '{}' >"$d/img/config.json"
	tar -C "$d/img" -cf "$d/spec/artifacts/productcatalogservice.tar" \
		manifest.json config.json layer.tar logs.txt
	rm -rf "$d/img"
	touch "$d/.done"
}

# --- timing -----------------------------------------------------------------
# run NAME CMD...: RUNS times; records "seconds maxrss_kb" per run.
declare -A secs rss
run() {
	local name=$1
	shift
	local i out
	secs[$name]=""
	rss[$name]=""
	for ((i = 0; i < runs; i++)); do
		rm -f "$dir/out" "$dir/ref.tar.zst" "$dir/ref2.tar.zst"
		rm -rf "$dir/unpacked"
		sync
		/usr/bin/time -o "$dir/time.out" -f "%e %M" "$@" >/dev/null 2>&1
		out=$(tail -n1 "$dir/time.out")
		secs[$name]="${secs[$name]} ${out%% *}"
		rss[$name]="${rss[$name]} ${out##* }"
	done
}
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
max() { tr ' ' '\n' | grep . | sort -g | tail -n1; }
report() { # report NAME
	printf '  %-26s median %6.2f s   peak RSS %7.1f MiB   (runs:%s)\n' "$1" \
		"$(echo "${secs[$1]}" | median)" \
		"$(echo "${rss[$1]}" | max | awk '{print $1/1024}')" "${secs[$1]}"
}
ratio() { awk -v a="$(echo "${secs[$1]}" | median)" -v b="$(echo "${secs[$2]}" | median)" \
	'BEGIN {printf "%.2f", a / b}'; }

bench_at() { # bench_at DIR LABEL
	local d=$1 spec=$1/spec
	cd "$spec"
	run "meshvm bake" "$bin" bake -f bundle.yaml -o "$dir/out"
	"$bin" bake -f bundle.yaml -o "$dir/bundle" >/dev/null 2>&1
	run "tar -I 'zstd -3 -T0'" tar -I 'zstd -3 -T0' -cf "$dir/ref.tar.zst" \
		artifacts identity units
	run "bsdtar --zstd threads=2" bsdtar --zstd --options zstd:threads=2 \
		-cf "$dir/ref2.tar.zst" artifacts identity units
	run "meshvm bundle verify" "$bin" bundle verify "$dir/bundle"
	run "zstd -dc | sha256sum" sh -c "zstd -dc '$dir/bundle' | sha256sum"
	run "meshvm bundle unpack" "$bin" bundle unpack "$dir/bundle" \
		--dest "$dir/unpacked"
	cd - >/dev/null
	echo
	echo "== $2: $(du -sh --apparent-size "$spec" | cut -f1) of inputs, bundle $(du -h --apparent-size "$dir/bundle" | cut -f1)"
	for n in "meshvm bake" "tar -I 'zstd -3 -T0'" "bsdtar --zstd threads=2" \
		"meshvm bundle verify" "zstd -dc | sha256sum" "meshvm bundle unpack"; do
		report "$n"
	done
	echo "  bake / tar+zstd        = $(ratio "meshvm bake" "tar -I 'zstd -3 -T0'")   (target <= 1.35)"
	echo "  bake / bsdtar          = $(ratio "meshvm bake" "bsdtar --zstd threads=2")"
	echo "  verify / zstd|sha256sum = $(ratio "meshvm bundle verify" "zstd -dc | sha256sum")   (target <= 0.30)"
	rm -rf "$dir/unpacked" "$dir/out" "$dir/bundle" "$dir/ref.tar.zst" "$dir/ref2.tar.zst"
}

mkdir -p "$dir"
echo "meshvm $("$bin" --version | cut -d' ' -f2); $(nproc) cores; $runs runs each; $(date -u +%FT%TZ)"
make_inputs "$dir/x1" 1
bench_at "$dir/x1" "1x"
make_inputs "$dir/x2" 2
bench_at "$dir/x2" "2x (peak RSS must stay flat)"
