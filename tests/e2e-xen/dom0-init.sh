#!/bin/bash
# dom0's /init in the end-to-end harness (a PV dom0 booted from an initramfs).
#
# 1. Mounts, Xen's kernel modules, xenstored, xen-init-dom0, xenconsoled.
# 2. Checks the injected daemon (/usr/local/bin/ioreq-lend) runs here.
# 3. Runs the cases named in /e2e/run.env (E2E_CASES), each /e2e/cases/NAME.sh in its
#    own process under a timeout; each writes /tmp/e2e/NAME/result.json.
# 4. Prints every result between E2E-RESULTS-BEGIN/END markers on the console
#    (hvc0 -> Xen's console -> QEMU's serial port -> run.sh), and powers off.
#
# Console protocol (parsed by run.sh's report.pl):
#   E2E-PROGRESS text                       progress for humans
#   E2E-RESULT NAME MD5 LENGTH JSON         one per case and one "env"; printed twice,
#                                           the reader keeps the first intact copy (a
#                                           Xen message may cut into a long line)
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/xen-4.17/bin
export E2E=/e2e RESULTS=/tmp/e2e LC_ALL=C

mkdir -p /proc /sys /dev /run /tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# devtmpfs has no /dev/fd: bash's process substitution needs it.
ln -sfn /proc/self/fd /dev/fd; ln -sfn fd/0 /dev/stdin; ln -sfn fd/1 /dev/stdout; ln -sfn fd/2 /dev/stderr
mkdir -p /dev/pts /dev/shm && mount -t devpts devpts /dev/pts && mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
# xenconsole needs /run/lock (credit: the xen-under-qemu recipe).
mkdir -p /run/lock /run/xen /var/log/xen/console /var/lib/xen /var/lib/xenstored /var/run "$RESULTS"
exec </dev/null

. "$E2E/lib.sh"
# Per-run settings from run.sh's injected archive; defaults for a bare image.
E2E_CASES="lend-ioctl lend-events lend-mm hvm-basic xl-create hvm-large-bar destroy-mid-traffic pvh xen-lend"
E2E_CASE_TIMEOUT=300
[ -f "$E2E/run.env" ] && . "$E2E/run.env"
E2E_CASES=${E2E_CASES//,/ }

CASE=""
D=$RESULTS/env
mkdir -p "$D"; : > "$D/fields.jsonl"
T_INIT=$(now)
progress "dom0 init at uptime $T_INIT s, cases: $E2E_CASES"
rec_str name env
rec dom0_init_uptime_s "$T_INIT"
rec_str image_keys "$(cat "$E2E/image-keys" 2>/dev/null)"

infra_error=""
# dom0's privcmd (run.sh --privcmd): upstream/linux/'s module with the lending ioctls,
# loaded before the modprobes so that xenfs binds to it, or Debian's own.
export E2E_PRIVCMD=${E2E_PRIVCMD:-lend}
case $E2E_PRIVCMD in
lend) ko=$E2E/modules/xen-privcmd.ko ;;
fake) ko=$E2E/modules/fake-xen/xen-privcmd.ko ;;
*) ko="" ;;
esac
if [ -n "$ko" ] && ! insmod "$ko" 2>> "$D/modprobe.err"; then
    infra_error="insmod $ko failed: $(tail -1 "$D/modprobe.err")"
fi
rec_str privcmd "$E2E_PRIVCMD"
for m in xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs xen-blkback xen-netback; do
    modprobe "$m" 2>>"$D/modprobe.err" || log "modprobe $m failed"
done
mount -t xenfs xenfs /proc/xen || infra_error="mount xenfs failed"
if [ -z "$infra_error" ]; then
    xenstored --pid-file /run/xen/xenstored.pid || infra_error="xenstored failed to start"
fi
if [ -z "$infra_error" ]; then
    xen-init-dom0 > "$D/xen-init-dom0.log" 2>&1 || infra_error="xen-init-dom0 failed: $(tail -1 "$D/xen-init-dom0.log")"
fi
if [ -z "$infra_error" ]; then
    # --log=guest: guest consoles to /var/log/xen/console/guest-NAME.log (PVH cases).
    xenconsoled --pid-file=/run/xen/xenconsoled.pid --log=guest || infra_error="xenconsoled failed"
fi
if [ -z "$infra_error" ] && ! xl info > "$D/xl-info" 2>&1; then
    infra_error="xl info failed: $(tail -1 "$D/xl-info")"
fi
xi() { awk -v k="$1" '$1 == k {sub(/^[^:]*: */, ""); print; exit}' "$D/xl-info"; }
rec_str xen_version "$(xi xen_version)"
rec_str virt_caps "$(xi virt_caps)"
rec_str xen_commandline "$(xi xen_commandline)"
rec xen_free_mb "$(xi free_memory || echo null)"
rec_str dom0_kernel "$(uname -r)"
rec_str xenstored "$(pgrep -x xenstored >/dev/null && echo running || echo absent)"
rec_str privcmd_taint "$(cat /sys/module/xen_privcmd/taint 2>/dev/null)"
[ -n "$infra_error" ] && rec_str infra_error "$infra_error"
progress "xen $(xi xen_version) virt_caps '$(xi virt_caps)' free $(xi free_memory) MiB, xenstored $(pgrep -x xenstored >/dev/null && echo up || echo DOWN), privcmd $E2E_PRIVCMD${infra_error:+, ERROR: $infra_error}"

# The daemon under test, injected per run by run.sh: as files, or as the Debian package
# (run.sh --deb), installed here as an administrator would.
if compgen -G "$E2E/debs/*.deb" >/dev/null; then
    deb=$(ls "$E2E"/debs/*.deb)
    if dpkg -i "$E2E"/debs/*.deb > "$D/dpkg.log" 2>&1; then
        rec_str deb_installed "$(dpkg-query -W -f='${Package} ${Version}' ioreq-lend)"
        progress "dpkg -i $(basename "$deb"): $(dpkg-query -W -f='${Package} ${Version}' ioreq-lend)"
    else
        rec_str deb_installed "dpkg -i failed: $(tail -3 "$D/dpkg.log" | tr '\n' ' ')"
        progress "dpkg -i $(basename "$deb") FAILED: $(tail -3 "$D/dpkg.log" | tr '\n' '|')"
    fi
fi
if [ -x "$DAEMON" ]; then
    if "$DAEMON" --help > "$E2E/daemon-help.out" 2> "$E2E/daemon-help.err"; then
        touch "$E2E/daemon-ok"
        ("$DAEMON" --version 2>/dev/null || echo "ioreq-lend (no --version)") | head -1 > "$E2E/daemon-version"
        rec_str daemon "$(cat "$E2E/daemon-version")"
        progress "daemon: $(cat "$E2E/daemon-version")"
    else
        rec_str daemon "--help failed: $(head -c 300 "$E2E/daemon-help.err")"
        progress "daemon: --help FAILED: $(head -3 "$E2E/daemon-help.err" | tr '\n' '|')"
    fi
else
    rec_str daemon "missing"
    progress "daemon: build/ioreq-lend missing (not injected)"
fi
jq -cs 'reduce .[] as $x ({}; . * $x)' "$D/fields.jsonl" > "$D/result.json"

# ------------------------------------------------------------------ the cases
for c in $E2E_CASES; do
    script=$E2E/cases/$c.sh
    CD=$RESULTS/$c
    if [ -n "$infra_error" ]; then
        mkdir -p "$CD"
        jq -cn --arg n "$c" --arg r "infrastructure: $infra_error" \
            '{name: $n, status: "fail", reason: $r}' > "$CD/result.json"
        continue
    fi
    if [ ! -f "$script" ]; then
        mkdir -p "$CD"
        jq -cn --arg n "$c" '{name: $n, status: "fail", reason: "no such case"}' > "$CD/result.json"
        continue
    fi
    t0=$(now)
    timeout -k 10 "$E2E_CASE_TIMEOUT" bash "$script" > "$RESULTS/$c.out" 2>&1 &
    cpid=$!
    # Stream the case's own log to the console as it goes.
    tail -n +1 -F --pid=$cpid "$RESULTS/$c.out" 2>/dev/null &
    tpid=$!
    wait $cpid; rc=$?
    wait $tpid 2>/dev/null
    if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
        # Timed out: leave a diagnosis on the console.
        {
            echo "--- $c timed out: diagnosis"
            xl list 2>&1
            ps -eo pid,ppid,stat,wchan:24,pcpu,etime,args 2>&1 | grep -v ' \[' | head -40
            for p in $(pgrep -x ioreq-lend); do
                echo "ioreq-lend $p: $(tr '\n' ' ' < /proc/$p/stack 2>/dev/null | cut -c1-300)"
            done
            [ -f "$CD/daemon.log" ] && tail -n 20 "$CD/daemon.log" | sed 's/^/[daemon] /'
            xl dmesg 2>/dev/null | tail -n 20 | sed 's/^/[xl dmesg] /'
            # Which ioreq server each blocked vCPU waits on (patch 7 on the lending Xen).
            xl debug-keys q 2>/dev/null
            xl dmesg 2>/dev/null | grep -a 'ioreq_server [0-9]* d[0-9]*v' | tail -n 12 | sed 's/^/[xl q] /'
            echo "--- end of diagnosis"
        } 2>&1 | cut -c1-300
    fi
    if [ ! -s "$CD/result.json" ]; then
        mkdir -p "$CD"
        reason="case script exited $rc without a result"
        [ $rc -eq 124 ] && reason="case timed out after ${E2E_CASE_TIMEOUT}s"
        jq -cn --arg n "$c" --arg r "$reason" --argjson e "$(since "$t0")" \
            '{name: $n, status: "fail", reason: $r, elapsed_s: $e}' > "$CD/result.json"
        echo "E2E-PROGRESS $c: end fail ($reason)"
    fi
    # Whatever the case left behind must not leak into the next one.
    (D=$CD; DPID=$(cat "$CD/daemon.pid" 2>/dev/null); cleanup_case)
done

# ------------------------------------------------------------------ report and power off
emit() { # emit NAME FILE
    local j; j=$(jq -c . "$2" 2>/dev/null) || j=$(jq -cn --arg n "$1" '{name: $n, status: "fail", reason: "result.json unreadable"}')
    local sum; sum=$(printf '%s' "$j" | md5sum | cut -d' ' -f1)
    printf 'E2E-RESULT %s %s %s %s\n' "$1" "$sum" "${#j}" "$j"
}

echo "E2E-RESULTS-BEGIN"
for pass in 1 2; do
    emit env "$RESULTS/env/result.json"
    for c in $E2E_CASES; do emit "$c" "$RESULTS/$c/result.json"; done
done
echo "E2E-RESULTS-END"
progress "dom0 done at uptime $(now) s, powering off"
sync
busybox poweroff -f
