# harness/e2e/qemu.sh - one qemu guest for the boot tests (boot.sh,
# gce-boot.sh): start it on $work/disk.qcow2 with the kernel and initrd of
# $image, watch it under a hard timeout ($boot_timeout s), power it off
# through the HMP monitor, reap or kill it.  Sourced; defines helpers and
# qemu_pid; the caller sets work, image, logs and boot_timeout.
# The caller's variables (SC2154) and ours it reads (SC2034) cross files:
# shellcheck shell=bash disable=SC2154,SC2034

qemu_pid=
qemu_t0=0
qemu_overdue=0
qemu_powered_at=0
qemu_first_press=0
qemu_sysrq_at=0
qemu_serial=
# Seconds of ignored power-key presses before the sysrq fallback (tests set
# 0 to exercise it).
: "${MESHVM_BOOT_SYSRQ_AFTER:=90}"

# qemu_kill: stop the guest if it runs (failures, the EXIT trap).
qemu_kill() {
	if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then
		kill "$qemu_pid" 2>/dev/null || true
		wait "$qemu_pid" 2>/dev/null || true
	fi
	qemu_pid=
}

# qemu_monitor COMMAND: one HMP command on the monitor socket.  It waits
# for the prompt after the command: a client that hung up once it had read
# the banner lost its command whenever QEMU saw the hang-up before the line
# (CI's boot 2 pressed the power key 35 times that way, in vain).
qemu_monitor() {
	/usr/bin/python3 - "$work/monitor.sock" "$1" <<'EOF' >/dev/null 2>&1 || true
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
buf = b""
def until(prompts):
    global buf
    while buf.count(b"(qemu) ") < prompts:
        data = s.recv(4096)
        if not data:
            break
        buf += data
until(1)
s.sendall((sys.argv[2] + "\n").encode())
until(2)
s.close()
EOF
}

# qemu_start N APPEND QEMU_ARG...: boot in the background, the console in
# $logs/serialN.log, qemu's own output in $logs/qemuN.log, kernel command
# line "root=/dev/vda rw console=ttyS0 net.ifnames=0 APPEND"; the extra
# arguments add the accelerator, network and further drives.
qemu_start() {
	local n=$1 append=$2
	shift 2
	qemu_serial=$logs/serial$n.log
	qemu_overdue=0
	qemu_powered_at=0
	qemu_first_press=0
	qemu_sysrq_at=0
	rm -f "$work/monitor.sock"
	qemu_t0=$(date +%s)
	qemu-system-x86_64 -m 1024 -smp 2 -display none -no-reboot \
		-serial "file:$qemu_serial" -monitor "unix:$work/monitor.sock,server,nowait" \
		-kernel "$image/vmlinuz" -initrd "$image/initrd.img" \
		-append "root=/dev/vda rw console=ttyS0 net.ifnames=0${append:+ $append}" \
		-drive "file=$work/disk.qcow2,if=virtio,format=qcow2" \
		"$@" >"$logs/qemu$n.log" 2>&1 &
	qemu_pid=$!
}

# qemu_tick: qemu_watch's loop condition: wait 2 s while the guest runs;
# false once it exited, or once $boot_timeout s passed since qemu_start:
# then the guest is killed, the console's tail shown and qemu_overdue=1.
qemu_tick() {
	kill -0 "$qemu_pid" 2>/dev/null || return 1
	sleep 2
	if [ $(($(date +%s) - qemu_t0)) -ge "$boot_timeout" ]; then
		qemu_kill
		tail -30 "$qemu_serial" >&2 || true
		qemu_overdue=1
		return 1
	fi
}

# qemu_powerdown: press the power key; at most every 10 s, as it is pressed
# on every tick (logind ignores it for ~30 s after boot).  A guest that
# ignored it for $MESHVM_BOOT_SYSRQ_AFTER s (CI saw one ignore it for 350 s
# after a clean join) gets the magic SysRq keys on its keyboard instead:
# sync, remount read-only, power off; Debian's kernel.sysrq=438 allows all
# three, and the disk the checks read is consistent after s and u.
qemu_powerdown() {
	local now
	now=$(date +%s)
	[ "$qemu_first_press" != 0 ] || qemu_first_press=$now
	if [ $((now - qemu_first_press)) -ge "$MESHVM_BOOT_SYSRQ_AFTER" ]; then
		[ "$qemu_sysrq_at" = 0 ] || [ $((now - qemu_sysrq_at)) -ge 30 ] || return 0
		[ "$qemu_sysrq_at" != 0 ] ||
			echo "# $(basename "$qemu_serial" .log): power key ignored for $((now - qemu_first_press)) s; SysRq s, u, o" >&2
		qemu_sysrq_at=$now
		qemu_monitor "sendkey alt-sysrq-s"
		sleep 2
		qemu_monitor "sendkey alt-sysrq-u"
		sleep 2
		qemu_monitor "sendkey alt-sysrq-o"
		return
	fi
	if [ "$qemu_powered_at" = 0 ] || [ $((now - qemu_powered_at)) -ge 10 ]; then
		qemu_monitor system_powerdown
		qemu_powered_at=$now
	fi
}

# qemu_watch N LOOK FAIL: every 2 s while the guest runs, LOOK N (one look
# at the console: it may FAIL, or qemu_powerdown); FAIL MESSAGE when no
# power-off came within $boot_timeout s or qemu failed.
qemu_watch() {
	local n=$1 look=$2 fail=$3 rc=0
	while qemu_tick; do
		"$look" "$n"
	done
	[ "$qemu_overdue" = 0 ] ||
		"$fail" "boot $n: no power-off within ${boot_timeout}s (see $qemu_serial)"
	wait "$qemu_pid" || rc=$?
	qemu_pid=
	[ "$rc" = 0 ] || "$fail" "boot $n: qemu failed: $(cat "$logs/qemu$n.log")"
}
