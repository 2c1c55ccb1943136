#!/usr/bin/env bash
# bench/bake.sh - meshvm bake / bundle verify / unpack against peer tools
# and against the hardware limit, one run.
#
#   bash bench/bake.sh [RUNS]        (default 3 rounds; medians)
#
# Inputs (generated once into $BENCH_DIR, default /var/tmp/meshvm-bench):
# a docker-save image of two real layer tars, one holding a 700 MiB
# incompressible file and one ~300 MiB of text, plus the fixture bundle's
# sidecar, identity and unit; then the same doubled (2x).  BENCH_MIB
# (default 1000) scales the 1x inputs down for quick iterations.
#
# Each round runs every command once, meshvm and its peers interleaved, so
# a ratio compares commands that ran under the same load:
#   bake (--runtime docker, the image as is) vs
#       bsdtar --zstd --options zstd:threads=2 -cf   and  tar -I 'zstd -3 -T0'
#   bake (runtime systemd: the image flattened as it is read), reported
#   verify vs  zstd -dc BUNDLE | sha256sum
#   unpack vs  verify
# and measures the limit in the same round:
#   compress = the inputs' bytes / `zstd -b3 -T2` (in memory, both cores)
#   sha      = `openssl speed -elapsed -bytes 65536 -evp sha256` (one core;
#              wall clock like every other figure here)
#   bake limit   = compress + (input + output bytes) / sha / 2 cores
#   verify limit = decompressed bytes / sha (one stream: verify digests
#                  the entries in order)
# Targets (issue 18): bake <= 1.00x bsdtar and <= 1.10x the limit, verify
# >= 0.90x the limit's speed, unpack <= 1.25x verify, peak RSS <= 64 MiB.
# MESHVM_TRACE_TIMING=1 makes meshvm print per-phase times on stderr.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
runs=${1:-3}
dir=${BENCH_DIR:-/var/tmp/meshvm-bench}
mib=${BENCH_MIB:-1000}
bin=$PWD/build/meshvm

for t in /usr/bin/time bsdtar zstd python3 openssl; do
	command -v "$t" >/dev/null || {
		echo "bench: missing $t (apt-get install time libarchive-tools zstd python3 openssl)" >&2
		exit 2
	}
done
[ -x "$bin" ] || { echo "bench: build first (cmake --build build)" >&2; exit 2; }

# --- inputs -----------------------------------------------------------------
make_inputs() { # make_inputs DIR SCALE
	local d=$1 scale=$2 rnd txt
	rnd=$((mib * 7 * scale / 10))
	txt=$((mib * 3 * scale / 10))
	[ "$(cat "$d/.done" 2>/dev/null)" = "$rnd $txt" ] && return 0
	rm -rf "$d"
	mkdir -p "$d/img/l1/opt" "$d/img/l2/var/log"
	cp -R build/fixtures/bundle "$d/spec"
	echo "bench: generating inputs in $d (${rnd} MiB random, ${txt} MiB text)" >&2
	head -c "${rnd}M" /dev/urandom >"$d/img/l1/opt/blob.bin"
	python3 - "$d/img/l2/var/log/app.log" "$txt" <<'PY'
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
	for l in l1 l2; do
		tar -C "$d/img/$l" --sort=name --owner=0 --group=0 --numeric-owner \
			--mtime=@0 -cf "$d/img/$l.tar" .
		rm -rf "${d:?}/img/$l"
	done
	echo '[{"Config":"config.json","RepoTags":["bench:1"],"Layers":["l1.tar","l2.tar"]}]' \
		>"$d/img/manifest.json"
	echo '{"config":{"Cmd":["/opt/run"],"WorkingDir":"/"}}' >"$d/img/config.json"
	tar -C "$d/img" -cf "$d/spec/artifacts/productcatalogservice.tar" \
		manifest.json config.json l1.tar l2.tar
	rm -rf "$d/img"
	echo "$rnd $txt" >"$d/.done"
}

# --- timing -----------------------------------------------------------------
declare -A secs rss
# once NAME CMD...: one run; appends its wall seconds and peak RSS (KiB).
once() {
	local name=$1 out
	shift
	rm -f "$dir/out" "$dir/ref.tar.zst" "$dir/ref2.tar.zst"
	rm -rf "$dir/unpacked"
	sync
	/usr/bin/time -o "$dir/time.out" -f "%e %M" "$@" >/dev/null 2>"$dir/err.out" || {
		echo "bench: $name failed:" >&2
		cat "$dir/err.out" >&2
		exit 1
	}
	out=$(tail -n1 "$dir/time.out")
	secs[$name]="${secs[$name]:-} ${out%% *}"
	rss[$name]="${rss[$name]:-} ${out##* }"
}
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
max() { tr ' ' '\n' | grep . | sort -g | tail -n1; }
med() { echo "${secs[$1]}" | median; }
report() { # report NAME
	printf '  %-28s median %6.2f s   peak RSS %6.1f MiB   (runs:%s)\n' "$1" \
		"$(med "$1")" "$(echo "${rss[$1]}" | max | awk '{print $1/1024}')" \
		"${secs[$1]}"
}
ratio() { awk -v a="$(med "$1")" -v b="$(med "$2")" 'BEGIN {printf "%.2f", a / b}'; }
# verdict VALUE OP TARGET
verdict() { awk -v v="$1" -v t="$3" -v op="$2" 'BEGIN {
	ok = (op == "<=") ? v <= t : v >= t; printf "%s", ok ? "ok" : "MISSED" }'; }

# The limit's parts, measured in the round they serve.
compress_secs() { # compress_secs FILES...: wall of zstd -b3 -T2 over them
	local line bytes speed
	line=$(zstd -b3 -T2 -i1 "$@" 2>&1 | tr '\r' '\n' | grep 'MB/s' | tail -n1)
	bytes=$(echo "$line" | sed -E 's/.*: *([0-9]+) ->.*/\1/')
	speed=$(echo "$line" | sed -E 's/.*\), *([0-9.]+) MB\/s.*/\1/')
	awk -v b="$bytes" -v s="$speed" 'BEGIN {printf "%.3f", b / (s * 1e6)}'
}
sha_rate() { # bytes per second of one SHA-256 stream (wall clock, like the rest)
	openssl speed -elapsed -bytes 65536 -seconds 1 -evp sha256 2>/dev/null |
		awk '/^sha256/ {sub(/k$/, "", $2); printf "%.0f", $2 * 1000}'
}
add() { secs[$1]="${secs[$1]:-} $2"; }

bench_at() { # bench_at DIR LABEL
	local d=$1 spec=$1/spec i inputs in_bytes out_bytes peer_bytes content c s
	cd "$spec"
	for n in "meshvm bake --runtime docker" "bsdtar --zstd threads=2" \
		"tar -I 'zstd -3 -T0'" "meshvm bake (systemd)" \
		"meshvm bundle verify" "zstd -dc | sha256sum" "meshvm bundle unpack" \
		limit-compress limit-sha limit-bake limit-verify; do
		secs[$n]=""
		rss[$n]=""
	done
	mapfile -t inputs < <(find artifacts identity units -type f | sort)
	in_bytes=$(cat "${inputs[@]}" | wc -c)
	"$bin" bake -f bundle.yaml -o "$dir/bundle" --runtime docker >/dev/null 2>&1
	out_bytes=$(stat -c %s "$dir/bundle")
	content=$(zstd -dc "$dir/bundle" | wc -c)
	bsdtar --zstd --options zstd:threads=2 -cf "$dir/ref2.tar.zst" artifacts identity units
	peer_bytes=$(stat -c %s "$dir/ref2.tar.zst")
	for ((i = 0; i < runs; i++)); do
		once "meshvm bake --runtime docker" "$bin" bake -f bundle.yaml \
			-o "$dir/out" --runtime docker
		once "bsdtar --zstd threads=2" bsdtar --zstd --options zstd:threads=2 \
			-cf "$dir/ref2.tar.zst" artifacts identity units
		once "tar -I 'zstd -3 -T0'" tar -I 'zstd -3 -T0' -cf "$dir/ref.tar.zst" \
			artifacts identity units
		once "meshvm bake (systemd)" "$bin" bake -f bundle.yaml -o "$dir/out"
		once "meshvm bundle verify" "$bin" bundle verify "$dir/bundle"
		once "zstd -dc | sha256sum" sh -c "zstd -dc '$dir/bundle' | sha256sum"
		once "meshvm bundle unpack" "$bin" bundle unpack "$dir/bundle" \
			--dest "$dir/unpacked"
		c=$(compress_secs "${inputs[@]}")
		s=$(sha_rate)
		add limit-compress "$c"
		add limit-sha "$s"
		add limit-bake "$(awk -v c="$c" -v s="$s" -v i="$in_bytes" \
			-v o="$out_bytes" 'BEGIN {printf "%.3f", c + (i + o) / s / 2}')"
		add limit-verify "$(awk -v s="$s" -v b="$content" \
			'BEGIN {printf "%.3f", b / s}')"
	done
	cd - >/dev/null
	local vl vr lb
	vl=$(med limit-verify)
	lb=$(med limit-bake)
	vr=$(awk -v l="$vl" -v v="$(med "meshvm bundle verify")" 'BEGIN {printf "%.2f", l / v}')
	echo
	echo "== $2: $(du -sh --apparent-size "$spec" | cut -f1) of inputs, bundle $out_bytes bytes (bsdtar's $peer_bytes), load $(cut -d' ' -f1-3 /proc/loadavg)"
	for n in "meshvm bake --runtime docker" "bsdtar --zstd threads=2" \
		"tar -I 'zstd -3 -T0'" "meshvm bake (systemd)" \
		"meshvm bundle verify" "zstd -dc | sha256sum" "meshvm bundle unpack"; do
		report "$n"
	done
	printf '  limit: zstd -b3 -T2 %.2f s + sha256 of %d+%d bytes at %.0f MB/s over 2 cores = bake %.2f s; verify %.2f s (%d bytes, one stream)\n' \
		"$(med limit-compress)" "$in_bytes" "$out_bytes" \
		"$(awk -v s="$(med limit-sha)" 'BEGIN {print s / 1e6}')" "$lb" "$vl" "$content"
	local r1 r2 r3 r4
	r1=$(ratio "meshvm bake --runtime docker" "bsdtar --zstd threads=2")
	r2=$(awk -v a="$(med "meshvm bake --runtime docker")" -v b="$lb" 'BEGIN {printf "%.2f", a / b}')
	r3=$(ratio "meshvm bundle unpack" "meshvm bundle verify")
	r4=$(ratio "meshvm bake (systemd)" "bsdtar --zstd threads=2")
	echo "  bake / bsdtar            = $r1   (target <= 1.00: $(verdict "$r1" '<=' 1.00))"
	echo "  bake / limit             = $r2   (target <= 1.10: $(verdict "$r2" '<=' 1.10))"
	echo "  bake (systemd) / bsdtar  = $r4   (image flattened on the fly; reported)"
	echo "  bake / tar+zstd          = $(ratio "meshvm bake --runtime docker" "tar -I 'zstd -3 -T0'")"
	echo "  verify speed / limit     = $vr   (target >= 0.90: $(verdict "$vr" '>=' 0.90))"
	echo "  unpack / verify          = $r3   (target <= 1.25: $(verdict "$r3" '<=' 1.25))"
	echo "  verify / zstd|sha256sum  = $(ratio "meshvm bundle verify" "zstd -dc | sha256sum")"
	rm -rf "$dir/unpacked" "$dir/out" "$dir/bundle" "$dir/ref.tar.zst" "$dir/ref2.tar.zst"
}

mkdir -p "$dir"
echo "meshvm $("$bin" --version | cut -d' ' -f2); $(nproc) cores; $runs rounds; $(date -u +%FT%TZ); load $(cut -d' ' -f1-3 /proc/loadavg)"
make_inputs "$dir/x1" 1
bench_at "$dir/x1" "1x"
make_inputs "$dir/x2" 2
bench_at "$dir/x2" "2x (peak RSS must stay flat)"
