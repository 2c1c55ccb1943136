#!/usr/bin/env bash
# harness/e2e/storage.sh - the real `gcloud storage` against `meshvm fake`
# inside a private network namespace: buckets create/describe/delete, and
# `gcloud storage cp` of a 100 MiB file up (a resumable upload through
# gcloud's /resumable/upload/ path) and down, byte-equal; a small file
# goes up as one request.  The bucket IAM policy meshvm's deliver step
# writes (roles/storage.objectViewer for the VM's service account) is the
# one gcloud reads and changes.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
e2e_enter_netns "$@"
e2e_require gcloud python3 curl ip cmp

work=$(mktemp -d "${TMPDIR:-/tmp}/meshvm-e2e-storage.XXXXXX")
cleanup() {
	e2e_stop_fake || true
	rm -rf "$work"
}
trap cleanup EXIT

e2e_start_fake "$work" --no-auth --op-polls 1
e2e_gcloud_config "$work"
gcloud config set api_endpoint_overrides/storage "$FAKE_URL/storage/v1/" \
	>/dev/null 2>&1
state() { curl -sf "$FAKE_URL/_fake/state"; }

out=$(gcloud storage buckets create gs://mesh-bkt --location us-central1 2>&1)
expect_in "$out" "Creating gs://mesh-bkt" "buckets create"
out=$(gcloud storage buckets describe gs://mesh-bkt \
	--format='value(name,location)' 2>&1)
expect_in "$out" "mesh-bkt" "buckets describe finds the new bucket"

sa=serviceAccount:123-compute@developer.gserviceaccount.com
out=$(gcloud storage buckets add-iam-policy-binding gs://mesh-bkt \
	--member="$sa" --role=roles/storage.objectViewer 2>&1) ||
	fail "add-iam-policy-binding: $out"
out=$(gcloud storage buckets get-iam-policy gs://mesh-bkt --format=json 2>&1) ||
	fail "get-iam-policy: $out"
expect_in "$out" "roles/storage.objectViewer" "the binding gcloud added"
expect_in "$out" "$sa" "the member gcloud added"
expect_in "$out" "roles/storage.legacyBucketOwner" "the project's roles stay"

head -c $((100 << 20)) /dev/urandom >"$work/big.bin"
echo "small object" >"$work/small.txt"
out=$(gcloud storage cp "$work/big.bin" gs://mesh-bkt/dir/big.bin 2>&1) || fail "cp big: $out"
expect_in "$out" "Copying file://" "cp of 100 MiB up"
out=$(gcloud storage cp "$work/small.txt" gs://mesh-bkt/small.txt 2>&1) || fail "cp small: $out $(tail -5 "$work/journal.jsonl")"
expect_in "$out" "Copying file://" "cp of a small file up"
got=$(gcloud storage ls gs://mesh-bkt/dir/ 2>&1) || fail "ls: $got"
expect_in "$got" "gs://mesh-bkt/dir/big.bin" "ls lists the object"
size=$(gcloud storage objects describe gs://mesh-bkt/dir/big.bin \
	--format='value(size)' 2>&1)
expect_eq "$size" $((100 << 20)) "the object's size"

gcloud storage cp gs://mesh-bkt/dir/big.bin "$work/back.bin" >/dev/null 2>&1 ||
	fail "cp of 100 MiB down"
check "100 MiB down is byte-equal" cmp -s "$work/big.bin" "$work/back.bin"
gcloud storage cp gs://mesh-bkt/small.txt "$work/small.back" >/dev/null 2>&1 ||
	fail "cp of a small file down"
check "the small file is byte-equal" cmp -s "$work/small.txt" "$work/small.back"
expect_eq "$(state | jget 'len(d.get("uploads", {}))')" 0 \
	"no resumable session is left open"

gcloud storage rm gs://mesh-bkt/dir/big.bin gs://mesh-bkt/small.txt \
	>/dev/null 2>&1 || fail "rm the objects"
out=$(gcloud storage buckets delete gs://mesh-bkt 2>&1) || fail "delete: $out"
out=$(gcloud storage buckets describe gs://mesh-bkt 2>&1) && fail "described after delete"
expect_in "$out" "404" "the bucket is gone"
echo "1..$pass"
