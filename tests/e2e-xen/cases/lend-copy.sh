#!/bin/bash
# lend-copy: lend against emulate for the same guest copy, in one boot of a Xen with
# lending (skipped elsewhere, like lend-mm). Two guests in turn run e2e-guest's traffic
# phases with a 16 MiB threads phase (each vCPU writes its 8 MiB half with rep movsq a
# page at a time, verifies it, then verifies the other half): the first served by the
# daemon in --mode lend, the second in --mode emulate. Both must verify with no error;
# the lent one must get ACCESS requests and emulate nothing, and (--on-lost zero) takes
# a page that dom0 poisoned before the guest ran as a hole. The ratio of the two
# threads-phase times is the run's lend.lend_vs_emulate. The lent run is replayed on the
# simulator afterwards (run.sh: fidelity-lend, the ACCESS count and the data digest).
. /e2e/lib.sh
case_begin lend-copy
T=$E2E/bin/lend-test
XEN_LENDS=$("$T" probe 2>/dev/null)
if [ "$E2E_PRIVCMD" != lend ] || [ "$XEN_LENDS" != lending ]; then
    skip "needs a Xen with lending and run.sh --privcmd lend (Xen: ${XEN_LENDS:-?}, privcmd: $E2E_PRIVCMD)"
    finish
fi
TB=${E2E_COPY_BYTES:-16M}
require_daemon

# copy_run MODE: one guest, one daemon in MODE; sets SECS (threads phase) and checks.
copy_run() {
    local mode=$1
    HVM_CONSOLE=hvc0 hvm_cfg "$D/guest-$mode.cfg" "e2e-copy-$mode" 2 256 \
        "--mode traffic --threads-bytes $TB --rep-bytes 64K --plain-bytes 4K --vcpus 2"
    local extra=() before=""
    # The lent run also checks --on-lost zero: dom0 poisons BAR page 0 before the guest
    # runs (content lost); the guest's first touch there is answered with a hole made
    # in the memfd, and everything it writes and reads back afterwards is intact.
    [ "$mode" = lend ] && extra=(--on-lost zero) before=poison_page0
    BEFORE_UNPAUSE=$before start_guest "$D/guest-$mode.cfg" --mode "$mode" "${extra[@]}" \
        --log-level "${E2E_LOG_LEVEL:-info}" || return 1
    if guest_result 600; then
        SECS=$(g .threads_s)
        daemon_stats_flat > "$D/stats.flat.json" 2>/dev/null
        local a c e
        a=$(stat ioreqs.access) c=$(stat ioreqs.copy) e=$(stat dm.emulated_bytes)
        check "copy_$mode" "$([ "$(g .integrity_errors)" = 0 ] && [ "$(g .bytes_written)" -gt 0 ] && echo true || echo false)" \
            "threads phase ${SECS}s ($(g .threads_mib_s) MiB/s), integrity_errors $(g .integrity_errors); ioreqs.access=${a:-0} ioreqs.copy=${c:-0} dm.emulated_bytes=${e:-0}"
        if [ "$mode" = lend ]; then
            check copy_lend_native "$([ "${a:-0}" -gt 0 ] && [ "${e:-0}" = 0 ] && echo true || echo false)" \
                "ioreqs.access=${a:-0}, dm.emulated_bytes=${e:-0}"
            if [ $POISONED = 1 ]; then
                local lost; lost=$(stat remap.lost)
                check lost_zero "$([ "${lost:-0}" -ge 1 ] && [ "$(g .integrity_errors)" = 0 ] && echo true || echo false)" \
                    "--on-lost zero: BAR page 0 lost before the guest ran; remap.lost=${lost:-0}, the guest's data verified with $(g .integrity_errors) errors"
            fi
            LEND_ACCESS=${a:-0} LEND_EMULATED=${e:-0}
        fi
        rec "$mode" "$(jq -c '{threads_s, threads_mib_s, integrity_errors, bytes_written}' "$D/guest.json")"
    fi
    # The guest powers itself off after its result line; the daemon then exits 0.
    wait_domain_gone "$GUEST" 60 ||
        check "copy_${mode}_powered_off" false "domain $DOMID still there 60s after its result"
    save_guest_logs
    mv "$D/console.log" "$D/console-$mode.log" 2>/dev/null
    mv "$D/guest.json" "$D/guest-$mode.json" 2>/dev/null
    daemon_end_checks
    # The lent run, for run.sh's differential on the simulator (fidelity.pl ... lend_run
    # lend): the guest's report and the daemon's counters as it exited.
    if [ "$mode" = lend ] && [ -s "$D/guest-lend.json" ] && [ -s "$DSTATS" ]; then
        rec lend_run "$(jq -cn --slurpfile g "$D/guest-lend.json" --slurpfile s "$DSTATS" \
            '{guest: $g[0], stats_raw: $s[0]}')"
    fi
    mv "$DSTATS" "$D/stats-$mode.json" 2>/dev/null
}

# BAR page 0 of the daemon's memfd, lost (MADV_HWPOISON through our own mapping).
poison_page0() {
    local f fd=""
    for f in /proc/$DPID/fd/*; do
        case $(readlink "$f") in "/memfd:ioreq-lend"*) fd=${f##*/} ;; esac
    done
    if [ -n "$fd" ] && "$T" hwpoison "$DPID" "$fd" 0 4096 > "$D/hwpoison.out" 2>&1; then
        POISONED=1
    else
        rec_str lost_skipped "$(cat "$D/hwpoison.out" 2>/dev/null)"
    fi
    return 0
}

SECS="" LEND_ACCESS=0 LEND_EMULATED=0 POISONED=0
copy_run lend; LEND_S=$SECS
SECS=""
copy_run emulate; EMU_S=$SECS
RATIO=$(awk -v l="$LEND_S" -v e="$EMU_S" 'BEGIN { if (l > 0 && e > 0) printf "%.1f", e / l }')
check lend_vs_emulate "$([ -n "$RATIO" ] && echo true || echo false)" \
    "the same ${TB} copy: lent ${LEND_S:-?}s, emulated ${EMU_S:-?}s: ${RATIO:-?}x"
# The lent half's figures only: the emulated half emulates by design.
rec lend "$(jq -cn --argjson r "${RATIO:-null}" --argjson a "$LEND_ACCESS" --argjson e "$LEND_EMULATED" \
    '{lend_vs_emulate: $r, access: $a, emulated_bytes: $e}')"
leak_checks
finish
