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
		python3 -c 'import json,sys; print("\n".join(sorted(i["name"] for i in json.load(sys.stdin).get("items", []) if i["name"].startswith(sys.argv[1] + "-"))))' "$1"
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
