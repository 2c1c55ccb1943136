#!/bin/sh
# meshvm-join - put this VM into the mesh from a meshvm bundle.
#
# Installed by cloud-init (user-data from `meshvm cloudinit`) as
# /usr/local/sbin/meshvm-join, first run from runcmd, then on every boot by
# meshvm-join.service (a oneshot ordered before istio.service).
#
#   meshvm-join [run]   every phase, waiting for readiness (runcmd, by hand)
#   meshvm-join boot    every phase up to starting istio; the wait for
#                       readiness is handed to a transient unit, because
#                       istio.service is ordered after this oneshot and
#                       waiting for it here would deadlock
#   meshvm-join wait    only the wait for readiness and the final report
#   meshvm-join token   only re-read the Istio token (meshvm-token.timer,
#                       hourly, where the token comes from instance metadata)
#
# Phases: fetching, verifying, installing, starting, waiting, joined, or
# failed <reason>.  Each goes to /var/log/meshvm-join.log, to
# /var/lib/meshvm/status.json and as one line "meshvm-join: <phase>
# <detail>" to /dev/console and /dev/ttyS0; on GCE (bundle or token from
# the metadata server) also to the guest attribute meshvm/phase, and a
# failure's reason to meshvm/error (best effort: never fails the join).  Every step checks before it
# acts, so a second run changes nothing.  The token is never printed,
# logged or passed on a command line.
#
# Configuration: /etc/meshvm/join.conf (KEY=value lines, written by
# cloud-init) and the pinned bundle digest in /etc/meshvm/bundle.sha256.
# For tests: MESHVM_ROOT prefixes every path; commands come from PATH;
# MESHVM_METADATA_URL, MESHVM_STORAGE_URL and MESHVM_READY_URL override
# the endpoints.
#
# Stock images lack tools: HTTP uses curl, else wget, else python3's
# standard library (present wherever cloud-init is); digests use openssl
# (SHA-NI speed) else sha256sum.  Two runners (cloud-init's runcmd, the
# unit, the guest agent's startup-script, a hand) never interleave: each
# holds /run/meshvm/join.lock (flock(1), else python3's fcntl on the same
# descriptor, else a mkdir lock).
set -eu

R=${MESHVM_ROOT:-}
SELF=/usr/local/sbin/meshvm-join
CONF=$R/etc/meshvm/join.conf
PIN_FILE=$R/etc/meshvm/bundle.sha256
TOKEN_STORE=$R/etc/meshvm/istio-token
TOKEN_RUN=$R/var/run/secrets/tokens/istio-token
STATE=$R/var/lib/meshvm
CUR=$STATE/current
LOG=$R/var/log/meshvm-join.log
RUNDIR=$R/run/meshvm
SEED=$RUNDIR/seed
HOSTS_BEGIN='# BEGIN meshvm hosts'
HOSTS_END='# END meshvm hosts'
LOCK=$RUNDIR/join.lock
LOCK_DIR=
LOCK_WAIT=${MESHVM_LOCK_WAIT:-1800}

MODE=run
PHASE=starting-up
DETAIL=
ERROR=
PINNED=
BOOT_COUNT=0
BOOT_ID=unknown
TOKEN_EXP=null
TOKEN_EXPIRED=false
STARTED_AT=
JOINED_AT=
TMPD=
GA=off
CHANGED=0
UNITS=
TIMER=
GEN_UNIT=

# Configuration (join.conf), with defaults.
BUNDLE_SOURCE=seed
BUNDLE_URL=
SEED_BUNDLE=meshvm/bundle
TOKEN_SOURCE=seed
RUNTIME=auto
READY_TIMEOUT=120
METADATA_URL=http://metadata.google.internal/computeMetadata/v1
STORAGE_URL=https://storage.googleapis.com/storage/v1
READY_URL=http://localhost:15021/healthz/ready

umask 022

usage() {
    echo "usage: meshvm-join [run|boot|wait|token]"
    echo "Joins this VM to the mesh from the meshvm bundle pinned in"
    echo "/etc/meshvm/bundle.sha256, as configured in /etc/meshvm/join.conf."
}

now_iso() {
    date -u +%Y-%m-%dT%H:%M:%SZ
}

# log MESSAGE: the join log and stderr (journal, cloud-init output).
log() {
    mkdir -p "$R/var/log"
    printf '%s %s\n' "$(now_iso)" "$*" >>"$LOG"
    printf 'meshvm-join: %s\n' "$*" >&2
}

# console LINE: one line on the console and the first serial port.
console() {
    for c in "$R/dev/console" "$R/dev/ttyS0"; do
        if [ -w "$c" ]; then
            printf 'meshvm-join: %s\n' "$1" 2>/dev/null >>"$c" || true
        fi
    done
}

json_str() {
    printf '"%s"' "$(printf '%s' "$1" | tr -d '\000-\037' |
        sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"
}

json_str_or_null() {
    if [ -n "$1" ]; then json_str "$1"; else printf 'null'; fi
}

write_status() {
    mkdir -p "$STATE"
    st_tmp=$STATE/.status.json.tmp
    {
        printf '{\n'
        printf '  "format": "meshvm-join-status/1",\n'
        printf '  "phase": %s,\n' "$(json_str "$PHASE")"
        printf '  "detail": %s,\n' "$(json_str "$DETAIL")"
        printf '  "error": %s,\n' "$(json_str_or_null "$ERROR")"
        printf '  "bundle_sha256": %s,\n' "$(json_str_or_null "$PINNED")"
        printf '  "boot_count": %s,\n' "$BOOT_COUNT"
        printf '  "boot_id": %s,\n' "$(json_str "$BOOT_ID")"
        printf '  "runtime": %s,\n' "$(json_str "$RUNTIME")"
        printf '  "token_source": %s,\n' "$(json_str "$TOKEN_SOURCE")"
        printf '  "token_exp": %s,\n' "$TOKEN_EXP"
        printf '  "token_expired": %s,\n' "$TOKEN_EXPIRED"
        printf '  "started_at": %s,\n' "$(json_str_or_null "$STARTED_AT")"
        printf '  "joined_at": %s,\n' "$(json_str_or_null "$JOINED_AT")"
        printf '  "updated_at": %s\n' "$(json_str "$(now_iso)")"
        printf '}\n'
    } >"$st_tmp"
    chmod 0644 "$st_tmp"
    mv -f "$st_tmp" "$STATE/status.json"
}

# The python3 fallback of guest_attr: PUT stdin to argv[1].
PY_PUT='import sys, urllib.request
req = urllib.request.Request(sys.argv[1], data=sys.stdin.buffer.read(),
                             method="PUT", headers={"Metadata-Flavor": "Google"})
urllib.request.urlopen(req, timeout=5).read()'

# guest_attr KEY VALUE: PUT guest attribute meshvm/KEY (at most 1000
# bytes) for `gcloud compute instances get-guest-attributes` and meshvm's
# join step.  Best effort and bounded: the first failure (no metadata
# server, guest attributes disabled) turns it off for this run.
guest_attr() {
    [ "$GA" = on ] || return 0
    ga_url=$METADATA_URL/instance/guest-attributes/meshvm/$1
    if command -v curl >/dev/null 2>&1; then
        printf '%.1000s' "$2" | curl -fsS --connect-timeout 2 --max-time 5 \
            -X PUT -H 'Metadata-Flavor: Google' --data-binary @- \
            -o /dev/null "$ga_url" 2>/dev/null || GA=off
    elif command -v python3 >/dev/null 2>&1; then
        printf '%.1000s' "$2" | python3 -c "$PY_PUT" "$ga_url" 2>/dev/null ||
            GA=off
    else
        GA=off
    fi
}

# report PHASE [DETAIL]: log, status.json, the console and meshvm/phase.
report() {
    PHASE=$1
    DETAIL=${2:-}
    # status.json first: whoever watches the log or the console for a
    # phase (the serial port carries the log's stderr under GCE's agent)
    # may power the VM off the moment it appears.
    write_status
    log "$PHASE${DETAIL:+ $DETAIL}"
    console "$PHASE${DETAIL:+ $DETAIL}"
    guest_attr phase "$PHASE"
}

fail() {
    ERROR=$*
    guest_attr error "$ERROR"
    report failed "$*"
    exit 1
}

on_exit() {
    rc=$?
    if [ -n "$TMPD" ]; then rm -rf "$TMPD"; fi
    if [ -n "$LOCK_DIR" ]; then rm -rf "$LOCK_DIR"; fi
    if [ "$rc" -ne 0 ] && [ "$PHASE" != failed ]; then
        ERROR="unexpected error (exit $rc) while $PHASE"
        PHASE=failed
        DETAIL=$ERROR
        {
            log "failed $ERROR"
            write_status
            console "failed $ERROR"
            guest_attr error "$ERROR"
            guest_attr phase failed
        } || true
    fi
    exit "$rc"
}

# sha_of FILE: its sha256 (openssl when present: several times faster
# than coreutils on CPUs with SHA extensions).
sha_of() {
    if command -v openssl >/dev/null 2>&1; then
        openssl dgst -sha256 -r "$1" | cut -c1-64
    else
        sha256sum "$1" | cut -d' ' -f1
    fi
}

# check_sums DIR: every line of DIR/SHA256SUMS ("<hex>  <path>") matches;
# failures are logged as "<path>: FAILED", like sha256sum -c.
check_sums() {
    if ! command -v openssl >/dev/null 2>&1; then
        (cd "$1" && sha256sum -c --quiet --strict SHA256SUMS) >>"$LOG" 2>&1
        return
    fi
    [ -s "$1/SHA256SUMS" ] || return 1
    cs_bad=0
    while IFS= read -r cs_line || [ -n "$cs_line" ]; do
        cs_want=${cs_line%%  *}
        cs_path=${cs_line#*  }
        case $cs_path in
        /* | ../* | */../* | '' | "$cs_line") cs_bad=1 ;;
        *)
            if ! is_hex64 "$cs_want" || [ ! -f "$1/$cs_path" ] ||
                [ "$(sha_of "$1/$cs_path")" != "$cs_want" ]; then
                printf '%s: FAILED\n' "$cs_path" >>"$LOG"
                cs_bad=1
            fi
            ;;
        esac
    done <"$1/SHA256SUMS"
    [ "$cs_bad" = 0 ]
}

# take_lock: hold $LOCK for the rest of the run (released on exit).
take_lock() {
    if command -v flock >/dev/null 2>&1; then
        exec 9>"$LOCK"
        flock -w "$LOCK_WAIT" 9 ||
            fail "another meshvm-join held /run/meshvm/join.lock for ${LOCK_WAIT}s"
    elif command -v python3 >/dev/null 2>&1; then
        # The lock belongs to the open file description, which this shell
        # keeps on descriptor 9 after python3 exits.
        exec 9>"$LOCK"
        python3 -c 'import fcntl, signal, sys
signal.alarm(int(sys.argv[1]))
fcntl.flock(9, fcntl.LOCK_EX)' "$LOCK_WAIT" ||
            fail "another meshvm-join held /run/meshvm/join.lock for ${LOCK_WAIT}s"
    else
        t0=$(date +%s)
        until mkdir "$LOCK.d" 2>/dev/null; do
            owner=$(cat "$LOCK.d/pid" 2>/dev/null || true)
            # Its owner is gone: take it over under a second lock, after
            # checking again that nobody else already did.
            if [ -n "$owner" ] && ! kill -0 "$owner" 2>/dev/null &&
                mkdir "$LOCK.t" 2>/dev/null; then
                if [ "$(cat "$LOCK.d/pid" 2>/dev/null || true)" = "$owner" ]; then
                    rm -rf "$LOCK.d"
                fi
                rmdir "$LOCK.t"
                continue
            fi
            [ $(($(date +%s) - t0)) -lt "$LOCK_WAIT" ] ||
                fail "another meshvm-join held /run/meshvm/join.lock.d for ${LOCK_WAIT}s"
            sleep 1
        done
        LOCK_DIR=$LOCK.d
        echo $$ >"$LOCK_DIR/pid"
    fi
}

is_hex64() {
    case $1 in
    *[!0-9a-f]*) return 1 ;;
    esac
    [ "${#1}" -eq 64 ]
}

# put_file SRC DEST MODE: install SRC at DEST with MODE unless DEST already
# has the same bytes and mode; sets CHANGED=1 when it wrote.  The temp file
# is made next to DEST (same filesystem) so the rename is atomic.
put_file() {
    if [ -f "$2" ] && cmp -s "$1" "$2" &&
        [ "$(stat -c %a "$2")" = "${3#0}" ]; then
        return 0
    fi
    mkdir -p "$(dirname "$2")"
    (umask 077 && cat "$1" >"$2.meshvm-tmp")
    chmod "$3" "$2.meshvm-tmp"
    mv -f "$2.meshvm-tmp" "$2"
    CHANGED=1
}

# write_small DEST CONTENT: atomically replace a small state file.
write_small() {
    printf '%s\n' "$2" >"$1.tmp"
    mv -f "$1.tmp" "$1"
}

load_conf() {
    [ -f "$CONF" ] || fail "no configuration: /etc/meshvm/join.conf is missing"
    while IFS= read -r line || [ -n "$line" ]; do
        case $line in '' | '#'*) continue ;; esac
        key=${line%%=*}
        val=${line#*=}
        case $key in
        MESHVM_BUNDLE_SOURCE) BUNDLE_SOURCE=$val ;;
        MESHVM_BUNDLE_URL) BUNDLE_URL=$val ;;
        MESHVM_SEED_BUNDLE) SEED_BUNDLE=$val ;;
        MESHVM_TOKEN_SOURCE) TOKEN_SOURCE=$val ;;
        MESHVM_RUNTIME) RUNTIME=$val ;;
        MESHVM_READY_TIMEOUT) READY_TIMEOUT=$val ;;
        MESHVM_METADATA_URL) METADATA_URL=$val ;;
        MESHVM_STORAGE_URL) STORAGE_URL=$val ;;
        *) fail "join.conf: unknown key '$key'" ;;
        esac
    done <"$CONF"
    METADATA_URL=${MESHVM_METADATA_URL:-$METADATA_URL}
    STORAGE_URL=${MESHVM_STORAGE_URL:-$STORAGE_URL}
    READY_URL=${MESHVM_READY_URL:-$READY_URL}
    case $BUNDLE_SOURCE in
    seed) ;;
    url) [ -n "$BUNDLE_URL" ] || fail "join.conf: MESHVM_BUNDLE_URL is empty" ;;
    *) fail "join.conf: MESHVM_BUNDLE_SOURCE must be seed or url" ;;
    esac
    case $TOKEN_SOURCE in
    seed | metadata) ;;
    *) fail "join.conf: MESHVM_TOKEN_SOURCE must be seed or metadata" ;;
    esac
    case $RUNTIME in
    auto | docker | podman | containerd | none) ;;
    *) fail "join.conf: MESHVM_RUNTIME must be auto, docker, podman, containerd or none" ;;
    esac
    case $READY_TIMEOUT in
    '' | *[!0-9]*) fail "join.conf: MESHVM_READY_TIMEOUT must be a number of seconds" ;;
    esac
    # Guest attributes exist on GCE: where the bundle or the token comes
    # from the metadata server (or a test names one).
    if [ "$BUNDLE_SOURCE" = url ] || [ "$TOKEN_SOURCE" = metadata ] ||
        [ -n "${MESHVM_METADATA_URL:-}" ]; then
        GA=on
    fi
    [ -f "$PIN_FILE" ] || fail "no pinned digest: /etc/meshvm/bundle.sha256 is missing"
    PINNED=$(cut -c1-64 "$PIN_FILE")
    is_hex64 "$PINNED" || fail "/etc/meshvm/bundle.sha256 does not hold a sha256"
}

# count_boot: the boot count goes up once per kernel boot id, so running
# twice in one boot does not change it.
count_boot() {
    BOOT_ID=$(cat "$R/proc/sys/kernel/random/boot_id" 2>/dev/null || echo unknown)
    mkdir -p "$STATE"
    last=$(cat "$STATE/boot-id" 2>/dev/null || true)
    BOOT_COUNT=$(cat "$STATE/boot-count" 2>/dev/null || echo 0)
    case $BOOT_COUNT in '' | *[!0-9]*) BOOT_COUNT=0 ;; esac
    if [ "$BOOT_ID" != "$last" ]; then
        BOOT_COUNT=$((BOOT_COUNT + 1))
        write_small "$STATE/boot-count" "$BOOT_COUNT"
        write_small "$STATE/boot-id" "$BOOT_ID"
        write_small "$RUNDIR/started-at" "$(now_iso)"
    fi
    STARTED_AT=$(cat "$RUNDIR/started-at" 2>/dev/null || now_iso)
}

#--- the NoCloud seed -------------------------------------------------------

# seed_mount: make the cidata volume readable at $SEED (mounted read-only
# by us, or where it is already mounted).  Returns 1 when there is none.
seed_mount() {
    if [ -f "$SEED/meta-data" ]; then return 0; fi
    dev=
    for label in cidata CIDATA; do
        dev=$(blkid -l -o device -t "LABEL=$label" 2>/dev/null || true)
        if [ -n "$dev" ]; then break; fi
    done
    if [ -z "$dev" ]; then return 1; fi
    where=
    if [ -r "$R/proc/mounts" ]; then
        where=$(awk -v d="$dev" '$1 == d { print $2; exit }' "$R/proc/mounts")
    fi
    if [ -n "$where" ] && [ -f "$R$where/meta-data" ]; then
        SEED=$R$where
        return 0
    fi
    mkdir -p "$SEED"
    if ! mount -o ro "$dev" "$SEED" 2>>"$LOG"; then return 1; fi
    log "mounted the seed $dev read-only at ${SEED#"$R"}"
    [ -f "$SEED/meta-data" ]
}

#--- HTTP (curl, else wget, else python3) ----------------------------------

# The python3 fallback: GET argv[1] into argv[2] with the headers in the
# file argv[3] ("" = none; secrets stay out of argv), timeout argv[4].
PY_GET='import shutil, sys, urllib.request
url, out, hdr, tmo = sys.argv[1:5]
# "localhost" is loopback without a resolver (RFC 6761), as curl treats
# it: images without an /etc/hosts line for it exist.
if url.startswith("http://localhost:") or url.startswith("http://localhost/"):
    url = "http://127.0.0.1" + url[len("http://localhost"):]
req = urllib.request.Request(url)
if hdr:
    for line in open(hdr):
        k, _, v = line.rstrip("\n").partition(":")
        req.add_header(k.strip(), v.strip())
try:
    with urllib.request.urlopen(req, timeout=float(tmo)) as r, open(out, "wb") as f:
        shutil.copyfileobj(r, f)
except Exception as e:
    sys.stderr.write("%s: %s\n" % (url.split("?")[0], e))
    sys.exit(1)'

have_http() {
    command -v curl >/dev/null 2>&1 || command -v wget >/dev/null 2>&1 ||
        command -v python3 >/dev/null 2>&1
}

# http_get URL OUT HDRFILE TIMEOUT: without curl (wget, else python3).
http_get() {
    if command -v wget >/dev/null 2>&1; then
        : >"$TMPD/wgetrc"
        if [ -n "$3" ]; then sed 's/^/header = /' "$3" >"$TMPD/wgetrc"; fi
        wget -q --config="$TMPD/wgetrc" -T "$4" -t 1 -O "$2" "$1" 2>>"$LOG"
        hg_rc=$?
        rm -f "$TMPD/wgetrc"
        return "$hg_rc"
    fi
    python3 -c "$PY_GET" "$1" "$2" "$3" "$4" 2>>"$LOG"
}

need_http() {
    have_http || fail "$1 needs curl, wget or python3, and this VM has none"
}

# urlenc STRING: percent-encode all but RFC 3986 unreserved characters.
urlenc() {
    out=
    for h in $(printf '%s' "$1" | od -An -v -tx1); do
        case $h in
        2d | 2e | 5f | 7e | 3[0-9] | 4[1-9a-f] | 5[0-9a] | 6[1-9a-f] | 7[0-9a])
            # shellcheck disable=SC2059
            out=$out$(printf "\\$(printf '%03o' "0x$h")")
            ;;
        *) out=$out%$(printf '%s' "$h" | tr 'a-f' 'A-F') ;;
        esac
    done
    printf '%s' "$out"
}

# metadata_get PATH OUT: GET from the metadata server; 1 when unreachable.
metadata_get() {
    if command -v curl >/dev/null 2>&1; then
        curl -fsS --connect-timeout 2 --max-time 10 --retry 2 \
            -H 'Metadata-Flavor: Google' -o "$2" "$METADATA_URL/$1" 2>>"$LOG"
        return
    fi
    have_http || return 1
    printf 'Metadata-Flavor: Google\n' >"$TMPD/md.hdr"
    for _ in 1 2 3; do
        if http_get "$METADATA_URL/$1" "$2" "$TMPD/md.hdr" 10; then return 0; fi
    done
    return 1
}

# get_retry URL OUT HDRFILE: the bundle, five tries, without curl.
get_retry() {
    for n in 1 2 3 4 5; do
        if http_get "$1" "$2" "$3" 60; then return 0; fi
        sleep "$n"
    done
    return 1
}

# fetch_url URL OUT: https:// directly, gs://BUCKET/OBJECT through the
# JSON API with the instance's access token (sent from a 0600 header file,
# never on the command line).
# curl_retry URL OUT [HEADER_FILE]: curl's own --retry covers 5xx, 429 and
# refused connections but not a connection reset mid-transfer, which a
# storage endpoint does now and then: up to three such runs.
curl_retry() {
    for n in 1 2 3; do
        if [ -n "${3:-}" ]; then
            curl -fsSL --retry 5 --retry-connrefused --connect-timeout 10 \
                -H "@$3" -o "$2" "$1" 2>>"$LOG" && return 0
        else
            curl -fsSL --retry 5 --retry-connrefused --connect-timeout 10 \
                -o "$2" "$1" 2>>"$LOG" && return 0
        fi
        [ "$n" = 3 ] || sleep "$n"
    done
    return 1
}

fetch_url() {
    need_http "fetching the bundle"
    curl=
    if command -v curl >/dev/null 2>&1; then curl=yes; fi
    case $1 in
    https://*)
        if [ -n "$curl" ]; then
            curl_retry "$1" "$2"
        else
            get_retry "$1" "$2" ""
        fi || fail "could not fetch the bundle from ${1%%\?*}"
        ;;
    gs://*/*)
        path=${1#gs://}
        bucket=${path%%/*}
        object=${path#*/}
        metadata_get instance/service-accounts/default/token "$TMPD/sa.json" ||
            fail "no access token from the metadata server for $1"
        sed -n 's/.*"access_token"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/Authorization: Bearer \1/p' \
            "$TMPD/sa.json" >"$TMPD/auth.hdr"
        rm -f "$TMPD/sa.json"
        [ -s "$TMPD/auth.hdr" ] || fail "the metadata server's token answer has no access_token"
        gcs="$STORAGE_URL/b/$(urlenc "$bucket")/o/$(urlenc "$object")?alt=media"
        if [ -n "$curl" ]; then
            curl_retry "$gcs" "$2" "$TMPD/auth.hdr"
        else
            get_retry "$gcs" "$2" "$TMPD/auth.hdr"
        fi || fail "could not fetch the bundle from $1"
        rm -f "$TMPD/auth.hdr"
        ;;
    *) fail "unsupported bundle URL scheme: ${1%%\?*} (https:// or gs://)" ;;
    esac
}

#--- phases ----------------------------------------------------------------

# fetching + verifying: the bundle is kept in /var/lib/meshvm/bundle once
# its digest matched the pin; later boots re-check it and need no source.
fetch_bundle() {
    report fetching "$BUNDLE_SOURCE"
    if [ -f "$STATE/bundle" ] && [ "$(sha_of "$STATE/bundle")" = "$PINNED" ]; then
        log "bundle already here (/var/lib/meshvm/bundle)"
        report verifying "sha256 $PINNED"
        return 0
    fi
    rm -f "$STATE/bundle.part"
    case $BUNDLE_SOURCE in
    seed)
        seed_mount || fail "no NoCloud seed (volume labelled cidata) with the bundle"
        [ -f "$SEED/$SEED_BUNDLE" ] || fail "the seed has no $SEED_BUNDLE"
        cp "$SEED/$SEED_BUNDLE" "$STATE/bundle.part"
        ;;
    url) fetch_url "$BUNDLE_URL" "$STATE/bundle.part" ;;
    esac
    report verifying "sha256 $PINNED"
    got=$(sha_of "$STATE/bundle.part")
    if [ "$got" != "$PINNED" ]; then
        rm -f "$STATE/bundle.part"
        fail "bundle digest mismatch: got $got, pinned $PINNED"
    fi
    mv -f "$STATE/bundle.part" "$STATE/bundle"
}

# unpack: /var/lib/meshvm/current holds the verified contents; re-checked
# with sha256sum -c on every run, re-extracted when the pin changed.
unpack_bundle() {
    if [ -f "$CUR/.bundle-sha256" ] &&
        [ "$(cat "$CUR/.bundle-sha256")" = "$PINNED" ] &&
        check_sums "$CUR"; then
        log "bundle contents verified (SHA256SUMS)"
        return 0
    fi
    magic=$(od -An -tx1 -N4 "$STATE/bundle" | tr -d ' \n')
    new=$STATE/.unpack
    rm -rf "$new"
    mkdir -p "$new"
    case $magic in
    28b52ffd)
        command -v zstd >/dev/null 2>&1 ||
            fail "the bundle is zstd-compressed but this VM has no zstd: add the zstd package to the image or bake with --compress gzip"
        topt=--zstd
        ;;
    1f8b*) topt=--gzip ;;
    *) topt= ;;
    esac
    # MANIFEST.json comes first: read it alone to size the extraction.
    # shellcheck disable=SC2086
    tar -x $topt --no-same-owner --no-same-permissions --occurrence=1 \
        -f "$STATE/bundle" -C "$new" MANIFEST.json 2>>"$LOG" ||
        fail "cannot read MANIFEST.json from the bundle (tar)"
    check_space "$new/MANIFEST.json"
    # shellcheck disable=SC2086
    tar -x $topt --no-same-owner --no-same-permissions -f "$STATE/bundle" \
        -C "$new" 2>>"$LOG" || fail "cannot unpack the bundle (tar)"
    [ -f "$new/SHA256SUMS" ] || fail "the bundle has no SHA256SUMS"
    check_sums "$new" ||
        fail "bundle contents do not match SHA256SUMS (see /var/log/meshvm-join.log)"
    printf '%s\n' "$PINNED" >"$new/.bundle-sha256"
    rm -rf "$CUR"
    mv "$new" "$CUR"
    log "bundle unpacked and verified (SHA256SUMS)"
}

# check_space MANIFEST: the files it lists (twice for a root filesystem,
# which is unpacked again), plus 1 MiB, must fit in what df -P says is
# free under /var/lib/meshvm; fail closed when not, or when unknown.
check_space() {
    need_kib=$(awk '
        /"files": \[/ { on = 1 }
        on && /"size":/ { gsub(/[^0-9]/, ""); n += $0
            if (root) n += $0; root = 0 }
        on && /"path": "image\/rootfs\.tar"/ { root = 1 }
        END { printf "%d\n", n / 1024 + 1024 }' "$1") ||
        fail "cannot read the file sizes in MANIFEST.json"
    free_kib=$(df -P "$STATE" 2>/dev/null | awk 'NR == 2 { print $4 }')
    case $free_kib in
    '' | *[!0-9]*) fail "cannot tell the free space under /var/lib/meshvm (df -P)" ;;
    esac
    if [ "$free_kib" -lt "$need_kib" ]; then
        fail "not enough space under /var/lib/meshvm: the bundle needs ${need_kib} KiB, ${free_kib} KiB free"
    fi
}

find_sidecar() {
    pkg=
    for f in "$CUR"/sidecar/*.deb "$CUR"/sidecar/*.rpm; do
        if [ -f "$f" ]; then pkg=$f; fi
    done
    [ -n "$pkg" ] || fail "the bundle has no sidecar package"
}

install_sidecar() {
    sum=$(sha_of "$pkg")
    if [ "$(cat "$STATE/sidecar.sha256" 2>/dev/null || true)" = "$sum" ]; then
        log "sidecar $(basename "$pkg") already installed"
    else
        case $pkg in
        # 9>&-: nothing a package starts may inherit the join's lock
        *.deb) dpkg -i "$pkg" >>"$LOG" 2>&1 9>&- || fail "dpkg -i $(basename "$pkg") failed" ;;
        *.rpm) rpm -i "$pkg" >>"$LOG" 2>&1 9>&- || fail "rpm -i $(basename "$pkg") failed" ;;
        esac
        write_small "$STATE/sidecar.sha256" "$sum"
        log "sidecar $(basename "$pkg") installed"
    fi
    grep -q '^istio-proxy:' "$R/etc/passwd" ||
        fail "the sidecar package did not create user istio-proxy"
}

# place_identity: Istio's VM layout (DESIGN.md section 5); certs stay under /etc
# because /var/run is a tmpfs.
place_identity() {
    CHANGED=0
    put_file "$CUR/identity/root-cert.pem" "$R/etc/certs/root-cert.pem" 0644
    put_file "$CUR/identity/cluster.env" "$R/var/lib/istio/envoy/cluster.env" 0644
    put_file "$CUR/identity/mesh.yaml" "$R/etc/istio/config/mesh" 0644
    if [ ! -d "$R/etc/istio/proxy" ]; then
        mkdir -p "$R/etc/istio/proxy"
        CHANGED=1
    fi
    append_hosts
    keep_certs
    if [ "$CHANGED" = 1 ]; then
        chown -R istio-proxy:istio-proxy "$R/var/lib/istio" "$R/etc/certs" \
            "$R/etc/istio/proxy" "$R/etc/istio/config"
        log "identity files placed"
    else
        log "identity files already in place"
    fi
}

# keep_certs: the sidecar keeps its workload certificate on disk (PROV_CERT,
# OUTPUT_CERTS in sidecar.env), so a restarted sidecar or a rebooted VM
# renews with that certificate and needs no fresh token (Istio #22665,
# #33203).  Under /etc: /var/run is a tmpfs.
keep_certs() {
    env=$R/var/lib/istio/envoy/sidecar.env
    for kv in PROV_CERT=/etc/certs OUTPUT_CERTS=/etc/certs; do
        if ! grep -qx "$kv" "$env" 2>/dev/null; then
            mkdir -p "$(dirname "$env")"
            printf '%s\n' "$kv" >>"$env"
            CHANGED=1
        fi
    done
}

# append_hosts: identity/hosts goes into /etc/hosts once, between markers
# (a newer bundle replaces the block instead of adding a second one).
append_hosts() {
    hosts=$R/etc/hosts
    {
        printf '%s\n' "$HOSTS_BEGIN"
        cat "$CUR/identity/hosts"
        printf '%s\n' "$HOSTS_END"
    } >"$TMPD/hosts.want"
    if [ -f "$hosts" ]; then
        awk -v b="$HOSTS_BEGIN" -v e="$HOSTS_END" \
            '$0 == b { on = 1 } on { print } $0 == e { on = 0 }' \
            "$hosts" >"$TMPD/hosts.have"
    else
        : >"$TMPD/hosts.have"
    fi
    if cmp -s "$TMPD/hosts.want" "$TMPD/hosts.have"; then return 0; fi
    if [ -f "$hosts" ]; then
        awk -v b="$HOSTS_BEGIN" -v e="$HOSTS_END" \
            '$0 == b { skip = 1; next } $0 == e { skip = 0; next } !skip { print }' \
            "$hosts" >"$TMPD/hosts.new"
    else
        : >"$TMPD/hosts.new"
    fi
    cat "$TMPD/hosts.want" >>"$TMPD/hosts.new"
    put_file "$TMPD/hosts.new" "$hosts" 0644
    log "identity/hosts added to /etc/hosts"
}

# token_exp: read the token's exp claim (no signature check: the sidecar
# and istiod do that); warn on the console once it has expired.
token_exp() {
    TOKEN_EXP=null
    TOKEN_EXPIRED=false
    [ -s "$TOKEN_STORE" ] || return 0
    payload=$(cut -d. -f2 "$TOKEN_STORE" | head -n1 | tr '_-' '/+')
    case $((${#payload} % 4)) in
    2) payload=$payload== ;;
    3) payload=$payload= ;;
    esac
    exp=$(printf '%s' "$payload" | base64 -d 2>/dev/null |
        sed -n 's/.*"exp"[[:space:]]*:[[:space:]]*\([0-9][0-9]*\).*/\1/p' |
        head -n1) || exp=
    payload=
    if [ -z "$exp" ]; then
        log "warning: the istio token has no readable exp claim"
        return 0
    fi
    TOKEN_EXP=$exp
    if [ "$exp" -le "$(date +%s)" ]; then
        TOKEN_EXPIRED=true
        if [ "${1:-}" = warn ]; then
            w="warning istio-token expired at $(date -u -d "@$exp" +%Y-%m-%dT%H:%M:%SZ 2>/dev/null || echo "$exp"): set a fresh one (metadata key meshvm-istio-token or the seed)"
            log "$w"
            console "$w"
        fi
    fi
}

# install_token: refresh /etc/meshvm/istio-token (root, 0600) from the
# seed or the metadata server when it answers, then install it where the
# agent reads it (/var/run is a tmpfs: this runs on every boot, before
# istio.service).
install_token() {
    fresh=
    case $TOKEN_SOURCE in
    seed)
        if seed_mount && [ -s "$SEED/meshvm/istio-token" ]; then
            fresh=$SEED/meshvm/istio-token
        fi
        ;;
    metadata)
        if have_http &&
            (umask 077 && metadata_get instance/attributes/meshvm-istio-token "$TMPD/token") &&
            [ -s "$TMPD/token" ]; then
            fresh=$TMPD/token
        fi
        ;;
    esac
    if [ -n "$fresh" ]; then
        CHANGED=0
        put_file "$fresh" "$TOKEN_STORE" 0600
        if [ "$CHANGED" = 1 ]; then
            chown root:root "$TOKEN_STORE"
            log "istio token stored in /etc/meshvm/istio-token (from $TOKEN_SOURCE)"
        fi
        rm -f "$TMPD/token"
    elif [ -s "$TOKEN_STORE" ]; then
        log "no token from $TOKEN_SOURCE; keeping /etc/meshvm/istio-token"
    else
        fail "no istio token: none from $TOKEN_SOURCE and none in /etc/meshvm/istio-token"
    fi
    CHANGED=0
    put_file "$TOKEN_STORE" "$TOKEN_RUN" 0600
    if [ "$CHANGED" = 1 ]; then
        chown -R istio-proxy:istio-proxy "$R/var/run/secrets"
        log "istio token installed in /var/run/secrets/tokens/istio-token"
    else
        log "istio token already in /var/run/secrets/tokens/istio-token"
    fi
    token_exp warn
}

# json_array KEY FILE: the elements of KEY's array in a config.json as
# written by meshvm bake (jansson, indent 2, one element per line), still
# JSON-escaped, one per line.
json_array() {
    awk -v k="\"$1\": [" '
        index($0, k) == 3 && /\[\],?$/ { exit }
        index($0, k) == 3 { on = 1; next }
        on && /^  \]/ { exit }
        on { sub(/^ +"/, ""); sub(/",?$/, ""); print }' "$2"
}

# json_string KEY FILE: a top-level string value (JSON-escaped).
json_string() {
    sed -n "s/^  \"$1\": \"\(.*\)\",\{0,1\}\$/\1/p" "$2" | head -n1
}

# sd_quote: a JSON-escaped string as one double-quoted systemd word: JSON's
# escapes are C escapes systemd reads (but \/), specifiers % and variables
# $ are doubled.
sd_quote() {
    printf '"%s"' "$(printf '%s' "$1" | sed -e 's|\\/|/|g' -e 's/%/%%/g' -e "s/[\$]/\$\$/g")"
}

# install_rootfs: runtime systemd.  image/rootfs.tar is listed (-P: the
# names as stored, not as tar would clean them) and every
# name checked (relative, no "..", hard links inside the root, nothing
# below a symlink), extracted to /var/lib/meshvm/rootfs/<service> without
# owners, and the unit generated from image/config.json.
install_rootfs() {
    svc=$(sed -n '/^  "service": {/,/^  }/s/^    "name": "\([a-z0-9-]*\)",\{0,1\}$/\1/p' \
        "$CUR/MANIFEST.json" | head -n1)
    [ -n "$svc" ] || fail "MANIFEST.json names no service"
    root=$STATE/rootfs/$svc
    GEN_UNIT=$svc.service
    want="$svc $(sha_of "$CUR/image/rootfs.tar")"
    if [ -d "$root" ] && [ "$(cat "$STATE/rootfs.extracted" 2>/dev/null || true)" = "$want" ]; then
        log "root filesystem already in /var/lib/meshvm/rootfs/$svc"
    else
        {
            tar -tvPf "$CUR/image/rootfs.tar" >"$TMPD/rootfs.long" 2>>"$LOG" &&
                tar -tPf "$CUR/image/rootfs.tar" >"$TMPD/rootfs.names" 2>>"$LOG"
        } || fail "cannot list image/rootfs.tar (tar)"
        bad=$(awk '
            function unsafe(p) { return p ~ /^\// || p ~ /(^|\/)\.\.(\/|$)/ }
            FNR == NR {
                t = substr($0, 1, 1)
                if (t == "l") { n = $0
                    for (i = 0; i < 5; i++) sub(/^[^ ]+ +/, "", n)
                    sub(/ -> .*$/, "", n); sub(/\/$/, "", n); link[n] = 1 }
                if (t == "h") { n = $0; sub(/^.* link to /, "", n)
                    if (unsafe(n)) { print "hard link to " n; exit } }
                if (t != "-" && t != "d" && t != "l" && t != "h") {
                    print "a special file: " $0; exit }
                next
            }
            { p = $0; sub(/\/$/, "", p)
              if (unsafe(p)) { print p; exit }
              k = split(p, c, "/"); q = ""
              for (i = 1; i < k; i++) { q = q (i > 1 ? "/" : "") c[i]
                  if (q in link) { print p " (below the symlink " q ")"; exit } } }
            ' "$TMPD/rootfs.long" "$TMPD/rootfs.names")
        [ -z "$bad" ] || fail "image/rootfs.tar: unsafe entry $bad"
        rm -rf "$root.new"
        mkdir -p "$root.new"
        tar -x --no-same-owner -f "$CUR/image/rootfs.tar" -C "$root.new" \
            2>>"$LOG" || fail "cannot extract image/rootfs.tar (tar)"
        rm -rf "$root"
        mv "$root.new" "$root"
        write_small "$STATE/rootfs.extracted" "$want"
        log "root filesystem extracted to /var/lib/meshvm/rootfs/$svc"
    fi
    gen_unit "$svc" "$CUR/image/config.json" >"$TMPD/gen.service"
}

# gen_unit SERVICE CONFIG: the service's unit for RootDirectory=.
gen_unit() {
    exec_line=
    { json_array entrypoint "$2" && json_array cmd "$2"; } >"$TMPD/argv"
    while IFS= read -r w; do
        exec_line="$exec_line${exec_line:+ }$(sd_quote "$w")"
    done <"$TMPD/argv"
    [ -n "$exec_line" ] || fail "image/config.json has neither entrypoint nor cmd"
    case $exec_line in
    '"/'*) ;;
    *) fail "image/config.json: the command does not start with an absolute path ($exec_line)" ;;
    esac
    user=$(json_string user "$2")
    wd=$(json_string working_dir "$2")
    printf '# Generated by meshvm-join from image/config.json (runtime systemd).\n'
    printf '[Unit]\nDescription=%s (meshvm, runtime systemd)\n' "$1"
    printf 'Wants=network-online.target\nAfter=network-online.target\n\n'
    printf '[Service]\nRootDirectory=/var/lib/meshvm/rootfs/%s\n' "$1"
    printf 'MountAPIVFS=yes\nExecStart=%s\n' "$exec_line"
    json_array env "$2" | while IFS= read -r e; do
        printf 'Environment=%s\n' "$(sd_quote "$e" | sed 's/[$][$]/$/g')"
    done
    if [ -n "$wd" ]; then printf 'WorkingDirectory=%s\n' "$(printf '%s' "$wd" | sed 's/%/%%/g')"; fi
    case $user in
    '' | root | 0 | 0:0 | root:root | root:0 | 0:root)
        log "warning: the image runs as root (user '${user:-}'); the unit runs it as root"
        ;;
    *) printf 'DynamicUser=yes\n' ;;
    esac
    printf 'ProtectSystem=strict\nPrivateTmp=yes\nNoNewPrivileges=yes\n'
    printf 'Restart=on-failure\n\n[Install]\nWantedBy=multi-user.target\n'
}

# load_image: the service image into the chosen container runtime, or
# (runtime systemd, image/rootfs.tar) onto the disk.
load_image() {
    rt=$RUNTIME
    GEN_UNIT=
    if [ "$rt" = none ]; then
        log "runtime none: the image is not installed"
        return 0
    fi
    if [ -f "$CUR/image/rootfs.tar" ]; then
        install_rootfs
        return 0
    fi
    if [ "$rt" = auto ]; then
        rt=
        for c in docker podman containerd; do
            b=$c
            if [ "$c" = containerd ]; then b=ctr; fi
            if command -v "$b" >/dev/null 2>&1; then
                rt=$c
                break
            fi
        done
        [ -n "$rt" ] || fail "no container runtime on this VM (docker, podman or containerd's ctr); install one or use --runtime none"
    fi
    b=$rt
    if [ "$rt" = containerd ]; then b=ctr; fi
    command -v "$b" >/dev/null 2>&1 || fail "runtime $rt: $b is not installed on this VM"
    want="$rt $(sha_of "$CUR/image/image.tar")"
    if [ "$(cat "$STATE/image.loaded" 2>/dev/null || true)" = "$want" ]; then
        log "image already loaded into $rt"
        return 0
    fi
    case $rt in
    docker) docker load -i "$CUR/image/image.tar" >>"$LOG" 2>&1 9>&- ;;
    podman) podman load -i "$CUR/image/image.tar" >>"$LOG" 2>&1 9>&- ;;
    containerd) ctr -n default images import "$CUR/image/image.tar" >>"$LOG" 2>&1 9>&- ;;
    esac || fail "$rt could not load image/image.tar"
    write_small "$STATE/image.loaded" "$want"
    log "image loaded into $rt"
}

install_units() {
    reload=0
    UNITS=
    if [ -n "$GEN_UNIT" ]; then
        CHANGED=0
        put_file "$TMPD/gen.service" "$R/etc/systemd/system/$GEN_UNIT" 0644
        if [ "$CHANGED" = 1 ]; then reload=1; fi
        UNITS=" $GEN_UNIT"
    fi
    for u in "$CUR"/units/*.service; do
        [ -f "$u" ] || continue
        name=$(basename "$u")
        CHANGED=0
        put_file "$u" "$R/etc/systemd/system/$name" 0644
        if [ "$CHANGED" = 1 ]; then reload=1; fi
        UNITS="$UNITS $name"
    done
    [ -n "$UNITS" ] || fail "the bundle has no units/*.service and no image/rootfs.tar"
    TIMER=
    if [ "$TOKEN_SOURCE" = metadata ]; then
        token_units
        TIMER=meshvm-token.timer
    fi
    if [ "$reload" = 1 ]; then systemctl daemon-reload; fi
}

# token_units: where the token comes from instance metadata (GCE), `meshvm
# launch --refresh-token` writes a fresh one there before the old expires;
# meshvm-token.timer re-reads the key hourly and installs a changed token.
token_units() {
    printf '%s\n' '[Unit]' \
        'Description=meshvm: install a changed Istio token from instance metadata' \
        '' '[Service]' 'Type=oneshot' "ExecStart=$SELF token" >"$TMPD/token.service"
    printf '%s\n' '[Unit]' 'Description=meshvm: re-read the Istio token hourly' \
        '' '[Timer]' 'OnBootSec=1h' 'OnUnitActiveSec=1h' 'RandomizedDelaySec=5min' \
        '' '[Install]' 'WantedBy=timers.target' >"$TMPD/token.timer"
    for f in token.service token.timer; do
        CHANGED=0
        put_file "$TMPD/$f" "$R/etc/systemd/system/meshvm-$f" 0644
        if [ "$CHANGED" = 1 ]; then reload=1; fi
    done
}

start_services() {
    report starting "${UNITS# } istio.service"
    for name in $UNITS istio.service $TIMER; do
        if ! systemctl is-enabled --quiet "$name" 2>/dev/null; then
            systemctl enable --quiet "$name" 2>>"$LOG" || fail "systemctl enable $name failed"
        fi
    done
    # At boot (the unit) only queue the starts: istio.service is ordered
    # after this oneshot, and so may be a bundle unit (After=istio.service);
    # waiting for either here would deadlock.  The wait comes later.
    block=
    if [ "$MODE" = boot ]; then block=--no-block; fi
    for name in $UNITS istio.service $TIMER; do
        # shellcheck disable=SC2086
        systemctl start $block "$name" 2>>"$LOG" || fail "systemctl start $name failed"
    done
}

probe_ready() {
    if command -v curl >/dev/null 2>&1; then
        curl -fsS -o /dev/null --max-time 3 "$READY_URL" 2>/dev/null
    elif command -v wget >/dev/null 2>&1; then
        wget -q -O /dev/null -T 3 -t 1 "$READY_URL" 2>/dev/null
    elif command -v python3 >/dev/null 2>&1; then
        python3 -c "$PY_GET" "$READY_URL" /dev/null "" 3 2>/dev/null
    else
        busybox wget -q -O /dev/null -T 3 "$READY_URL" 2>/dev/null
    fi
}

# istio_said: the sidecar's last log line (why it is not ready), or "".
istio_said() {
    journalctl -u istio.service -n 1 -o cat --no-pager 2>/dev/null |
        tail -n 1 | tr -d '\000-\037' | cut -c1-400 || true
}

wait_ready() {
    report waiting "$READY_URL (up to ${READY_TIMEOUT}s)"
    t0=$(date +%s)
    until probe_ready; do
        # a sidecar that exited for good (say istiod refused its token)
        # will not become ready: say why now
        if systemctl is-failed --quiet istio.service 2>/dev/null; then
            said=$(istio_said)
            fail "istio.service failed${said:+: $said}"
        fi
        if [ $(($(date +%s) - t0)) -ge "$READY_TIMEOUT" ]; then
            said=$(istio_said)
            fail "istio not ready after ${READY_TIMEOUT}s ($READY_URL)${said:+; istio.service said: $said}"
        fi
        sleep 1
    done
    # The bundle's units were started (or queued at boot): none may have
    # failed by now.
    for name in $UNITS; do
        if systemctl is-failed --quiet "$name" 2>/dev/null; then
            fail "$name failed (see systemctl status $name)"
        fi
    done
    JOINED_AT=$(now_iso)
    report joined "bundle $(printf '%.12s' "$PINNED") boot $BOOT_COUNT"
}

main() {
    case ${1:-run} in
    run | boot | wait | token) MODE=${1:-run} ;;
    -h | --help)
        usage
        exit 0
        ;;
    *)
        usage >&2
        exit 2
        ;;
    esac
    trap on_exit EXIT
    mkdir -p "$RUNDIR"
    take_lock
    TMPD=$(mktemp -d "$RUNDIR/tmp.XXXXXX")
    load_conf
    if [ "$MODE" = token ]; then
        install_token
        return 0
    fi
    count_boot
    if [ "$MODE" = wait ]; then
        if [ -f "$CUR/image/rootfs.tar" ] && [ "$RUNTIME" != none ] &&
            [ -f "$STATE/rootfs.extracted" ]; then
            UNITS=" $(cut -d' ' -f1 "$STATE/rootfs.extracted").service"
        fi
        for u in "$CUR"/units/*.service; do
            if [ -f "$u" ]; then UNITS="$UNITS $(basename "$u")"; fi
        done
        token_exp
        wait_ready
        return 0
    fi
    fetch_bundle
    unpack_bundle
    find_sidecar
    report installing "$(basename "$pkg")"
    install_sidecar
    place_identity
    install_token
    load_image
    install_units
    start_services
    if [ "$MODE" = boot ]; then
        systemd-run --no-block --collect --unit=meshvm-join-wait \
            --description="meshvm: wait for the sidecar to be ready" \
            --property=After=istio.service "$SELF" wait >>"$LOG" 2>&1 ||
            log "meshvm-join-wait is already running"
        return 0
    fi
    wait_ready
}

main "$@"
