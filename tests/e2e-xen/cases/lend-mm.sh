#!/bin/bash
# lend-mm: the lending privcmd serving a guest on a Xen with lending (skipped on
# stock Xen or with --privcmd stock|fake). The daemon runs --mode lend --on-lost fault
# (revision 2 has no LEND_MAP_F_ZERO_LOST, the daemon's default); the guest writes and
# verifies BAR [0, 2M) forever (e2e-guest --mode loop):
#  1. native traffic: ACCESS requests > 0, no COPY request, Xen holds lent entries;
#  2. real memory management on the daemon's memfd while the guest runs: dom0's
#     lend-test pages out BAR [0, 1M) (process_madvise MADV_PAGEOUT; zram swap when
#     it can be set up) and soft-offlines BAR [1M, 2M) through its own mapping
#     (new PFNs): the daemon gets MIGRATED events, the guest re-faults (more ACCESS
#     requests) and its later passes verify with no error;
#  3. a hole punched in BAR [0, 64K) through /proc/PID/fd: events again, the guest
#     goes on (its loop may then count zeros it did not write: recorded, not checked);
#  4. kill -9 of the daemon: Xen's 'q' key says "lent entries: 0" for the domain.
. /e2e/lib.sh
case_begin lend-mm
T=$E2E/bin/lend-test
rec_str privcmd "$E2E_PRIVCMD"
XEN_LENDS=$("$T" probe 2>/dev/null)
rec_str xen "$XEN_LENDS"
if [ "$E2E_PRIVCMD" != lend ] || [ "$XEN_LENDS" != lending ]; then
    skip "needs a Xen with lending and run.sh --privcmd lend (Xen: ${XEN_LENDS:-?}, privcmd: $E2E_PRIVCMD)"
    finish
fi
KLOG0=$(dmesg | wc -l)
# zram swap, so that page-out really moves pages (best effort: recorded).
if modprobe zram num_devices=1 2>/dev/null && echo 64M > /sys/block/zram0/disksize &&
    mkswap /dev/zram0 > /dev/null 2>&1 && swapon /dev/zram0 2>/dev/null; then
    rec_str swap zram
else
    rec_str swap none
fi

# One vCPU by default: with two, the first run on the patched Xen 4.17.5 left vCPU 0
# stalled after its first pages (no more ACCESS requests, the daemon idle in epoll,
# guest RCU stall on CPU 0) while vCPU 1 looped: --set E2E_LEND_VCPUS=2 reproduces it.
NV=${E2E_LEND_VCPUS:-1}
rec vcpus "$NV"
hvm_cfg "$D/guest.cfg" e2e-lend-mm "$NV" 256 "--mode loop --threads-bytes 2M --vcpus $NV"
require_daemon
start_guest "$D/guest.cfg" --mode lend --on-lost fault --fault-around 64K \
    --log-level "${E2E_LOG_LEVEL:-info}" || { cleanup_case; finish; }

# The newest loop pass the guest reported for vCPU $1 ("pass errors"), from its console:
# whole lines only (the last one may still be arriving, kernel messages may cut one).
last_pass() {
    grep -a -E "E2E-GUEST-MARK loop vcpu=$1 pass=[0-9]+ written=[0-9]+ errors=[0-9]+" "$GUEST_CONSOLE" |
        tail -1 | tr -d '\r' | sed -n 's/.* pass=\([0-9]*\) .* errors=\([0-9]*\).*/\1 \2/p'
}
# wait_passes N: both vCPUs have reported N more passes than now.
wait_passes() {
    local v p e
    for ((v = 0; v < NV; v++)); do
        read -r p e <<< "$(last_pass $v)"
        wait_console "E2E-GUEST-MARK loop vcpu=$v pass=$(( ${p:--1} + $1 )) " 60 > /dev/null || return 1
    done
}
# A counter of the daemon's --stats file, rewritten every second (bounded poll #3:
# wait_stat KEY MIN waits up to 10 s for KEY >= MIN).
stat_now() { local v; daemon_stats_flat > "$D/stats.flat.json" 2>/dev/null; v=$(stat "$1"); echo "${v:-0}"; }
wait_stat() {
    local end=$((SECONDS + 10)) v
    while :; do
        v=$(stat_now "$1")
        [ "$v" -ge "$2" ] && { echo "$v"; return 0; }
        [ $SECONDS -ge $end ] && { echo "$v"; return 1; }
        sleep 0.5
    done
}
# The "lent entries" Xen's 'q' key prints for our domain.
lent_entries() {
    xl dmesg -c > /dev/null 2>&1
    xl debug-keys q
    xl dmesg | tr -d '\r' | awk -v d="$DOMID" '
        /General information for domain/ { mine = ($0 ~ ("domain " d ":")) }
        mine && /lent entries:/ { print $NF; exit }'
}

# When the guest stops making progress: where the daemon is (its kernel stack says
# whether it sleeps in a privcmd ioctl), its counters, and the vCPUs' state in Xen.
diagnose() {
    {
        echo "daemon $DPID: state $(awk '{print $3}' /proc/$DPID/stat 2>/dev/null) wchan $(cat /proc/$DPID/wchan 2>/dev/null)"
        cat /proc/$DPID/stack 2>/dev/null
        kill -USR1 "$DPID" 2>/dev/null
        tail -n 60 "$DLOG"
        xl dmesg -c > /dev/null 2>&1; xl debug-keys q
        xl dmesg | tr -d '\r' | sed -n "/General information for domain $DOMID:/,\$p" | grep -aE 'VCPU|pause|lent|access'
    } > "$D/diagnosis.txt" 2>&1
    rec diagnosis "$(head -c 6000 "$D/diagnosis.txt" | jq -Rs .)"
    sed 's/^/[diagnosis] /' "$D/diagnosis.txt" | cut -c1-200
}

if line=$(wait_console 'E2E-GUEST-MARK traffic-started' 300); then
    check traffic_started true "$line"
else
    check traffic_started false "no traffic-started mark"
fi
if ! wait_passes 2; then
    check guest_loops false "the guest did not complete 2 passes on both vCPUs: $(last_pass 0) / $(last_pass 1)"
    diagnose
    kill -KILL "$DPID"; xl destroy "$DOMID"; save_guest_logs; leak_checks; finish
fi
# vCPU 1's pass and errors ("0 0" for a 1-vCPU guest).
pass1() { if [ "$NV" -gt 1 ]; then last_pass 1; else echo "0 0"; fi; }
read -r p0 e0 <<< "$(last_pass 0)"; read -r p1 e1 <<< "$(pass1)"
access0=$(wait_stat ioreqs.access 1)
check native_access "$([ "$access0" -gt 0 ] && [ "$(stat ioreqs.copy)" = 0 ] && echo true || echo false)" \
    "ioreqs.access=$access0, ioreqs.copy=$(stat ioreqs.copy) after passes $p0/$p1 (errors $e0/$e1)"
n=$(lent_entries)
check lent_while_running "$([ "${n:-0}" -gt 0 ] && echo true || echo false)" "Xen's 'q': lent entries: ${n:-none}"

# 2. Real MM events under the running guest.
FD=""
for f in /proc/$DPID/fd/*; do
    case $(readlink "$f") in "/memfd:ioreq-lend"*) FD=${f##*/} ;; esac
done
inval0=$(stat_now remap.pages_invalidated)
"$T" pfns "$DPID" 0x100000 0x100000 > "$D/pfns-before"
"$T" pageout "$DPID" 0 0x100000 > "$D/pageout.out" 2>&1
check pageout "$([ $? = 0 ] && echo true || echo false)" "$(cat "$D/pageout.out")"
"$T" soft-offline "$DPID" "$FD" 0x100000 0x100000 > "$D/soft-offline.out" 2>&1
check soft_offline "$([ $? = 0 ] && echo true || echo false)" "memfd fd $FD: $(cat "$D/soft-offline.out")"
inval1=$(wait_stat remap.pages_invalidated $((inval0 + 1)))
check migrated_events "$([ "$inval1" -gt "$inval0" ] && echo true || echo false)" \
    "remap.pages_invalidated $inval0 -> $inval1"
wait_passes 2 || check guest_loops_after false "the guest did not complete 2 passes after the events"
"$T" pfns "$DPID" 0x100000 0x100000 > "$D/pfns-after"
moved=$(paste "$D/pfns-before" "$D/pfns-after" | awk '$2 == "present" && $5 == "present" && $3 != $6' | wc -l)
check soft_offline_new_frames "$([ "$moved" -gt 0 ] && echo true || echo false)" "$moved of 256 pages at a new PFN"
read -r q0 f0 <<< "$(last_pass 0)"; read -r q1 f1 <<< "$(pass1)"
access1=$(stat_now ioreqs.access)
check refaults "$([ "$access1" -gt "$access0" ] && echo true || echo false)" "ioreqs.access $access0 -> $access1"
check integrity_after_events "$([ "${f0:-1}" = 0 ] && [ "${f1:-1}" = 0 ] && [ "$q0" -gt "$p0" ] && echo true || echo false)" \
    "passes $p0/$p1 -> $q0/$q1, errors $f0/$f1"
rec remap "$(jq -c 'with_entries(select(.key | startswith("remap.")))' "$D/stats.flat.json")"

# 3. A hole punched under the guest: zeros, as the host decided.
inval2=$(stat_now remap.pages_invalidated)
"$T" punch "$DPID" "$FD" 0 0x10000 > "$D/punch.out" 2>&1
check punch "$([ $? = 0 ] && echo true || echo false)" "$(cat "$D/punch.out")"
inval3=$(wait_stat remap.pages_invalidated $((inval2 + 1)))
check punch_events "$([ "$inval3" -gt "$inval2" ] && echo true || echo false)" "remap.pages_invalidated $inval2 -> $inval3"
wait_passes 1 || check guest_loops_after_punch false "the guest stopped after the punch"
rec_str after_punch "passes $(last_pass 0) / $(pass1) (pass errors)"

# 4. kill -9: exit revokes everything before the fd is even closed.
kill -KILL "$DPID"; wait "$DPID" 2>/dev/null
n=$(lent_entries)
check kill9_revokes "$([ "$n" = 0 ] && echo true || echo false)" "after kill -9 of the daemon, Xen's 'q': lent entries: ${n:-none}"
xl destroy "$DOMID" > /dev/null 2>&1
save_guest_logs
daemon_log_excerpt
dmesg | tail -n +$((KLOG0 + 1)) > "$D/kernel.log"
bad=$(grep -E 'WARNING:|BUG:|Oops|general protection|xen:xen_privcmd' "$D/kernel.log" | head -5)
check kernel_quiet "$([ -z "$bad" ] && echo true || echo false)" "${bad:-$(wc -l < "$D/kernel.log") new kernel lines, none bad}"
swapoff /dev/zram0 2>/dev/null
leak_checks
finish
