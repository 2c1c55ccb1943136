#!/usr/bin/env bash
# schema.sh BUILD_DIR - real cloud-init and blkid on what meshvm generates.
#
# Debian's cloud-init (installed on the host; harmless where systemd is not
# PID 1) must accept every generated user-data with `cloud-init schema
# --config-file`, and every cloud-config part of every multipart; its own
# MIME handling must see our parts as it sees `cloud-init devel make-mime`
# output of the same files, and merge them so both parts' runcmd and
# write_files survive.  blkid (not only our reader) must report the
# seed's label cidata.
set -euo pipefail

build=$(cd "${1:?usage: schema.sh BUILD_DIR}" && pwd)
meshvm=$build/meshvm
# cloud-init's Python modules live in Debian's python3, not in a user's.
py=/usr/bin/python3
work=$(mktemp -d "${TMPDIR:-/tmp}/meshvm-schema.XXXXXX")
trap 'rm -rf "$work"' EXIT

failures=0
ok() { echo "ok   - $*"; }
bad() {
	echo "FAIL - $*"
	failures=$((failures + 1))
}
check() {
	local what=$1
	shift
	if "$@" >"$work/check.out" 2>&1; then ok "$what"; else
		bad "$what"
		sed 's/^/    /' "$work/check.out"
	fi
}

for tool in cloud-init blkid bsdtar "$py"; do
	command -v "$tool" >/dev/null || {
		echo "schema.sh: $tool is missing (scripts/lib.sh installs it)" >&2
		exit 1
	}
done

"$meshvm" bake -f "$build/fixtures/bundle/bundle.yaml" -o "$work/bundle" >/dev/null
printf 'eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjQxMDI0NDQ4MDB9.c2ln\n' >"$work/token"
cat >"$work/extra.yaml" <<'EOF'
#cloud-config
power_state:
  mode: poweroff
  condition: true
runcmd:
  - [echo, extra part]
EOF
printf '#!/bin/sh\necho extra script\n' >"$work/extra.sh"

# Every kind of user-data we generate.
"$meshvm" cloudinit userdata --bundle "$work/bundle" --bundle-url \
	gs://bucket/vm/productcatalogservice.bundle -o "$work/gce.user-data" >/dev/null
"$meshvm" cloudinit userdata --bundle "$work/bundle" --bundle-url \
	https://example.invalid/b.bundle --runtime podman --ready-timeout 60 \
	--user-data-extra "$work/extra.yaml" -o "$work/gce-extra.user-data" >/dev/null
"$meshvm" cloudinit userdata --bundle "$work/bundle" --bundle-url \
	https://example.invalid/b.bundle --user-data-extra "$work/extra.sh" \
	-o "$work/gce-script.user-data" >/dev/null
"$meshvm" cloudinit seed --bundle "$work/bundle" --token-file "$work/token" \
	--runtime none -o "$work/seed.iso" >/dev/null
"$meshvm" cloudinit seed --bundle "$work/bundle" --token-file "$work/token" \
	--runtime none --user-data-extra "$work/extra.yaml" -o "$work/seed-extra.iso" >/dev/null
mkdir "$work/seed" "$work/seed-extra"
bsdtar -xf "$work/seed.iso" -C "$work/seed" user-data meta-data
bsdtar -xf "$work/seed-extra.iso" -C "$work/seed-extra" user-data meta-data
cp "$work/seed/user-data" "$work/seed.user-data"
cp "$work/seed-extra/user-data" "$work/seed-extra.user-data"

# split FILE DIR: the parts of a multipart as DIR/N.TYPE (stdlib email).
split_parts() {
	"$py" - "$1" "$2" <<'EOF'
import email, os, sys
msg = email.message_from_string(open(sys.argv[1]).read())
assert msg.is_multipart(), "not multipart"
os.makedirs(sys.argv[2], exist_ok=True)
for i, part in enumerate(p for p in msg.walk() if not p.is_multipart()):
    name = "%d.%s" % (i + 1, part.get_content_type().replace("/", "_"))
    with open(os.path.join(sys.argv[2], name), "wb") as f:
        f.write(part.get_payload(decode=True))
EOF
}

for ud in gce seed; do
	check "cloud-init schema accepts $ud.user-data" \
		cloud-init schema --config-file "$work/$ud.user-data"
	check "meshvm cloudinit validate accepts $ud.user-data" \
		"$meshvm" cloudinit validate "$work/$ud.user-data"
done
for ud in gce-extra gce-script seed-extra; do
	split_parts "$work/$ud.user-data" "$work/$ud.parts"
	n=0
	for part in "$work/$ud.parts"/*.text_cloud-config; do
		n=$((n + 1))
		check "cloud-init schema accepts $ud part $(basename "$part")" \
			cloud-init schema --config-file "$part"
	done
	check "meshvm cloudinit validate accepts $ud.user-data" \
		"$meshvm" cloudinit validate "$work/$ud.user-data"
	case $ud in
	gce-script) check "$ud: one cloud-config part and a script" \
		test "$n" = 1 -a -f "$work/$ud.parts/1.text_x-shellscript" ;;
	*) check "$ud: two cloud-config parts" test "$n" = 2 ;;
	esac
done

# cloud-init's own reading of our multipart equals its reading of
# make-mime's, and its merge keeps both parts' lists.
split_parts "$work/seed-extra.user-data" "$work/mm"
cloud-init devel make-mime -a "$work/mm/1.text_cloud-config:cloud-config" \
	-a "$work/mm/2.text_cloud-config:cloud-config" >"$work/make-mime.user-data" 2>/dev/null
cat >"$work/read.py" <<'EOF'
import json, sys
from cloudinit import user_data
from cloudinit.handlers import cloud_config

def parts(path):
    msg = user_data.convert_string(open(path, "rb").read())
    return [(p.get_content_type(), p.get_payload(decode=True).decode())
            for p in msg.walk() if not p.is_multipart()]

class Paths:  # the handler only needs a place it would write to
    def get_ipath(self, name):
        return "/nonexistent/" + name

def merged(path):
    h = cloud_config.CloudConfigPartHandler(paths=Paths())
    h.handle_part(None, "__begin__", None, None, None, None)
    for i, (ctype, payload) in enumerate(parts(path)):
        if ctype == "text/cloud-config":
            h.handle_part(None, ctype, "part-%d" % i, payload, None, {})
    return h.cloud_buf

ours, theirs = parts(sys.argv[1]), parts(sys.argv[2])
assert ours == theirs, "cloud-init reads our multipart differently"
cfg = merged(sys.argv[1])
runcmd = [c for c in cfg["runcmd"]]
assert ["echo", "extra part"] in runcmd, runcmd
assert ["/usr/local/sbin/meshvm-join", "run"] in runcmd, runcmd
assert cfg["power_state"]["mode"] == "poweroff"
paths = [f["path"] for f in cfg["write_files"]]
assert "/usr/local/sbin/meshvm-join" in paths, paths
print(json.dumps({"runcmd": runcmd, "write_files": paths}))
EOF
check "cloud-init reads our multipart as it reads make-mime's, and merges both parts" \
	"$py" "$work/read.py" "$work/seed-extra.user-data" "$work/make-mime.user-data"

for iso in seed seed-extra; do
	check "blkid: $iso.iso is iso9660 labelled cidata" \
		test "$(blkid -o value -s LABEL "$work/$iso.iso"):$(blkid -o value -s TYPE "$work/$iso.iso")" = cidata:iso9660
done

if [ "$failures" -ne 0 ]; then
	echo "schema.sh: $failures check(s) failed" >&2
	exit 1
fi
echo "schema.sh: all checks passed"
