#!/usr/bin/env bash
# harness/e2e/crash.sh small|full - the crash matrix: `meshvm up` killed
# with SIGKILL at a step boundary or at a random request inside a step,
# then rerun.  Every point must converge (the rerun exits 0, one more run
# sends no mutating request), `down` must leave the fake empty, and the
# journal must show no resource created twice.  The boundaries come from
# a clean rehearsal's per-step request counts (`meshvm rehearse --json`).
#   small  a few boundaries and random points (CI)
#   full   every step boundary and a random point inside every step
#          (ctest label slow; not run by default)
# CRASH_SEED (default 1) seeds the random points.  Loopback only, in a
# private network namespace.
set -euo pipefail
# shellcheck source=harness/e2e/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_enter_netns "$@"

bin=${MESHVM_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/build/meshvm}
mode=${1:-small}
RANDOM=${CRASH_SEED:-1}
work=$(mktemp -d)
# A failed point's logs stay (fail names them); a passing run leaves nothing.
keep=
cleanup() { e2e_stop_fake >/dev/null 2>&1 || true; [ -n "$keep" ] || rm -rf "$work"; }
trap cleanup EXIT
fail() { keep=1; echo "crash.sh: $*" >&2; exit 1; }

# The reference run: rows "NAME FIRST-LINE COUNT" of `up` (preflight and
# each step), and its mesh CA (2048-bit, made once) for every point.
"$bin" --json rehearse --keep >"$work/ref.json" 2>"$work/ref.err" ||
	{ cat "$work/ref.err" >&2; fail "the reference rehearsal failed"; }
ref_dir=$(sed -n 's/.*rehearse: working directory //p' "$work/ref.err")
[ -d "$ref_dir/.meshvm/ca" ] || fail "no CA in the reference run ($ref_dir)"
cp -r "$ref_dir/.meshvm/ca" "$work/ca"
cp "$ref_dir/rehearse-sidecar.deb" "$work/sidecar.deb"
rm -rf "$ref_dir"
python3 - "$work/ref.json" >"$work/rows" <<'PY'
import json, sys
at = 0
for s in json.load(open(sys.argv[1]))["steps"]:
    if s["name"] in ("up again (no change)", "status", "down"):
        break
    print(s["name"], at, s["requests"])
    at += s["requests"]
PY

# The points: "LABEL KILL-AFTER-N-REQUESTS".
points=$work/points
: >"$points"
while read -r name first count; do
	[ "$name" = preflight ] && continue
	case $mode in
	small) case $name in firewall|istio|deliver|join) echo "boundary-before-$name $first" ;; esac
	       case $name in clusters|istio|launch) [ "$count" -gt 1 ] &&
	            echo "inside-$name $((first + 1 + RANDOM % (count - 1)))" ;; esac ;;
	full) echo "boundary-before-$name $first"
	      [ "$count" -gt 1 ] && echo "inside-$name $((first + 1 + RANDOM % (count - 1)))" ;;
	*) fail "usage: crash.sh small|full" ;;
	esac
done <"$work/rows" >>"$points"
[ -s "$points" ] || fail "no crash points (rows: $(cat "$work/rows"))"

# Creates per resource and what the fake still holds, from its journal
# and state (the same rules as `meshvm rehearse`).
verify() {
	python3 - "$1/journal.jsonl" "$1/state.json" <<'PY'
import json, sys
creates = {}
for line in open(sys.argv[1]):
    e = json.loads(line)
    st, m, b = e["status"], e["method"], e.get("body") or {}
    if not 200 <= st <= 299:
        continue
    key = None
    if m == "PATCH" and st == 201:
        key = e["listener"] + " " + e["path"]
    elif m == "POST" and isinstance(b, dict):
        name = b.get("name") or (b.get("cluster") or {}).get("name") or \
               (b.get("metadata") or {}).get("name")
        if name:
            key = e["listener"] + " " + e["path"] + "/" + name
    if key:
        creates[key] = creates.get(key, 0) + 1
dups = [k for k, n in creates.items() if n > 1]
assert not dups, "created more than once: %s" % dups
skip = {"seq", "operations", "request_ids", "tokens", "url", "serial",
        "guest_attributes", "uploads", "quotas", "iam"}
state = json.load(open(sys.argv[2]))
left = [t + "/" + k for t, v in state.items() if t not in skip and isinstance(v, dict) for k in v]
assert not left, "left in the fake after down: %s" % left
print(len(creates), "resources, each created once; the fake is empty")
PY
}

# meshvm's mutating requests in the journal (not the simulated VMs')
ours_mutating() {
	python3 -c 'import json, sys
print(sum(1 for l in open("journal.jsonl") for e in [json.loads(l)]
          if e["mutating"] and e["headers"].get("user-agent", "").startswith("meshvm/")))'
}

n=0
while read -r label kill_at; do
	n=$((n + 1))
	d=$work/p$n
	mkdir -p "$d/.meshvm"
	chmod 700 "$d/.meshvm"
	cp -r "$work/ca" "$d/.meshvm/ca"
	# as rehearse runs it: simulated VMs (the stub sidecar registers with
	# the fake's istiod, on a loopback LoadBalancer address)
	e2e_start_fake "$d" --no-auth --listen 127.0.0.1:0 --journal-bodies \
		--op-polls 1 --controller-delay-ms 0 --boot-vms \
		--lb-range 127.77.0.0/24
	(
		cd "$d"
		export MESHVM_GOOGLE_ENDPOINT=$FAKE_URL MESHVM_TIMING=fast
		export GOOGLE_OAUTH_ACCESS_TOKEN=crash-token
		# the join waits up to 5 minutes, not MESHVM_TIMING=fast's 60 s:
		# a simulated VM boots slowly on a loaded 2-core CI machine
		"$bin" init --example >/dev/null
		sed -i "s|^  sidecar: .*|  sidecar: $work/sidecar.deb|" meshvm.yaml
		"$bin" up --join-timeout 5m >up-killed.log 2>&1 &
		pid=$!
		while kill -0 "$pid" 2>/dev/null; do
			if [ "$(wc -l <journal.jsonl)" -ge "$kill_at" ]; then
				kill -9 "$pid" 2>/dev/null || true
				break
			fi
		done
		wait "$pid" 2>/dev/null && echo "  (up finished before request $kill_at)" || true
		killed_at=$(wc -l <journal.jsonl)
		"$bin" up --join-timeout 5m >up-rerun.log 2>&1 || { cat up-rerun.log >&2; exit 1; }
		before=$(ours_mutating)
		"$bin" up --join-timeout 5m >up-again.log 2>&1 || { cat up-again.log >&2; exit 1; }
		after=$(ours_mutating)
		[ "$after" -eq "$before" ] ||
			{ echo "a converged rerun sent $((after - before)) mutating requests" >&2; exit 1; }
		"$bin" down --yes >down.log 2>&1 || { cat down.log >&2; exit 1; }
		curl -sf "$FAKE_URL/_fake/state" >state.json
		echo "$label: killed at request $killed_at (target $kill_at): $(verify "$d")"
	) || fail "$label (kill at request $kill_at) did not converge; logs in $d"
	e2e_stop_fake
done <"$points"
echo "crash matrix ($mode): $n points, all converged"
