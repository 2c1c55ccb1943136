#!/usr/bin/env bash
# bench/join.sh - time from fetch to joined for a 200 MiB image, in the
# join harness (cloudinit/join.sh on a fake root with recording shims, as
# harness/tests/test_join.c runs it; not under qemu's software emulation,
# which says nothing about real VMs).
#
#   bash bench/join.sh [RUNS]        (default 3 runs per variant; median)
#
# One bundle (runtime systemd, gzip) whose image holds a 200 MiB
# incompressible file, joined from a seed directory:
#   openssl    join.sh with `openssl dgst -sha256` on PATH (what it uses
#              when present)
#   sha256sum  the same with openssl removed from PATH (the fallback)
# Both runs digest the bundle, every entry of SHA256SUMS and the root
# filesystem tar, unpack the bundle and extract the root filesystem; the
# ratio shows what the digest tool is worth on this CPU.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
runs=${1:-3}
dir=${BENCH_DIR:-/var/tmp/meshvm-bench-join}
bin=$PWD/build/meshvm
src=$PWD

[ -x "$bin" ] || { echo "bench: build first (cmake --build build)" >&2; exit 2; }
for t in openssl sha256sum python3; do
	command -v "$t" >/dev/null || { echo "bench: missing $t" >&2; exit 2; }
done

# --- inputs -----------------------------------------------------------------
if [ ! -f "$dir/.done" ]; then
	rm -rf "$dir"
	mkdir -p "$dir/img/l" "$dir/layer/data"
	cp -R build/fixtures/bundle "$dir/spec"
	echo "bench: generating a 200 MiB image in $dir" >&2
	head -c 200M /dev/urandom >"$dir/layer/data/blob"
	tar -C "$dir/layer" -cf "$dir/img/l/layer.tar" .
	cat >"$dir/img/config.json" <<'CFG'
{"config":{"Entrypoint":["/bin/true"]}}
CFG
	echo '[{"Config":"config.json","RepoTags":["bench:1"],"Layers":["l/layer.tar"]}]' \
		>"$dir/img/manifest.json"
	tar -C "$dir/img" -cf "$dir/spec/artifacts/productcatalogservice.tar" \
		manifest.json config.json l
	rm -rf "$dir/img" "$dir/layer"
	SOURCE_DATE_EPOCH=0 "$bin" bake -f "$dir/spec/bundle.yaml" \
		-o "$dir/bundle" --compress gzip >/dev/null
	touch "$dir/.done"
fi

# --- the harness: shims and two PATHs ----------------------------------------
rm -rf "$dir/shims" "$dir/sys-openssl" "$dir/sys-sha256sum"
mkdir -p "$dir/shims" "$dir/sys-openssl" "$dir/sys-sha256sum"
for c in dpkg rpm systemctl systemd-run docker podman ctr chown curl mount blkid; do
	ln -s "$src/harness/tests/join-shim.sh" "$dir/shims/$c"
done
for f in /usr/sbin/* /usr/bin/*; do
	b=${f##*/}
	[ -e "$dir/shims/$b" ] && continue
	[ -e "$dir/sys-openssl/$b" ] || ln -s "$f" "$dir/sys-openssl/$b"
	[ "$b" = openssl ] || [ -e "$dir/sys-sha256sum/$b" ] ||
		ln -s "$f" "$dir/sys-sha256sum/$b"
done
pin=$(sha256sum "$dir/bundle" | cut -c1-64)

# one_join VARIANT: a fresh root, then join.sh run; prints seconds
one_join() {
	local v=$1 r=$dir/root-$1 s=$dir/seed t0 t1
	rm -rf "$r" "$s"
	mkdir -p "$r/etc/meshvm" "$r/proc/sys/kernel/random" "$r/dev" "$s/meshvm"
	printf 'root:x:0:0::/root:/bin/sh\n' >"$r/etc/passwd"
	: >"$r/etc/hosts"
	echo bench >"$r/proc/sys/kernel/random/boot_id"
	ln "$dir/bundle" "$s/meshvm/bundle" 2>/dev/null || cp "$dir/bundle" "$s/meshvm/bundle"
	printf 'e30.eyJleHAiOjQxMDI0NDQ4MDB9.c2ln' >"$s/meshvm/istio-token"
	echo 'instance-id: bench' >"$s/meta-data"
	printf 'MESHVM_READY_TIMEOUT=5\nMESHVM_RUNTIME=auto\n' >"$r/etc/meshvm/join.conf"
	echo "$pin" >"$r/etc/meshvm/bundle.sha256"
	sync
	t0=$(date +%s.%N)
	env -i LC_ALL=C PATH="$dir/shims:$dir/sys-$v" MESHVM_ROOT="$r" \
		SHIM_LOG="$dir/calls" SHIM_SEED_DIR="$s" \
		/bin/sh "$src/cloudinit/join.sh" run 2>"$dir/join-$v.log"
	t1=$(date +%s.%N)
	grep -q '"phase": "joined"' "$r/var/lib/meshvm/status.json" ||
		{ echo "bench: $v did not join (see $dir/join-$v.log)" >&2; exit 1; }
	echo "$t0 $t1" | awk '{ printf "%.2f\n", $2 - $1 }'
}

median() { tr ' ' '\n' | grep . | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

declare -A secs
for ((i = 0; i < runs; i++)); do
	for v in openssl sha256sum; do
		secs[$v]="${secs[$v]:-} $(one_join "$v")"
	done
done
o=$(echo "${secs[openssl]}" | median)
s=$(echo "${secs[sha256sum]}" | median)
echo "join of a $(du -m "$dir/bundle" | cut -f1) MiB bundle (200 MiB image), fetch -> joined, median of $runs:"
printf '  %-28s %6.2f s  (runs:%s)\n' "openssl dgst -sha256" "$o" "${secs[openssl]}"
printf '  %-28s %6.2f s  (runs:%s)\n' "sha256sum (fallback)" "$s" "${secs[sha256sum]}"
echo "$o $s" | awk '{ printf "  ratio openssl / sha256sum:   %.2f\n", $1 / $2 }'
rm -rf "$dir"/root-* "$dir/seed"
