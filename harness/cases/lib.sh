# harness/cases/lib.sh - shell helpers for protocol case steps (sourced by
# the runner before each `run:`).  Environment from the runner: MESHVM (the
# binary), FAKE_URL, JOURNAL (the fake's JSON-lines journal), CASE_DIR.
# shellcheck shell=sh

# journal_flush: the fake writes the journal file through a buffer; any
# control call flushes it.
journal_flush() {
	curl -sf "$FAKE_URL/_fake/clock" >/dev/null || true
}

# journal_count REGEX: journal lines whose "METHOD PATH" matches REGEX.
journal_count() {
	journal_flush
	sed -n 's/.*"method":"\([A-Z]*\)","path":"\([^"]*\)".*/\1 \2/p' "$JOURNAL" |
		grep -cE "$1" || true
}

# wait_journal REGEX N [SECONDS]: until at least N matching requests.
wait_journal() {
	i=0
	limit=$((${3:-30} * 20))
	while [ "$(journal_count "$1")" -lt "$2" ]; do
		i=$((i + 1))
		if [ "$i" -gt "$limit" ]; then
			echo "wait_journal: fewer than $2 requests matching $1" >&2
			return 1
		fi
		sleep 0.05
	done
}

# fake_create_cluster ZONE NAME MESHVM_ID: a cluster someone else made.
fake_create_cluster() {
	curl -sf -X POST -H 'Content-Type: application/json' \
		"$FAKE_URL/v1/projects/$PROJECT_ID/locations/$1/clusters" \
		-d "{\"cluster\":{\"name\":\"$2\",\"resourceLabels\":{\"meshvm-id\":\"$3\"},\"nodePools\":[{\"name\":\"default-pool\",\"initialNodeCount\":1}]}}" \
		>/dev/null
}

# kill9_after_requests PID BASE N: kill -9 PID once the journal holds N
# requests more than BASE lines (or PID ended by itself).
kill9_after_requests() {
	while journal_flush && [ $(($(wc -l <"$JOURNAL") - $2)) -lt "$3" ] &&
		kill -0 "$1" 2>/dev/null; do
		sleep 0.01
	done
	kill -9 "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# mesh_config: point meshvm.yaml at the fixture Istio control plane and
# app (the mesh steps: mesh-ca, istio, app, vm-group, identity).
mesh_config() {
	cat >>meshvm.yaml <<MESH
mesh:
  istio_manifests: $MESHVM_SRC/fixtures/istio
app:
  manifests: $MESHVM_SRC/fixtures/app/manifests
MESH
}


# vm_names PREFIX: the fake's instances whose name starts with PREFIX-
# (a managed group's members), one per line, sorted.
vm_names() {
	curl -sf -H 'Authorization: Bearer test-token' \
		"$FAKE_URL/compute/v1/projects/$PROJECT_ID/zones/us-central1-b/instances" |
		python3 -c 'import json,sys; n=sorted(i["name"] for i in json.load(sys.stdin).get("items", []) if i["name"].startswith(sys.argv[1] + "-")); n and print("\n".join(n))' "$1"
}

# vm_join NAME...: each VM's first boot as its sidecar would do it
# (harness/cases/vmjoin.py), for cases run without --boot-vms.
vm_join() {
	for vm in "$@"; do
		python3 "$MESHVM_SRC/harness/cases/vmjoin.py" "$vm" >/dev/null
	done
}

# fleet_config N: the offline example with vm.count N.
fleet_config() {
	sed -i "s/^  name: istio-gce\$/  name: istio-gce\n  count: $1/" meshvm.yaml
}

# migrate_config [INTERVAL]: `meshvm migrate`'s gate reads each cluster's
# Prometheus in the fake (FAKE/prom/CLUSTER); interval on the traffic clock.
migrate_config() {
	cat >>meshvm.yaml <<MIG
migration:
  prometheus_url:
    cluster1: $FAKE_URL/prom/cluster1
    cluster2: $FAKE_URL/prom/cluster2
  interval: ${1:-10}
MIG
}

# vs_weights STEPS: the VirtualService productcatalog-migration's weights
# as the journal shows them applied (2xx), one line per cluster in order:
# "cluster1: 100/0 90/10 50/50 0/100".  Fails when any weights sent
# (answered or not) are neither 100/0 nor a step of STEPS ("10,50,100"),
# or do not sum to 100.  Needs the fake's --journal-bodies.
vs_weights() {
	journal_flush
	python3 - "$JOURNAL" "$1" <<'PY'
import json, sys
plan = {(100, 0)} | {(100 - int(s), int(s)) for s in sys.argv[2].split(",")}
seen, bad = {}, []
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["method"] not in ("PATCH", "PUT", "POST") or \
       "/virtualservices" not in r["path"] or \
       "productcatalog-migration" not in json.dumps(r.get("body")):
        continue
    route = r["body"]["spec"]["http"][0]["route"]
    w = {d["destination"]["subset"]: d["weight"] for d in route}
    pair = (w.get("vm", -1), w.get("gke", -1))
    if pair not in plan or sum(pair) != 100:
        bad.append("%s %s: %d/%d" % (r["listener"], r["seq"], *pair))
    if 200 <= r["status"] < 300:
        seen.setdefault(r["listener"], []).append("%d/%d" % pair)
for c in sorted(seen):
    print("%s: %s" % (c, " ".join(seen[c])))
if bad:
    print("weights outside the plan:", ", ".join(bad))
    sys.exit(1)
PY
}

# big_image FILE MIB: a docker-save archive of one layer holding MIB MiB of
# random bytes (/app/blob) and a shell: a bundle over the 8 MiB multipart
# limit, so the deliver step takes the resumable path.
big_image() {
	bi=$(mktemp -d)
	mkdir -p "$bi/layer/app" "$bi/img"
	head -c $(($2 << 20)) /dev/urandom >"$bi/layer/app/blob"
	printf '#!/bin/sh\nexec sleep 3600\n' >"$bi/layer/app/run"
	chmod 0755 "$bi/layer/app/run"
	tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
		--format=ustar -C "$bi/layer" -cf "$bi/layer.tar" .
	id=$(sha256sum "$bi/layer.tar" | cut -d' ' -f1)
	mkdir -p "$bi/img/$id"
	mv "$bi/layer.tar" "$bi/img/$id/layer.tar"
	printf '{"architecture":"amd64","os":"linux","config":{"Entrypoint":["/app/run"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
		"$id" >"$bi/config.json"
	cid=$(sha256sum "$bi/config.json" | cut -d' ' -f1)
	mv "$bi/config.json" "$bi/img/$cid.json"
	printf '[{"Config":"%s.json","RepoTags":["big:1"],"Layers":["%s/layer.tar"]}]\n' \
		"$cid" "$id" >"$bi/img/manifest.json"
	tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
		--format=ustar -C "$bi/img" -cf "$1" .
	rm -rf "$bi"
}

# journal_since N: the journal's lines after the first N.
journal_since() {
	journal_flush
	tail -n "+$(($1 + 1))" "$JOURNAL"
}

# join_in_background N CMD...: run CMD (a `meshvm up` that waits for the
# group to join) while playing the first boot of each new group member
# as it appears (members named in $JOIN_SKIP are old ones, left alone;
# $JOIN_NAMES_CMD lists the names, default `vm_names istio-gce`),
# until N members joined; CMD's exit code.
join_in_background() {
	n=$1
	shift
	"$@" >bg.log 2>&1 &
	bg=$!
	joined=" ${JOIN_SKIP:-} "
	i=0
	while kill -0 "$bg" 2>/dev/null && [ "$i" -lt 600 ]; do
		for vm in $(${JOIN_NAMES_CMD:-vm_names istio-gce}); do
			case " $joined " in *" $vm "*) continue ;; esac
			if [ "$(echo "$joined" | wc -w)" -lt "$((n + $(echo "${JOIN_SKIP:-}" | wc -w)))" ] &&
				python3 "$MESHVM_SRC/harness/cases/vmjoin.py" "$vm" >/dev/null 2>&1; then
				joined="$joined $vm"
			fi
		done
		i=$((i + 1))
		sleep 0.1
	done
	rc=0
	wait "$bg" || rc=$?
	cat bg.log
	return "$rc"
}
