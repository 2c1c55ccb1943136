#!/bin/sh
# vmsim-shim - what a simulated VM has instead of systemd, dpkg, rpm,
# docker and chown (harness/vmsim; embedded into meshvm, linked under
# each name in the sandbox's PATH).  Every call is recorded, one line,
# in $MESHVM_ROOT/var/log/vmsim/calls.log (capped at 1 MiB); then:
#   systemctl   enable/disable/is-enabled remember units under
#               /run/vmsim/enabled; start istio.service runs the
#               ExecStart= of its unit file (the sidecar package's) in the
#               background with its output in /var/log/vmsim/UNIT.log;
#               stop sends it SIGTERM; is-active / is-failed answer from
#               its pid and exit status; other units are only recorded
#   journalctl  -u UNIT [-n N]: the tail of /var/log/vmsim/UNIT.log
#   dpkg -i     unpacks the package into the root (dpkg-deb -x) and adds
#               the users a sidecar package's postinst adds
#   rpm -i      the same through rpm2cpio and cpio
#   docker, systemd-run, chown   recorded, succeed
# Paths are under $MESHVM_ROOT: this is a sandbox, not a VM.
set -eu

name=$(basename "$0")
R=${MESHVM_ROOT:?}
LOGD=$R/var/log/vmsim
RUN=$R/run/vmsim
mkdir -p "$LOGD" "$RUN/enabled"
calls=$LOGD/calls.log
if [ ! -f "$calls" ] || [ "$(wc -c <"$calls")" -lt 1048576 ]; then
    printf '%s\n' "$name $*" >>"$calls"
fi

unit_file() {
    for d in etc/systemd/system lib/systemd/system usr/lib/systemd/system; do
        if [ -f "$R/$d/$1" ]; then
            printf '%s\n' "$R/$d/$1"
            return 0
        fi
    done
    return 1
}

alive() {
    [ -s "$RUN/$1.pid" ] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null
}

start_unit() {
    u=$1
    if [ "$u" != istio.service ] || alive "$u"; then return 0; fi
    f=$(unit_file "$u") || {
        echo "systemctl: unit $u not found" >&2
        return 5
    }
    exec_line=$(sed -n 's/^ExecStart=[-@+!:]*//p' "$f" | head -n1)
    [ -n "$exec_line" ] || {
        echo "systemctl: $u has no ExecStart" >&2
        return 1
    }
    rm -f "$RUN/$u.rc" "$RUN/$u.pid"
    # shellcheck disable=SC2086 # a unit's command line is split on blanks
    set -- $exec_line
    cmd=$R$1
    shift
    (
        "$cmd" "$@" >>"$LOGD/$u.log" 2>&1 </dev/null &
        echo $! >"$RUN/$u.pid"
        rc=0
        wait $! || rc=$?
        echo "$rc" >"$RUN/$u.rc"
    ) &
    # the main process's pid is there before systemctl returns
    i=0
    while [ ! -s "$RUN/$u.pid" ] && [ $i -lt 50 ]; do
        sleep 0.1
        i=$((i + 1))
    done
}

stop_unit() {
    u=$1
    alive "$u" || return 0
    pid=$(cat "$RUN/$u.pid")
    kill -TERM "$pid" 2>/dev/null || true
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$RUN/$u.pid"
}

systemctl_main() {
    verb=
    units=
    for a in "$@"; do
        case $a in
        -*) ;;
        *) if [ -z "$verb" ]; then verb=$a; else units="$units $a"; fi ;;
        esac
    done
    rc=0
    case $verb in
    daemon-reload | reset-failed) ;;
    enable) for u in $units; do : >"$RUN/enabled/$u"; done ;;
    disable) for u in $units; do rm -f "$RUN/enabled/$u"; done ;;
    is-enabled) for u in $units; do [ -e "$RUN/enabled/$u" ] || rc=1; done ;;
    start) for u in $units; do start_unit "$u" || rc=$?; done ;;
    restart)
        for u in $units; do
            stop_unit "$u"
            start_unit "$u" || rc=$?
        done
        ;;
    stop) for u in $units; do stop_unit "$u"; done ;;
    is-active)
        for u in $units; do
            if [ "$u" = istio.service ] && ! alive "$u"; then rc=3; fi
        done
        ;;
    is-failed)
        rc=1
        for u in $units; do
            if [ -s "$RUN/$u.rc" ] && [ "$(cat "$RUN/$u.rc")" != 0 ]; then rc=0; fi
        done
        ;;
    status) for u in $units; do tail -n 20 "$LOGD/$u.log" 2>/dev/null || true; done ;;
    *) ;;
    esac
    return $rc
}

journalctl_main() {
    u=
    n=10
    while [ $# -gt 0 ]; do
        case $1 in
        -u) u=$2; shift ;;
        -n) n=$2; shift ;;
        esac
        shift
    done
    case $u in *.*) ;; *) u=$u.service ;; esac
    tail -n "$n" "$LOGD/$u.log" 2>/dev/null || true
}

# The users Istio's sidecar package's postinst adds.
add_users() {
    grep -q '^istio-proxy:' "$R/etc/passwd" 2>/dev/null ||
        echo 'istio-proxy:x:998:998::/var/lib/istio:/usr/sbin/nologin' >>"$R/etc/passwd"
    grep -q '^istio-proxy:' "$R/etc/group" 2>/dev/null ||
        echo 'istio-proxy:x:998:' >>"$R/etc/group"
}

package_main() {
    mode=
    pkg=
    for a in "$@"; do
        case $a in
        -i | --install | -U) mode=install ;;
        -*) ;;
        *) pkg=$a ;;
        esac
    done
    if [ "$mode" != install ] || [ ! -f "$pkg" ]; then
        echo "$name: only '$name -i PACKAGE' is simulated" >&2
        return 1
    fi
    case $name in
    dpkg) dpkg-deb -x "$pkg" "$R" ;;
    rpm) rpm2cpio "$pkg" | (cd "$R" && cpio -idm --quiet) ;;
    esac
    add_users
    echo "$name: $(basename "$pkg") unpacked into the sandbox"
}

case $name in
systemctl) systemctl_main "$@" ;;
journalctl) journalctl_main "$@" ;;
dpkg | rpm) package_main "$@" ;;
docker)
    case ${1:-} in
    load) echo "Loaded image: vmsim/recorded:latest" ;;
    esac
    ;;
systemd-run | chown) ;;
*)
    echo "vmsim-shim: no shim named $name" >&2
    exit 127
    ;;
esac
