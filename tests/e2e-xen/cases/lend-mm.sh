#!/bin/bash
# lend-mm: the lending privcmd serving a guest on a Xen with lending (skipped on
# stock Xen or with --privcmd stock|fake). One HVM guest, 2 vCPUs, Debian's kernel:
# vCPU 0 and 1 each write and verify their half of BAR [0, 2M) forever, with plain
# stores and rep movs both ways (e2e-guest --mode loop), and vCPU 0 also reads BAR
# [2M, 2M+64K) (the watch range) whenever it reports a pass (at most 4 times a
# second), saying what its pages hold.
# The daemon runs with --mode auto (it must lend without being told), --on-lost
# fault and a window of 1.5 MiB, smaller than what the guest touches, so its own
# eviction runs all along. In order:
#  1. native traffic: ACCESS requests > 0, no COPY request, 0 bytes emulated, Xen
#     holds lent entries, the daemon evicts;
#  2. stale reads are looked for, not assumed: dom0 fills the watch range with a
#     fresh value through its own mapping of the daemon's memfd after each of
#     soft offline (pages migrate to new frames), page-out (zram swap when it can
#     be set up) and a punched hole, and the guest must then read the fresh value
#     in every page (a p2m entry left on the old frame would show the old one);
#     soft offline also runs under the guest's own half of vCPU 1, page-out under
#     vCPU 0's: their later passes verify with no error;
#     then dom0 poisons one watch page (MADV_HWPOISON: content lost): under
#     --on-lost fault the guest's read of it faults (#GP, SIGSEGV caught);
#  3. kill -9 of the daemon under traffic: Xen's 'q' key says "lent entries: 0";
#     the same command line takes the ioreq server over, the guest resumes, its
#     data and the watch range are intact (the memfd outlived the daemon), and
#     the lost page is still lost (lend-copy checks --on-lost zero);
#  4. xl destroy mid-traffic: the daemon exits 0, Xen relinquishes the lent entries
#     with 0 left, its free memory comes back, no zombie domain.
# Timed in the same boot: the ACCESS round trip of a first touch, an emulated 4-byte
# config read through the daemon and through QEMU, a userfaultfd minor fault in dom0.
# The case records a `lend` object that run.sh's JSON sums over lending cases.
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
xl dmesg -c > /dev/null 2>&1
# zram swap, so that page-out really moves pages (best effort: recorded).
if modprobe zram num_devices=1 2>/dev/null && echo 64M > /sys/block/zram0/disksize &&
    mkswap /dev/zram0 > /dev/null 2>&1 && swapon /dev/zram0 2>/dev/null; then
    rec_str swap zram
else
    rec_str swap none
fi

# The anchor of the timings: a userfaultfd minor fault on shmem in dom0, in this boot,
# before the guest exists (bench/uffd_anchor.c, as make bench runs it).
UFFD_P50=$("$E2E/bin/uffd-anchor" --pages 256 --rounds 3 2>/dev/null | jq -r '.p50_us // empty')
rec_str uffd_p50_us "${UFFD_P50:-none}"

NV=${E2E_LEND_VCPUS:-2}
WATCH=0x200000 WATCH_LEN=0x10000 WATCH_PAGES=16
rec vcpus "$NV"
# The guest's console is its PV console: on its emulated UART, one vCPU in two ended up
# waiting for good on QEMU (tests/e2e-xen/README.md, "open: the UART stall").
HVM_CONSOLE=${E2E_LEND_CONSOLE:-hvc0} hvm_cfg "$D/guest.cfg" e2e-lend-mm "$NV" 256 "--mode loop --threads-bytes 2M --watch-bytes 64K --probe-groups 20 --vcpus $NV"
require_daemon
# E2E_LEND_DMODE=emulate: the same guest emulated (a diagnostic: the lending checks fail).
DARGS=(--mode "${E2E_LEND_DMODE:-auto}" --on-lost fault --fault-around 64K --window 1536K --log-level "${E2E_LOG_LEVEL:-info}")
start_guest "$D/guest.cfg" "${DARGS[@]}" || { cleanup_case; finish; }
mode_line=$(grep -a -m1 'serving domain' "$DLOG")
check mode_auto_lends "$([[ $mode_line == *"lend mode"* ]] && echo true || echo false)" "${mode_line#*info: }"

# The newest loop pass the guest reported for vCPU $1 ("pass errors"), from its console:
# whole lines only (the last one may still be arriving, kernel messages may cut one).
last_pass() {
    grep -a -E "E2E-GUEST-MARK loop vcpu=$1 pass=[0-9]+ written=[0-9]+ errors=[0-9]+" "$GUEST_CONSOLE" |
        tail -1 | tr -d '\r' | sed -n 's/.* pass=\([0-9]*\) .* errors=\([0-9]*\).*/\1 \2/p'
}
# wait_passes N: every vCPU has reported N more passes than now (bounded poll #4: the
# console grows by a few lines a second, grep reads it every 0.5 s for up to 90 s).
wait_passes() {
    local v p e want=() end=$((SECONDS + 90))
    for ((v = 0; v < NV; v++)); do
        read -r p e <<< "$(last_pass $v)"
        want[v]=$(( ${p:--1} + $1 ))
    done
    for ((v = 0; v < NV; v++)); do
        while read -r p e <<< "$(last_pass $v)"; [ "${p:--1}" -lt "${want[v]}" ]; do
            [ $SECONDS -ge $end ] && return 1
            sleep 0.5
        done
    done
}
# The watch range as vCPU 0 last read it: "PASS FIRST SAME ZERO FAULTS" (the pass it
# read it in, the first word, how many pages hold that word in every word, how many
# read zeros, how many reads faulted).
last_watch() {
    grep -a -E 'E2E-GUEST-MARK watch pass=[0-9]+ first=0x[0-9a-f]+ same=[0-9]+ zero=[0-9]+ faults=[0-9]+ pages=' \
        "$GUEST_CONSOLE" | tail -1 | tr -d '\r' |
        sed -n 's/.* pass=\([0-9]*\) first=\(0x[0-9a-f]*\) same=\([0-9]*\) zero=\([0-9]*\) faults=\([0-9]*\) .*/\1 \2 \3 \4 \5/p'
}
# wait_watch PASS: a watch report from PASS or later (bounded poll #4 as above).
wait_watch() {
    local p end=$((SECONDS + 90))
    while read -r p _ <<< "$(last_watch)"; [ "${p:--1}" -lt "$1" ]; do
        [ $SECONDS -ge $end ] && return 1
        sleep 0.5
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
    xl dmesg -c > "$D/xen-before-q.log" 2>&1
    xl debug-keys q
    xl dmesg | tr -d '\r' | awk -v d="$DOMID" '
        /General information for domain/ { mine = ($0 ~ ("domain " d ":")) }
        mine && /lent entries:/ { print $NF; exit }'
}
# When the guest stops making progress: where the daemon is (its kernel stack says
# whether it sleeps in a privcmd ioctl), its counters and vCPU slots, and the
# vCPUs' state and pending requests in Xen.
diagnose() {
    {
        echo "daemon $DPID: state $(awk '{print $3}' /proc/$DPID/stat 2>/dev/null) wchan $(cat /proc/$DPID/wchan 2>/dev/null)"
        cat /proc/$DPID/stack 2>/dev/null
        kill -USR1 "$DPID" 2>/dev/null
        wait_file_line "$DLOG" 'vCPU slots idle' 5 > /dev/null
        tail -n 60 "$DLOG"
        # QEMU, the domain's default ioreq server (serial console, platform devices):
        # a vCPU waiting on server 0 waits on it.
        tail -n 20 /var/log/xen/qemu-dm-"$GUEST".log 2>/dev/null | sed 's/^/qemu log: /'
        for q in $(pgrep -f "qemu-system.*-xen-domid $DOMID"); do
            for t in /proc/$q/task/*; do
                echo "qemu $q task ${t##*/} ($(cat $t/comm 2>/dev/null)): state $(awk '{print $3}' $t/stat 2>/dev/null) wchan $(cat $t/wchan 2>/dev/null)"
                cat $t/stack 2>/dev/null
            done
        done
        xl dmesg -c > /dev/null 2>&1; xl debug-keys q
        xl dmesg | tr -d '\r' | sed -n "/General information for domain $DOMID:/,\$p" |
            grep -aE 'VCPU|pause|lent|access|ioreq_server'
        # Event channels between dom0 and the guest, both ends ([pending/masked/...]).
        xl dmesg -c > /dev/null 2>&1; xl debug-keys e
        xl dmesg | tr -d '\r' | awk -v d="$DOMID" '
            /Event channel information for (domain|d)/ { dom = $NF; sub(/:$/, "", dom); next }
            (dom == d "" || dom == "0" || dom == "d0" || dom == ("d" d)) && (/ d=/ || /s=3/) { print "dom " dom ": " $0 }' |
            grep -aE "d=$DOMID|d=0" | head -40
        grep -E 'xen-dyn|evtchn' /proc/interrupts | head -20
    } > "$D/diagnosis.txt" 2>&1
    rec diagnosis "$(head -c 6000 "$D/diagnosis.txt" | jq -Rs .)"
    sed 's/^/[diagnosis] /' "$D/diagnosis.txt" | cut -c1-200
}
# Give up on a guest that stopped: diagnose, tear down, count what leaked.
abandon() {
    check "$1" false "$2"
    diagnose
    kill -KILL "$DPID" 2>/dev/null; xl destroy "$DOMID" 2>/dev/null
    save_guest_logs; leak_checks; finish
}

if line=$(wait_console 'E2E-GUEST-MARK traffic-started' 300); then
    check traffic_started true "$line"
else
    check traffic_started false "no traffic-started mark"
fi
# The timings, in the guest: first touches of 20 fresh 64 KiB groups (an ACCESS request
# and a remap each; p99 of 20 is their maximum), and a 4-byte config read through our
# daemon and through QEMU (conf1: a CF8 write Xen latches, then a CFC read that
# Xen forwards to the ioreq server as a request), medians of 50.
probe=$(grep -a -m1 'E2E-GUEST-MARK access-probe' "$GUEST_CONSOLE" | tr -d '\r')
lat=$(grep -a -m1 'E2E-GUEST-MARK latency' "$GUEST_CONSOLE" | tr -d '\r')
num_of() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<< "$2"; }
ACC50=$(num_of first_p50 "$probe") ACC99=$(num_of first_p99 "$probe")
EMU50=$(num_of conf1_daemon "$lat") QEMU50=$(num_of conf1_qemu "$lat")
check access_timed "$([ -n "$ACC50" ] && [ -n "$EMU50" ] && echo true || echo false)" \
    "ACCESS round trip p50 ${ACC50:-?} us p99 ${ACC99:-?} us; emulated config read: ours ${EMU50:-?} us, QEMU's ${QEMU50:-?} us; dom0 userfaultfd minor fault p50 ${UFFD_P50:-?} us"
wait_passes 2 || abandon guest_loops "the guest did not complete 2 passes on every vCPU: $(last_pass 0) / $(last_pass 1)"
# vCPU 1's pass and errors ("0 0" for a 1-vCPU guest).
pass1() { if [ "$NV" -gt 1 ]; then last_pass 1; else echo "0 0"; fi; }
read -r p0 e0 <<< "$(last_pass 0)"; read -r p1 e1 <<< "$(pass1)"
access0=$(wait_stat ioreqs.access 1)
check native_access "$([ "$access0" -gt 0 ] && [ "$(stat ioreqs.copy)" = 0 ] && [ "$(stat dm.emulated_bytes)" = 0 ] && echo true || echo false)" \
    "ioreqs.access=$access0, ioreqs.copy=$(stat ioreqs.copy), dm.emulated_bytes=$(stat dm.emulated_bytes) after passes $p0/$p1 (errors $e0/$e1)"
evicted=$(stat remap.pages_evicted)
check window_evicts "$([ "${evicted:-0}" -gt 0 ] && echo true || echo false)" "remap.pages_evicted=${evicted:-none} with --window 1536K"
n=$(lent_entries)
check lent_while_running "$([ "${n:-0}" -gt 0 ] && [ "${n:-0}" -le 384 ] && echo true || echo false)" \
    "Xen's 'q': lent entries: ${n:-none} (the window holds 384 pages)"

# 2. Real MM events under the running guest, each followed by a fresh pattern.
FD=""
for f in /proc/$DPID/fd/*; do
    case $(readlink "$f") in "/memfd:ioreq-lend"*) FD=${f##*/} ;; esac
done
STALE=0 MOVED=0
# fresh NAME VALUE: fill the watch range with VALUE now; vCPU 0's reads from two passes
# later on must all see it.
fresh() {
    local want=$2 p e w first same stale=$WATCH_PAGES
    read -r p e <<< "$(last_pass 0)"
    "$T" fill "$DPID" "$FD" $WATCH $WATCH_LEN "$want" > "$D/fill-$1.out" 2>&1 ||
        { check "fresh_$1" false "$(cat "$D/fill-$1.out")"; return; }
    wait_watch $(( ${p:-0} + 2 )) || abandon "guest_loops_$1" "no watch report after $1: $(last_pass 0) / $(pass1)"
    read -r w first same _ <<< "$(last_watch)"
    [ "$((first))" = "$((want))" ] && stale=$((WATCH_PAGES - same))
    STALE=$((STALE + stale))
    check "fresh_$1" "$([ "$stale" = 0 ] && echo true || echo false)" \
        "after $1, dom0 wrote $want: in pass $w the guest reads first word $first in $same of $WATCH_PAGES pages"
}
# moved NAME OFF LEN: pages of the daemon's mapping now at another frame than in pfns-NAME.
moved() {
    "$T" pfns "$DPID" "$2" "$3" > "$D/pfns-$1-after"
    paste "$D/pfns-$1" "$D/pfns-$1-after" | awk '$2 == "present" && $5 == "present" && $3 != $6' | wc -l
}
fresh before 0x1111111111111111
inval0=$(stat_now remap.pages_invalidated)

"$T" pfns "$DPID" 0x100000 0x110000 > "$D/pfns-offline"
"$T" soft-offline "$DPID" "$FD" 0x100000 0x100000 > "$D/soft-offline.out" 2>&1 &&
    "$T" soft-offline "$DPID" "$FD" $WATCH $WATCH_LEN >> "$D/soft-offline.out" 2>&1
check soft_offline "$([ $? = 0 ] && echo true || echo false)" "memfd fd $FD: $(tr '\n' ' ' < "$D/soft-offline.out")"
fresh soft_offline 0x2222222222222222
m=$(moved offline 0x100000 0x110000); MOVED=$((MOVED + m))
check soft_offline_new_frames "$([ "$m" -gt 0 ] && echo true || echo false)" "$m of 272 pages at a new frame"

"$T" pfns "$DPID" 0 0x100000 > "$D/pfns-pageout"
"$T" pageout "$DPID" 0 0x100000 > "$D/pageout.out" 2>&1 &&
    "$T" pageout "$DPID" $WATCH $WATCH_LEN >> "$D/pageout.out" 2>&1
check pageout "$([ $? = 0 ] && echo true || echo false)" "$(tr '\n' ' ' < "$D/pageout.out")"
fresh pageout 0x3333333333333333
m=$(moved pageout 0 0x100000); MOVED=$((MOVED + m))
rec pageout_new_frames "$m"

"$T" punch "$DPID" "$FD" $WATCH $WATCH_LEN > "$D/punch.out" 2>&1
check punch "$([ $? = 0 ] && echo true || echo false)" "$(cat "$D/punch.out")"
fresh punch 0x4444444444444444

# Lost content: dom0 poisons the watch range's last page (MADV_HWPOISON: the kernel
# takes the page away and cannot bring its content back). Under --on-lost fault the
# guest's read of it faults (#GP; the guest catches SIGSEGV and counts it), and only
# that page: the other 15 still hold the fresh value.
LOST=$((WATCH + WATCH_LEN - 4096)) LOST_PAGES=0
read -r p e <<< "$(last_pass 0)"
if "$T" hwpoison "$DPID" "$FD" $LOST 4096 > "$D/hwpoison.out" 2>&1; then
    LOST_PAGES=1
    wait_watch $(( ${p:-0} + 2 )) || abandon guest_loops_hwpoison "no watch report after the poison: $(last_pass 0) / $(pass1)"
    read -r w first same zero faults <<< "$(last_watch)"
    lost=$(stat_now remap.lost)
    check lost_fault "$([ "$faults" = 1 ] && [ "$same" = $((WATCH_PAGES - 1)) ] && [ "${lost:-0}" -gt 0 ] && echo true || echo false)" \
        "--on-lost fault: in pass $w the guest's read faulted in $faults page(s), $same read $first; remap.lost=$lost"
else
    rec_str lost_skipped "$(cat "$D/hwpoison.out")"
fi

inval1=$(wait_stat remap.pages_invalidated $((inval0 + 1)))
check invalidations "$([ "$inval1" -gt "$inval0" ] && echo true || echo false)" \
    "remap.pages_invalidated $inval0 -> $inval1"
read -r q0 f0 <<< "$(last_pass 0)"; read -r q1 f1 <<< "$(pass1)"
access1=$(stat_now ioreqs.access)
check integrity_after_events "$([ "${f0:-1}" = 0 ] && [ "${f1:-1}" = 0 ] && [ "$q0" -gt "$p0" ] && echo true || echo false)" \
    "passes $p0/$p1 -> $q0/$q1, errors $f0/$f1"
rec remap "$(jq -c 'with_entries(select(.key | startswith("remap.")))' "$D/stats.flat.json")"

# 3. kill -9 under traffic: exit revokes everything before the fd is even closed; the
# same command line takes the server over and the guest goes on where it waited.
access_before_kill=$access1 emulated_before_kill=$(stat dm.emulated_bytes)
kill -KILL "$DPID"; wait "$DPID" 2>/dev/null
n=$(lent_entries)
check kill9_revokes "$([ "$n" = 0 ] && echo true || echo false)" "after kill -9 of the daemon, Xen's 'q': lent entries: ${n:-none}"
mv "$DLOG" "$D/daemon-1.log"; mv "$DSTATS" "$D/stats-1.json" 2>/dev/null
[ -n "${READYFD:-}" ] && exec {READYFD}<&-
# The successor runs the same command line (--on-lost is part of the device the guest
# sees: its capability says which policy, so another policy would be another device).
if daemon_start "$DOMID" "${DARGS[@]}"; then
    adopted=$(wait_stat takeover.adopted 1)
    check takeover "$([ "$adopted" = 1 ] && echo true || echo false)" "takeover.adopted=$adopted"
    wait_passes 2 || abandon guest_loops_after_restart "the guest did not resume: $(last_pass 0) / $(pass1)"
    read -r r0 g0 <<< "$(last_pass 0)"; read -r r1 g1 <<< "$(pass1)"
    read -r w first same zero faults <<< "$(last_watch)"
    check data_survives_restart "$([ "${g0:-1}" = 0 ] && [ "${g1:-1}" = 0 ] && [ "$((first))" = "$((0x4444444444444444))" ] &&
        [ "$same" = $((WATCH_PAGES - LOST_PAGES)) ] && echo true || echo false)" \
        "passes $q0/$q1 -> $r0/$r1, errors $g0/$g1; watch range: $first in $same of $WATCH_PAGES pages"
    if [ $LOST_PAGES = 1 ]; then
        check lost_stays_lost "$([ "$faults" = 1 ] && echo true || echo false)" \
            "after the take-over, in pass $w the lost page still faults ($faults fault(s)): the successor lends what is there"
    fi
fi

# 4. xl destroy mid-traffic.
access2=$(stat_now ioreqs.access)
xl destroy "$DOMID" > /dev/null 2>&1
if daemon_wait_exit 30; then
    check destroy_daemon_exit "$([ "$DRC" = 0 ] && echo true || echo false)" "the daemon exited $DRC after xl destroy"
else
    check destroy_daemon_exit false "the daemon did not exit within 30 s of xl destroy ($DRC)"
fi
wait_domain_gone "$DOMID" 30
relinq=$(xl dmesg | tr -d '\r' | grep -a "d$DOMID: relinquished" | tail -1)
left=$(sed -n 's/.*lent entries, \([0-9]*\) left.*/\1/p' <<< "$relinq")
check destroy_relinquishes "$([ -n "$relinq" ] && [ "$left" = 0 ] && echo true || echo false)" "Xen: ${relinq:-no relinquish line}"

save_guest_logs
daemon_log_excerpt
dmesg | tail -n +$((KLOG0 + 1)) > "$D/kernel.log"
bad=$(grep -E 'WARNING:|BUG:|Oops|general protection|xen:xen_privcmd' "$D/kernel.log" | head -5)
check kernel_quiet "$([ -z "$bad" ] && echo true || echo false)" "${bad:-$(wc -l < "$D/kernel.log") new kernel lines, none bad}"
swapoff /dev/zram0 2>/dev/null
errors=$(( ${g0:-${f0:-0}} + ${g1:-${f1:-0}} ))
emulated=$(( ${emulated_before_kill:-0} + $(stat dm.emulated_bytes || echo 0) ))
rec lend "$(jq -cn --argjson a "$(( access_before_kill + access2 ))" --argjson e "${emulated:-0}" \
    --argjson i "${inval1:-0}" --argjson m "$MOVED" --argjson ie "$errors" --argjson s "$STALE" \
    --argjson l "${left:-null}" --argjson a50 "${ACC50:-null}" --argjson a99 "${ACC99:-null}" \
    --argjson e50 "${EMU50:-null}" --argjson q50 "${QEMU50:-null}" --argjson u50 "${UFFD_P50:-null}" \
    '{access: $a, emulated_bytes: $e, invalidated_pages: $i, frames_changed: $m, integrity_errors: $ie,
      stale_reads: $s, lent_entries_left: $l, access_us_p50: $a50, access_us_p99: $a99,
      emulated_read_us_p50: $e50, qemu_read_us_p50: $q50, uffd_us_p50: $u50}')"
leak_checks
finish
