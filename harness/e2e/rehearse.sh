#!/usr/bin/env bash
# harness/e2e/rehearse.sh - `meshvm rehearse` end to end.
#   rehearse.sh report        --report DIR: every file there; report.json
#                             green; the SVGs hold the expected labels and
#                             a real headless browser (Debian's chromium)
#                             renders each to a screenshot that is not blank
#                             and with -C a user's config is rehearsed
#                             without touching its directory's state
#   rehearse.sh flaky N [S]   --faults flaky with seeds S..S+N-1 (S default
#                             1): every run converges, no resource created
#                             twice (rehearse checks the journal), the
#                             fake empty after down, retries happened
# Runs in a private network namespace (loopback only).
set -euo pipefail
# shellcheck source=harness/e2e/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_enter_netns "$@"

bin=${MESHVM_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/build/meshvm}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "rehearse.sh: $*" >&2; exit 1; }

# A PNG whose pixels are not all one colour (python3 standard library:
# inflate, undo the row filters, count distinct pixels).
png_not_blank() {
	python3 - "$1" <<'PY'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, w = 8, b"", 0
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
        assert depth == 8 and ctype in (2, 6), "unexpected PNG format"
        bpp = 3 if ctype == 2 else 4
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
raw, stride = zlib.decompress(idat), w * bpp
prev, colours, inked = bytearray(stride), set(), 0
for y in range(h):
    f, row = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = row[i - bpp] if i >= bpp else 0
        b, c = prev[i], prev[i - bpp] if i >= bpp else 0
        if f == 1: row[i] = (row[i] + a) & 255
        elif f == 2: row[i] = (row[i] + b) & 255
        elif f == 3: row[i] = (row[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            row[i] = (row[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    for x in range(0, stride, bpp * 4):
        px = bytes(row[x:x + 3])
        colours.add(px)
        inked += px != b"\xff\xff\xff"
    prev = row
print(f"{sys.argv[1]}: {w}x{h}, {len(colours)} colours, {inked} sampled pixels not white")
assert len(colours) > 8 and inked > 200, "the screenshot is blank"
PY
}

check_report() {
	local out=$work/report f
	"$bin" rehearse --report "$out" >"$work/table.txt" 2>"$work/err.txt" ||
		{ cat "$work/table.txt" "$work/err.txt" >&2; fail "rehearse failed"; }
	cat "$work/table.txt"
	for f in report.json journal.jsonl rehearse.log topology.svg topology.dot migration.svg; do
		[ -s "$out/$f" ] || fail "$f missing or empty"
	done
	python3 - "$out" <<'PY'
import json, sys, xml.etree.ElementTree as ET
d = sys.argv[1]
r = json.load(open(d + "/report.json"))
assert r["converged"] is True, r
assert r["creates"]["duplicates"] == [] and r["fake_left"] == [], r
assert r["rerun_mutating"] == 0, r
names = [s["name"] for s in r["steps"]]
for step in ("preflight", "clusters", "firewall", "mesh-ca", "istio", "app",
             "up again (no change)", "status", "down"):
    assert step in names, (step, names)
total = sum(s["requests"] for s in r["steps"])
assert total == r["total"]["requests"] and total > 0
lines = sum(1 for _ in open(d + "/journal.jsonl"))
assert lines >= total, (lines, total)
for f in ("topology.svg", "migration.svg"):
    ET.parse(d + "/" + f)  # well-formed XML
topo = open(d + "/topology.svg").read()
for label in ("cluster cluster1 (us-west1-b)", "cluster cluster2 (us-east1-b)",
              "istio-eastwestgateway", "productcatalogservice", "frontend",
              "VMs", "traffic split productcatalogservice"):
    assert label in topo, label
assert "migration of productcatalogservice" in open(d + "/migration.svg").read()
dot = open(d + "/topology.dot").read()
assert dot.startswith("digraph meshvm {") and '"cluster1/frontend"' in dot
print("report: converged,", total, "requests,", len(names), "rows; labels present")
PY
	command -v chromium >/dev/null || fail "chromium is required (apt-get install chromium)"
	for f in topology migration; do
		# no profile, no GPU, no sandbox (root in a namespace); file:// only
		HOME=$work timeout 120 chromium --headless --no-sandbox --disable-gpu \
			--hide-scrollbars --user-data-dir="$work/chromium" \
			--window-size=1100,700 --screenshot="$work/$f.png" \
			"file://$out/$f.svg" >"$work/chromium.log" 2>&1 ||
			{ cat "$work/chromium.log" >&2; fail "chromium could not render $f.svg"; }
		[ -s "$work/$f.png" ] || fail "$f.png is empty"
		png_not_blank "$work/$f.png"
	done
	# -C: the user's config (relative paths kept), never its state
	mkdir "$work/user"
	(cd "$work/user" && PROJECT_ID=my-project "$bin" init --example >/dev/null)
	"$bin" -C "$work/user/meshvm.yaml" --json rehearse >"$work/user.json" ||
		fail "rehearse -C failed"
	[ ! -e "$work/user/.meshvm" ] || fail "rehearse -C wrote $work/user/.meshvm"
	python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["converged"]' \
		"$work/user.json"
	echo "-C: converged, the config's directory untouched"
}

check_flaky() {
	local n=$1 first=${2:-1} seed retries=0
	for seed in $(seq "$first" $((first + n - 1))); do
		"$bin" --json rehearse --faults flaky --seed "$seed" >"$work/r.json" \
			2>"$work/err.txt" || {
			cat "$work/err.txt" >&2
			fail "seed $seed: did not converge"
		}
		retries=$((retries + $(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
assert r["converged"] and not r["creates"]["duplicates"] and not r["fake_left"], r
assert r["rerun_mutating"] == 0, r
assert r["total"]["faults"] > 0, "flaky injected nothing"
print(r["total"]["retries"])' "$work/r.json")))
		echo "seed $seed: converged"
	done
	[ "$retries" -gt 0 ] || fail "no retry in $n runs"
	echo "flaky: $n seeds converged, $retries retries in all, every resource created once"
}

case ${1:-} in
report) check_report ;;
flaky) check_flaky "${2:?flaky N}" "${3:-1}" ;;
*) fail "usage: rehearse.sh report | flaky N [FIRST-SEED]" ;;
esac
