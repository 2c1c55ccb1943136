# harness/e2e/lib.sh - shared by the e2e scripts that drive real clients
# against `meshvm fake`.  Sourced; defines helpers, changes nothing.
# shellcheck shell=bash

# Run the calling script again inside a private network namespace with
# only loopback up, so a client that misses an endpoint override fails
# at once instead of reaching the network.
e2e_enter_netns() {
	if [ "${MESHVM_E2E_NETNS:-}" = 1 ]; then
		ip link set lo up
		return 0
	fi
	export MESHVM_E2E_NETNS=1
	if unshare -n true 2>/dev/null; then
		exec unshare -n bash "$0" "$@"
	fi
	# Not root: a user namespace maps us to root inside it.
	if unshare -rn true 2>/dev/null; then
		exec unshare -rn bash "$0" "$@"
	fi
	echo "e2e: cannot create a network namespace (unshare -n); run as root" >&2
	exit 1
}

e2e_require() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || {
			echo "e2e: $t is required" >&2
			exit 1
		}
	done
}

# e2e_start_fake DIR [fake options...]: start the fake, wait for its URL.
# Sets FAKE_URL and FAKE_PID.
e2e_start_fake() {
	local dir=$1
	shift
	"${MESHVM_BIN:-build/meshvm}" fake --ready-file "$dir/ready" \
		--journal "$dir/journal.jsonl" "$@" >"$dir/fake.out" 2>&1 &
	FAKE_PID=$!
	local _
	for _ in $(seq 100); do
		[ -s "$dir/ready" ] && break
		kill -0 "$FAKE_PID" 2>/dev/null || {
			cat "$dir/fake.out" >&2
			echo "e2e: the fake died" >&2
			exit 1
		}
		sleep 0.1
	done
	FAKE_URL=$(head -n 1 "$dir/ready")
	[ -n "$FAKE_URL" ] || { echo "e2e: the fake never got ready" >&2; exit 1; }
}

e2e_stop_fake() {
	if [ -n "${FAKE_PID:-}" ] && kill -0 "$FAKE_PID" 2>/dev/null; then
		kill -TERM "$FAKE_PID"
		wait "$FAKE_PID" || { echo "e2e: the fake exited $?" >&2; return 1; }
	fi
	FAKE_PID=
}

# A throwaway gcloud configuration pointed at the fake, no credentials,
# no metadata probing, no update checks, no usage reporting.
e2e_gcloud_config() {
	local dir=$1
	export CLOUDSDK_CONFIG=$dir/gcloud
	export CLOUDSDK_CORE_DISABLE_PROMPTS=1
	export KUBECONFIG=$dir/kubeconfig
	local kv
	for kv in auth/disable_credentials=true core/project=fake-project \
		core/disable_usage_reporting=true core/check_gce_metadata=false \
		component_manager/disable_update_check=true \
		survey/disable_prompts=true \
		"api_endpoint_overrides/container=$FAKE_URL/" \
		"api_endpoint_overrides/compute=$FAKE_URL/compute/v1/" \
		"api_endpoint_overrides/serviceusage=$FAKE_URL/"; do
		gcloud config set "${kv%%=*}" "${kv#*=}" >/dev/null 2>&1
	done
}

pass=0
ok() {
	pass=$((pass + 1))
	echo "ok $pass - $*"
}

fail() {
	echo "not ok - $*" >&2
	exit 1
}

# check WHAT COMMAND...: the command must succeed.  (Never write
# `cmd && ok`: under set -e a failing cmd there passes silently.)
check() {
	local what=$1
	shift
	if "$@"; then
		ok "$what"
	else
		fail "$what"
	fi
}

# quiet COMMAND...: run it, output dropped.
quiet() {
	"$@" >/dev/null 2>&1
}

# expect_eq GOT WANT WHAT
expect_eq() {
	if [ "$1" = "$2" ]; then
		ok "$3"
	else
		fail "$3: got '$1', want '$2'"
	fi
}

# expect_in HAYSTACK NEEDLE WHAT
expect_in() {
	case "$1" in
	*"$2"*) ok "$3" ;;
	*) printf '%s\n' "$1" >&2; fail "$3: expected '$2'" ;;
	esac
}

# A value from JSON on stdin: jget 'd["a"][0]["b"]'
jget() {
	python3 -c 'import json,sys; d=json.load(sys.stdin); v='"$1"'; print(v if isinstance(v,str) else json.dumps(v))'
}
