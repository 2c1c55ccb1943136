#!/usr/bin/env bash
# bench/rehearse.sh - the full offline rehearsal (`meshvm rehearse`:
# up through every step, status, down; instant operations, fast traffic
# clock) on this machine.
#
#   bash bench/rehearse.sh [RUNS]        (default 5 runs per variant; median)
#
#   rehearse count 1    `meshvm rehearse`            limit: 5 s
#   rehearse count 10   `meshvm rehearse --count 10` limit: 10 s
#   peer                the same commands as separate processes against
#                       `meshvm fake` (init --example, up, status, down:
#                       what scripts/main.sh ran before rehearse existed),
#                       given the same 2048-bit mesh CA rehearse makes
# Prints the medians, the ratio to the peer, and the requests per step of
# the last count-1 run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
runs=${1:-5}
bin=$PWD/build/meshvm
[ -x "$bin" ] || { echo "bench: build first (cmake --build build)" >&2; exit 2; }
work=$(mktemp -d)
fake_pid=
cleanup() {
	[ -z "$fake_pid" ] || { kill "$fake_pid" 2>/dev/null; wait "$fake_pid" 2>/dev/null; } || true
	rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# rehearse ARGS...: one timed run; "WALL CPU" seconds on stdout (CPU:
# user + system of the process, which the shared machine's load does not
# inflate), the report in $work/last.json
rehearse() {
	local t TIMEFORMAT='%R %U %S'
	t=$( { time "$bin" --json rehearse "$@" >"$work/last.json" 2>"$work/err"; } 2>&1 ) ||
		return 1
	echo "$t" | awk '{print $1, $2 + $3}'
}
cpu_median() { awk '{print $2}' "$1" | median; }

peer() {
	local d=$work/peer.d t0 t1
	rm -rf "$d"
	mkdir -p "$d/.meshvm"
	chmod 700 "$d/.meshvm"
	cp -r "$work/ca" "$d/.meshvm/ca" # the same 2048-bit CA rehearse makes
	t0=$(now)
	# simulated VMs, as rehearse runs them, so `up` reaches join
	"$bin" fake --no-auth --ready-file "$d/url" --op-polls 1 \
		--controller-delay-ms 0 --boot-vms --lb-range 127.77.0.0/24 \
		>"$d/fake.log" 2>&1 &
	fake_pid=$!
	while [ ! -s "$d/url" ]; do sleep 0.01; done
	(
		cd "$d"
		export MESHVM_GOOGLE_ENDPOINT
		MESHVM_GOOGLE_ENDPOINT=$(head -n1 url)
		export GOOGLE_OAUTH_ACCESS_TOKEN=bench MESHVM_TIMING=fast
		"$bin" init --example >/dev/null
		sed -i "s|^  sidecar: .*|  sidecar: $work/sidecar.deb|" meshvm.yaml
		"$bin" up >/dev/null 2>&1
		"$bin" status >/dev/null 2>&1
		"$bin" down --yes >/dev/null 2>&1
	)
	kill "$fake_pid"
	wait "$fake_pid" 2>/dev/null || true
	fake_pid=
	t1=$(now)
	awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}'
}

echo "bench: $runs runs each on $(nproc) cores ($(uname -m))"
# the peer gets the mesh CA a rehearsal makes (keys are not what is timed)
"$bin" rehearse --keep >/dev/null 2>"$work/keep.err"
keep=$(sed -n 's/.*rehearse: working directory //p' "$work/keep.err")
cp -r "$keep/.meshvm/ca" "$work/ca"
cp "$keep/rehearse-sidecar.deb" "$work/sidecar.deb"
rm -rf "$keep"
for _ in $(seq "$runs"); do rehearse; done >"$work/c1.list"
awk '{print $1}' "$work/c1.list" | median >"$work/c1"
cp "$work/last.json" "$work/c1.json"
c10=
if r=$(rehearse --count 10); then
	for _ in $(seq $((runs - 1))); do rehearse --count 10; done >"$work/c10.list"
	echo "$r" >>"$work/c10.list"
	c10=$(awk '{print $1}' "$work/c10.list" | median)
else
	c10_why=$(grep -m1 . "$work/err" || true)
fi
for _ in $(seq "$runs"); do peer; done | median >"$work/peer"

c1=$(cat "$work/c1")
p=$(cat "$work/peer")
verdict() { awk -v v="$1" -v l="$2" 'BEGIN {print (v < l) ? "under" : "OVER"}'; }
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf 'rehearse count 1 : median %.2f s wall, %.2f s CPU (limit 5 s wall: %s)\n' \
	"$c1" "$(cpu_median "$work/c1.list")" "$(verdict "$c1" 5)"
if [ -n "$c10" ]; then
	printf 'rehearse count 10: median %.2f s wall, %.2f s CPU (limit 10 s wall: %s)\n' \
		"$c10" "$(cpu_median "$work/c10.list")" "$(verdict "$c10" 10)"
else
	echo "rehearse count 10: did not run: ${c10_why:-unknown}"
fi
printf 'peer (separate processes, up/status/down): median %.2f s; rehearse is %.2fx of it\n' \
	"$p" "$(awk -v a="$c1" -v b="$p" 'BEGIN {print a / b}')"
echo
echo "requests per step (last count-1 run):"
python3 - "$work/c1.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print("%-22s %9s %9s %9s" % ("step", "wall ms", "requests", "mutating"))
for s in r["steps"] + [dict(r["total"], name="total")]:
    print("%-22s %9d %9d %9d" % (s["name"], s["wall_ms"], s["requests"], s["mutating"]))
PY
