#!/usr/bin/env bash
# bench/fake.sh - meshvm fake against nginx, same machine, same run.
#
#   bash bench/fake.sh              (BENCH_SECS=20 per wrk run by default)
#   BENCH_SECS=5 bash bench/fake.sh (a short sanity run)
#
# 1. GET of a GKE cluster (about 1.7 KB of JSON) over plain HTTP: the fake
#    vs nginx (Debian nginx-light) serving the same bytes as a static file
#    on another loopback port.  wrk -t2 -c16 --latency for both.
# 2. memory: the fake's RSS after warm-up and after serving at least
#    BENCH_MEMORY_REQUESTS (default 1000000) more requests.
# 3. a list of 100 ConfigMaps from a cluster's Kubernetes API over TLS vs
#    nginx serving the same bytes over TLS (a self-signed RSA 2048
#    certificate, like the fake's); then memory as in 2.
# 4. churn: after a warm-up that fills the fake's bounded tables (600
#    fast create/delete cycles: the 1000 finished operations it keeps),
#    BENCH_CHURN_SECS (default 120) of a cluster created and deleted in a
#    loop, watches opened and timing out, ConfigMaps written (watch
#    events) and GETs, all at once; the fake's RSS at 20 s, half-way and
#    at the end.
# BENCH_PARTS="get tls churn" picks parts; BENCH_WORKERS (default 2) is
# both nginx's workers and the fake's --threads.
# The machine may be shared: each comparison runs BENCH_ROUNDS (default 4)
# rounds of BENCH_SECS/BENCH_ROUNDS seconds per server, nginx and the fake
# in turn (the order swapped every round), and sums them, so load that
# comes and goes hits both alike.  Each also reports the server's CPU time
# per request (user + system, from /proc), which load hardly moves.
# Targets: issue 3, req/s >= 0.4x nginx, p99 <= 2x nginx, memory flat;
# issue 4, req/s >= 0.25x nginx over TLS, memory flat; issue 10, GET and
# TLS list >= 0.9x nginx, RSS flat under churn after warm-up.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
secs=${BENCH_SECS:-20}
rounds=${BENCH_ROUNDS:-4}
mem_requests=${BENCH_MEMORY_REQUESTS:-1000000}
# Like for like: as many nginx workers as fake worker threads per
# listener (one epoll loop each), keep-alive on both, the same wrk.
workers=${BENCH_WORKERS:-2}
# BENCH_PARTS: which of get, tls, churn to measure (all by default)
parts=" ${BENCH_PARTS:-get tls churn} "
want() { [[ "$parts" == *" $1 "* ]]; }
bin=$PWD/build/meshvm
[ -x "$bin" ] || { echo "bench: build first (cmake --build build)" >&2; exit 2; }
ensure_packages wrk nginx-light curl python3 openssl

work=$(mktemp -d "${TMPDIR:-/tmp}/meshvm-bench-fake.XXXXXX")
fake_pid=''
nginx_pid=''
stop() { # stop PID: TERM and reap, quietly
	if [ -n "$1" ] && kill "$1" 2>/dev/null; then
		wait "$1" 2>/dev/null || true
	fi
}
cleanup() {
	stop "$fake_pid"
	stop "$nginx_pid"
	rm -rf "$work"
}
trap cleanup EXIT

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# cpu_ticks PID...: user + system clock ticks of the processes (and, for
# nginx, its workers)
cpu_ticks() {
	local t=0 p
	for p in "$@"; do
		t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
	done
	echo "$t"
}

# compare NAME_A URL_A PIDS_A NAME_B URL_B PIDS_B TARGET: rounds of A and
# B in turn; prints "NAME req/s p50_ms p99_ms requests us_cpu_per_request"
# for both (p50/p99: the median over the rounds) and the ratios B/A
compare() {
	local na=$1 ua=$2 pa=$3 nb=$4 ub=$5 pb=$6 target=$7
	local each=$(((secs + rounds - 1) / rounds)) r first
	local ra='' rb='' ca=0 cb=0 c0
	[ "$each" -ge 1 ] || each=1
	for r in $(seq "$rounds"); do
		for first in a b; do
			if { [ $((r % 2)) = 1 ] && [ "$first" = a ]; } ||
				{ [ $((r % 2)) = 0 ] && [ "$first" = b ]; }; then
				# shellcheck disable=SC2086 # lists of pids
				c0=$(cpu_ticks $pa)
				ra="$ra $(wrk_run "$na" "$ua" "$each")"
				# shellcheck disable=SC2086
				ca=$((ca + $(cpu_ticks $pa) - c0))
			else
				# shellcheck disable=SC2086
				c0=$(cpu_ticks $pb)
				rb="$rb $(wrk_run "$nb" "$ub" "$each")"
				# shellcheck disable=SC2086
				cb=$((cb + $(cpu_ticks $pb) - c0))
			fi
		done
	done
	python3 - "$target" "$each" "$(getconf CLK_TCK)" "$ca" "$cb" "$ra" "$rb" <<'PY'
import statistics, sys
target, each, tck, ca, cb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
def side(runs, ticks):
    f = runs.split()
    rows = [f[i:i + 5] for i in range(0, len(f), 5)]
    n = sum(int(r[4]) for r in rows)
    rps = n / (each * len(rows))
    p50 = statistics.median(float(r[2]) for r in rows)
    p99 = statistics.median(float(r[3]) for r in rows)
    us = ticks * 1e6 / tck / n if n else 0
    print("%s %.0f %.3f %.3f %d %.1f" % (rows[0][0], rps, p50, p99, n, us))
    return rps, p99, us
a = side(sys.argv[6], ca)
b = side(sys.argv[7], cb)
print("ratio req/s %s/%s = %.2f (target %s)" % (sys.argv[7].split()[0], sys.argv[6].split()[0], b[0] / a[0], target))
print("ratio p99  = %.2f" % (b[1] / a[1]))
print("ratio CPU per request = %.2f (less is better)" % (b[2] / a[2] if a[2] else 0))
PY
}

# wrk_run NAME URL SECS: prints "NAME req/s p50_ms p99_ms requests"
wrk_run() {
	local out
	out=$(wrk -t2 -c16 -d"$3"s --latency "$2")
	python3 - "$1" <<PY
import re, sys
out = """$out"""
def ms(v):
    m = re.match(r"([\d.]+)(us|ms|s)", v)
    n, u = float(m.group(1)), m.group(2)
    return n / 1000 if u == "us" else n * 1000 if u == "s" else n
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
p50 = ms(re.search(r"\s50%\s+(\S+)", out).group(1))
p99 = ms(re.search(r"\s99%\s+(\S+)", out).group(1))
n = int(re.search(r"(\d+) requests in", out).group(1))
errs = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
if errs:
    sys.exit("%s: %s non-2xx answers" % (sys.argv[1], errs.group(1)))
print("%s %.0f %.3f %.3f %d" % (sys.argv[1], rps, p50, p99, n))
PY
}

nginx_start() { # nginx_start DIR PORT [ssl]
	local d=$1 port=$2 tls=${3:-}
	mkdir -p "$d/logs" "$d/tmp"
	local listen="listen 127.0.0.1:$port;"
	local extra=""
	if [ -n "$tls" ]; then
		listen="listen 127.0.0.1:$port ssl;"
		# TLS 1.3 as the fake speaks it (nginx 1.22 offers only up
		# to 1.2 by default): both then send AES-256-GCM records
		extra="ssl_certificate $d/cert.pem; ssl_certificate_key $d/key.pem; ssl_protocols TLSv1.2 TLSv1.3;"
	fi
	cat >"$d/nginx.conf" <<CONF
worker_processes $workers;
daemon off;
pid $d/nginx.pid;
error_log $d/logs/error.log warn;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $d/tmp/body;
	proxy_temp_path $d/tmp/proxy;
	fastcgi_temp_path $d/tmp/fastcgi;
	uwsgi_temp_path $d/tmp/uwsgi;
	scgi_temp_path $d/tmp/scgi;
	keepalive_requests 1000000;
	server {
		$listen
		$extra
		root $d/www;
		location / { default_type application/json; }
	}
}
CONF
	nginx -c "$d/nginx.conf" -p "$d" >"$d/logs/stdout" 2>&1 &
	nginx_pid=$!
	local _
	for _ in $(seq 50); do
		curl -skf "http${tls:+s}://127.0.0.1:$port/x.json" -o /dev/null \
			2>/dev/null && break
		sleep 0.1
	done
}

# ---- the fake ----
# --watch-history 256: the watch history is bounded (4096 events by
# default), but the churn's writes would take minutes to fill 4096; with
# 256 it is full within the warm-up, so the churn shows growth beyond the
# bounds rather than a bounded history filling up.
"$bin" fake --no-auth --op-polls 0 --watch-history 256 --threads "$workers" \
	--ready-file "$work/ready" >"$work/fake.out" 2>&1 &
fake_pid=$!
for _ in $(seq 100); do [ -s "$work/ready" ] && break; sleep 0.1; done
U=$(head -n 1 "$work/ready")
curl -sf -X POST "$U/v1/projects/bench/locations/us-west1-b/clusters" \
	-H 'Content-Type: application/json' -d '{"cluster":{"name":"cluster1","nodePools":[{"name":"default-pool","initialNodeCount":4,"config":{"machineType":"n1-standard-4"}}]}}' \
	-o /dev/null
cluster_url="$U/v1/projects/bench/locations/us-west1-b/clusters/cluster1"

# ---- nginx with the same bytes ----
chmod 755 "$work"
mkdir -p "$work/nginx/www"
curl -sf "$cluster_url" -o "$work/nginx/www/x.json"
size=$(stat -c %s "$work/nginx/www/x.json")
chmod -R a+rX "$work/nginx"
nport=$(free_port)
nginx_start "$work/nginx" "$nport"

if want get; then
echo "bench: GET of a cluster ($size bytes), wrk -t2 -c16, $rounds x 2 rounds of $(((secs + rounds - 1) / rounds))s, $(nproc) cores"
echo "columns: server req/s p50_ms p99_ms requests cpu_us_per_request"
wrk_run warmup "$cluster_url" 2 >/dev/null
nginx_pids="$nginx_pid $(pgrep -P "$nginx_pid" | tr '\n' ' ')"
compare nginx "http://127.0.0.1:$nport/x.json" "$nginx_pids" \
	fake "$cluster_url" "$fake_pid" ">= 0.9 (issue 10)"
# after the timed run: the journal's ring (20000 lines) is full and the
# allocator has settled, so what follows shows growth, not warm-up
rss0=$(rss_kb "$fake_pid")

# ---- memory over many requests ----
served=0
while [ "$served" -lt "$mem_requests" ]; do
	more=$(wrk_run more "$cluster_url" "$secs")
	served=$((served + $(awk '{print $5}' <<<"$more")))
done
rss1=$(rss_kb "$fake_pid")
echo "memory: fake RSS ${rss0} kB after the timed run, ${rss1} kB after $served more requests" \
	"(growth $((rss1 - rss0)) kB)"
fi

# ---- 3. Kubernetes over TLS: a list of 100 ConfigMaps ----
endpoint=$(curl -sf "$cluster_url" | python3 -c \
	'import json,sys; print(json.load(sys.stdin)["endpoint"])')
K="https://$endpoint"
curl -skf -X POST "$K/api/v1/namespaces" -H 'Content-Type: application/json' \
	-d '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"bench"}}' \
	-o /dev/null
# 99 + kube-root-ca.crt, which every namespace has: 100
for i in $(seq -w 1 99); do
	printf '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm-%s","labels":{"app":"bench"}},"data":{"key":"value-%s","mesh":"meshID: mesh1\\ntrustDomain: cluster.local"}}' "$i" "$i"
	echo
done | while read -r body; do
	curl -skf -X POST "$K/api/v1/namespaces/bench/configmaps" \
		-H 'Content-Type: application/json' -d "$body" -o /dev/null
done
list_url="$K/api/v1/namespaces/bench/configmaps"
mkdir -p "$work/nginx-tls/www"
curl -skf "$list_url" -o "$work/nginx-tls/www/x.json"
items=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["items"]))' \
	"$work/nginx-tls/www/x.json")
size=$(stat -c %s "$work/nginx-tls/www/x.json")
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
	-keyout "$work/nginx-tls/key.pem" -out "$work/nginx-tls/cert.pem" \
	>/dev/null 2>&1
chmod -R a+rX "$work/nginx-tls"
stop "$nginx_pid"
tport=$(free_port)
nginx_start "$work/nginx-tls" "$tport" tls

if want tls; then
echo "bench: list of $items ConfigMaps ($size bytes) over TLS, wrk -t2 -c16, $rounds x 2 rounds of $(((secs + rounds - 1) / rounds))s"
wrk_run warmup "$list_url" 2 >/dev/null
nginx_pids="$nginx_pid $(pgrep -P "$nginx_pid" | tr '\n' ' ')"
compare nginx-tls "https://127.0.0.1:$tport/x.json" "$nginx_pids" \
	fake-tls "$list_url" "$fake_pid" ">= 0.9 (issue 10)"
rss0=$(rss_kb "$fake_pid")
served=0
while [ "$served" -lt "$mem_requests" ]; do
	more=$(wrk_run more "$list_url" "$secs")
	served=$((served + $(awk '{print $5}' <<<"$more")))
done
rss1=$(rss_kb "$fake_pid")
echo "memory (TLS): fake RSS ${rss0} kB after the timed run, ${rss1} kB after $served more requests" \
	"(growth $((rss1 - rss0)) kB)"
fi
want churn || exit 0

# ---- 4. churn: clusters created and deleted, watches, writes ----
churn_secs=${BENCH_CHURN_SECS:-120}
stop "$nginx_pid"
nginx_pid=''
churn_dir=$work/churn
mkdir -p "$churn_dir"
L="$U/v1/projects/bench/locations/us-west1-b"
churn_loop() { # create, use, delete a cluster until the deadline
	local n=0 op
	while [ "$SECONDS" -lt "$1" ]; do
		op=$(curl -sf -X POST "$L/clusters" -H 'Content-Type: application/json' \
			-d '{"cluster":{"name":"churn","initialNodeCount":1}}' |
			python3 -c 'import json,sys; print(json.load(sys.stdin)["name"])') || continue
		curl -sf "$L/operations/$op" -o /dev/null || true
		op=$(curl -sf -X DELETE "$L/clusters/churn" |
			python3 -c 'import json,sys; print(json.load(sys.stdin)["name"])') || continue
		curl -sf "$L/operations/$op" -o /dev/null || true
		n=$((n + 1))
	done
	echo "$n" >"$churn_dir/cycles"
}
watch_loop() { # watches of 2 s, one after the other
	local n=0
	while [ "$SECONDS" -lt "$1" ]; do
		curl -skf "$list_url?watch=1&timeoutSeconds=2" -o /dev/null || true
		n=$((n + 1))
	done
	echo "$n" >"$churn_dir/watches"
}
write_loop() { # ConfigMap updates: the watches' events
	local i=0
	while [ "$SECONDS" -lt "$1" ]; do
		i=$((i + 1))
		curl -skf -X PUT "$list_url/cm-01" -H 'Content-Type: application/json' \
			-d "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"cm-01\"},\"data\":{\"n\":\"$i\"}}" \
			-o /dev/null || true
	done
	echo "$i" >"$churn_dir/writes"
}
# Warm-up: every bounded structure the churn touches is filled first, so
# what follows measures growth beyond the bounds, not the bounds filling:
# the finished operations the fake keeps (1000, then trimmed to 750:
# harness/fake/ops.c; two per cycle, so 600 cycles), the watch history
# (--watch-history 256: 300 writes) and the journal ring (20000 lines:
# 2 s of wrk).  A client on one connection does it in seconds, where the
# curl loops below would take minutes.
wrk -t1 -c2 -d2s "$cluster_url" >/dev/null
python3 - "$L" "$list_url" <<'PY'
import http.client, json, ssl, sys, urllib.parse
g, k = urllib.parse.urlparse(sys.argv[1]), urllib.parse.urlparse(sys.argv[2])
api = http.client.HTTPConnection(g.hostname, g.port)
kube = http.client.HTTPSConnection(k.hostname, k.port,
                                   context=ssl._create_unverified_context())
def call(c, method, path, body=None):
    c.request(method, path, body=json.dumps(body) if body else None,
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    if r.status != 200:
        sys.exit("bench: warm-up: %s %s: %d" % (method, path, r.status))
    return json.loads(data)
for i in range(600):
    op = call(api, "POST", g.path + "/clusters",
              {"cluster": {"name": "churn", "initialNodeCount": 1}})["name"]
    call(api, "GET", g.path + "/operations/" + op)
    op = call(api, "DELETE", g.path + "/clusters/churn")["name"]
    call(api, "GET", g.path + "/operations/" + op)
    if i % 2 == 0:
        call(kube, "PUT", k.path + "/cm-01",
             {"apiVersion": "v1", "kind": "ConfigMap",
              "metadata": {"name": "cm-01"}, "data": {"n": str(i)}})
PY
echo "bench: churn for ${churn_secs}s (cluster create/delete, watches, writes, GETs) after a warm-up of 600 cycles"
end=$((SECONDS + churn_secs))
churn_loop "$end" &
c1=$!
watch_loop "$end" &
c2=$!
watch_loop "$end" &
c3=$!
write_loop "$end" &
c4=$!
sleep 20
rss0=$(rss_kb "$fake_pid")
half=$((SECONDS + (churn_secs - 20) / 2))
rssh=''
while [ "$SECONDS" -lt "$end" ]; do
	wrk -t1 -c2 -d5s "$cluster_url" >/dev/null 2>&1 || true
	if [ -z "$rssh" ] && [ "$SECONDS" -ge "$half" ]; then
		rssh=$(rss_kb "$fake_pid")
	fi
done
wait "$c1" "$c2" "$c3" "$c4"
rss1=$(rss_kb "$fake_pid")
echo "churn: $(cat "$churn_dir/cycles") create/delete cycles, $(( $(cat "$churn_dir/watches") )) watches (2 loops), $(cat "$churn_dir/writes") writes"
echo "memory (churn): fake RSS ${rss0} kB at 20 s, ${rssh:-$rss1} kB half-way, ${rss1} kB at ${churn_secs} s" \
	"(growth $((rss1 - rss0)) kB; second half $((rss1 - ${rssh:-$rss1})) kB)"
