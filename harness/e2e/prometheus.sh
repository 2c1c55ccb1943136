#!/usr/bin/env bash
# harness/e2e/prometheus.sh - real Prometheus (Debian's 2.42) scrapes the
# fake's /prom/c1/metrics every second on loopback, inside a private
# network namespace, while the fake's simulated traffic runs at
# --traffic-speed 1 through a 50/50 VirtualService.  The migration gate
# (gate_probe) evaluated against real Prometheus, with the query window
# equal to the step interval: once healthy (passes), once with the GKE
# side failing 30% (fails); each time the fake's own query API gives the
# same decision.  Then `meshvm migrate` itself against real Prometheus
# (a fresh fake, `up --until identity`, Prometheus scraping cluster1's
# callers, --traffic-speed 1, the query window = the 5 s interval): once
# healthy (completes), once with the GKE side failing 30% (the first gate
# fails, exit 4, back to 100/0); each run repeated with the fake's own
# query API as migration.prometheus_url reaches the same decision.  Proves
# our PromQL is real PromQL and our exposition scrapes.  About 90 s of
# wall time.
#   usage: prometheus.sh   (GATE_PROBE and MESHVM_BIN from ctest)
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
e2e_enter_netns "$@"
e2e_require prometheus curl ip

probe=${GATE_PROBE:?GATE_PROBE must name the gate_probe binary}
work=$(mktemp -d "${TMPDIR:-/tmp}/meshvm-e2e-prom.XXXXXX")
PROM_PID=
stop_prom() {
	if [ -n "$PROM_PID" ]; then
		kill "$PROM_PID" 2>/dev/null || true
		wait "$PROM_PID" 2>/dev/null || true
	fi
	PROM_PID=
}
cleanup() {
	stop_prom
	e2e_stop_fake || true
	rm -rf "$work"
}
trap cleanup EXIT

window=5
# Istio's kinds exist once their CRDs are applied (as on a real cluster):
# the fixture starts with the VirtualService CRD (Debian's python3 has
# PyYAML, cloud-init needs it).
/usr/bin/python3 - "$here/../../fixtures/istio/crds/virtualservices.yaml" \
	>"$work/fixture.json" <<'PY'
import json, sys, yaml
crds = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
vs = {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
      "metadata": {"name": "productcatalog-migration"},
      "spec": {"hosts": ["productcatalogservice"], "http": [{"route": [
          {"destination": {"host": "productcatalogservice", "subset": "vm"},
           "weight": 50},
          {"destination": {"host": "productcatalogservice", "subset": "gke"},
           "weight": 50}]}]}}
json.dump({"clusters": [{"project": "p", "location": "us-west1-b",
                         "name": "c1"}],
           "kube": {"c1": crds + [vs]}}, sys.stdout)
PY
healthy='traffic:
  rps: 40
  rules:
    - destination: gke
      latency_ms: 40
    - destination: vm
      latency_ms: 5
'
failing='traffic:
  rps: 40
  rules:
    - destination: gke
      error_rate: 0.3
      latency_ms: 40
    - destination: vm
      latency_ms: 5
'
printf '%s' "$healthy" >"$work/faults.yaml"
e2e_start_fake "$work" --no-auth --op-polls 0 --traffic-speed 1 \
	--faults "$work/faults.yaml" --load-state "$work/fixture.json"
hostport=${FAKE_URL#http://}

# the first traffic-second makes the series
for _ in $(seq 50); do
	curl -sf "$FAKE_URL/prom/c1/metrics" >"$work/metrics.txt"
	grep -q '^istio_requests_total{' "$work/metrics.txt" && break
	sleep 0.1
done
grep -q '^istio_requests_total{' "$work/metrics.txt" || {
	echo "prometheus.sh: the fake exports no istio_requests_total" >&2
	exit 1
}

cat >"$work/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: fake
    metrics_path: /prom/c1/metrics
    static_configs:
      - targets: ["$hostport"]
YAML
prom=http://127.0.0.1:19090
# start_prom DATADIR: Prometheus with $work/prometheus.yml, until ready
start_prom() {
	prometheus --config.file="$work/prometheus.yml" \
		--storage.tsdb.path="$1" --web.listen-address=127.0.0.1:19090 \
		>"$work/prometheus.log" 2>&1 &
	PROM_PID=$!
	for _ in $(seq 100); do
		curl -sf "$prom/-/ready" >/dev/null 2>&1 && break
		kill -0 "$PROM_PID" 2>/dev/null || {
			cat "$work/prometheus.log" >&2
			echo "prometheus.sh: prometheus died" >&2
			exit 1
		}
		sleep 0.2
	done
	curl -sf "$prom/-/ready" >/dev/null
}
start_prom "$work/data"

# gate URL EXPECTED(0 pass, 4 fail) LABEL
gate() {
	local rc=0
	"$probe" "$1" productcatalogservice "$window" 0.99 100 vm gke \
		>"$work/gate.out" 2>&1 || rc=$?
	sed "s/^/  $3: /" "$work/gate.out"
	if [ "$rc" != "$2" ]; then
		echo "prometheus.sh: $3: gate exit $rc, expected $2" >&2
		cat "$work/prometheus.log" >&2
		exit 1
	fi
}

# a full window of scrapes of healthy traffic
sleep $((window + 3))
up=$(curl -sf "$prom/api/v1/query" --data-urlencode 'query=up{job="fake"}')
case $up in *'"1"]'*) ;; *)
	echo "prometheus.sh: the scrape is not up: $up" >&2
	exit 1
esac
gate "$prom" 0 "real prometheus, healthy"
gate "$FAKE_URL/prom/c1" 0 "fake query API, healthy"

# the GKE side fails 30%: a full window later both say fail
curl -sf -X PUT --data-binary "$failing" "$FAKE_URL/_fake/faults" >/dev/null
sleep $((window + 2))
gate "$prom" 4 "real prometheus, gke failing"
grep -q 'gke: success rate 0\.[0-9]* < 0\.9900' "$work/gate.out"
gate "$FAKE_URL/prom/c1" 4 "fake query API, gke failing"
grep -q 'gke: success rate 0\.7000 < 0\.9900' "$work/gate.out"

# Prometheus down: no data fails the gate
stop_prom
gate "$prom" 4 "prometheus down"
grep -q 'no gate data' "$work/gate.out"
e2e_stop_fake

# ---- `meshvm migrate` with real Prometheus ----
src=$(cd "$here/../.." && pwd)
run=$work/migrate
mkdir -p "$run"
printf '%s' "$healthy" >"$run/faults.yaml"
e2e_start_fake "$run" --no-auth --op-polls 1 --traffic-speed 1 \
	--faults "$run/faults.yaml"
export MESHVM_GOOGLE_ENDPOINT=$FAKE_URL PROJECT_ID=meshvm-e2e \
	GOOGLE_OAUTH_ACCESS_TOKEN=e2e-token KUBECACHEDIR=$run
mv_() { "${MESHVM_BIN:-build/meshvm}" -C "$run/meshvm.yaml" "$@"; }
(cd "$run" && "${MESHVM_BIN:-build/meshvm}" init >/dev/null)
# config URL: migration.prometheus_url
config() {
	cp "$run/meshvm.base.yaml" "$run/meshvm.yaml"
	cat >>"$run/meshvm.yaml" <<YAML
migration:
  prometheus_url: $1
  interval: $window
  steps: [50, 100]
YAML
}
cat >>"$run/meshvm.yaml" <<YAML
mesh:
  istio_manifests: $src/fixtures/istio
app:
  manifests: $src/fixtures/app/manifests
YAML
cp "$run/meshvm.yaml" "$run/meshvm.base.yaml"
mv_ up --until identity >"$run/up.log" 2>&1 || {
	cat "$run/up.log" >&2
	exit 1
}
cat >"$work/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: fake
    metrics_path: /prom/cluster1/metrics
    static_configs:
      - targets: ["${FAKE_URL#http://}"]
YAML
start_prom "$work/data2"
# a window's worth of scrapes before the first gate (rate needs two)
for _ in $(seq 60); do
	n=$(curl -sf "$prom/api/v1/query" --data-urlencode \
		"query=count_over_time(up{job=\"fake\"}[${window}s])" |
		sed -n 's/.*"value":\[[0-9.]*,"\([0-9]*\)"\].*/\1/p')
	[ "${n:-0}" -ge $((window - 1)) ] && break
	sleep 0.5
done

# migrate URL EXPECTED_EXIT LABEL: one migration, then back to 100/0
migrate() {
	local rc=0
	config "$1"
	mv_ migrate --traffic-speed 1 >"$run/migrate.out" 2>&1 || rc=$?
	sed "s/^/  $3: /" "$run/migrate.out"
	if [ "$rc" != "$2" ]; then
		echo "prometheus.sh: $3: migrate exit $rc, expected $2" >&2
		cat "$work/prometheus.log" >&2
		exit 1
	fi
	cp "$run/migrate.out" "$run/$4.out"
	mv_ migrate --abort >/dev/null 2>&1
}
migrate "$prom" 0 "migrate, real prometheus, healthy" real-healthy
grep -q 'migrate: done at step 2/2: 0/100 (VM/GKE)' "$run/real-healthy.out"
migrate "$FAKE_URL/prom/cluster1" 0 "migrate, fake query API, healthy" \
	fake-healthy
grep -q 'migrate: done at step 2/2: 0/100 (VM/GKE)' "$run/fake-healthy.out"

curl -sf -X PUT --data-binary "$failing" "$FAKE_URL/_fake/faults" >/dev/null
# the same failure, the same decision: step 1, the GKE side's success rate
decision='step 1/2 (50/50 VM/GKE) failed its gate: productcatalogservice gke: success rate 0\.[0-9]* < 0\.9900 .*rolled back to 100/0'
migrate "$prom" 4 "migrate, real prometheus, gke failing" real-failing
grep -q "$decision" "$run/real-failing.out"
migrate "$FAKE_URL/prom/cluster1" 4 "migrate, fake query API, gke failing" \
	fake-failing
grep -q "$decision" "$run/fake-failing.out"
grep -q 'gke: success rate 0\.7000 < 0\.9900' "$run/fake-failing.out"
echo "prometheus.sh: ok"
