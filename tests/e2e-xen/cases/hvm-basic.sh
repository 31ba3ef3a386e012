#!/bin/bash
# hvm-basic: an HVM guest (2 vCPUs, 256 MiB) finds the function hvmloader placed and
# moves seeded patterns through its 256 MiB BAR from both vCPUs (8-byte stores and
# loads, rep movsq both ways, 1/2/4/8-byte accesses). The daemon runs in --mode auto:
# on stock Xen it must warn once that lending is unavailable and emulate. When the
# guest powers off, the daemon must exit 0 by itself and no domain may be left.
# Its xenstore record (ioreq-lend/xs_record.h) must be there while it serves and
# gone once it exited (xenstore-utils is in the dom0 image: build-images.sh).
. /e2e/lib.sh
case_begin hvm-basic
VENDOR=0x5853 DEVICE=0x1e4d CLASS=0x058000 BAR_SIZE=$((256 << 20))
TB=${E2E_THREADS_BYTES:-4M} RB=${E2E_REP_BYTES:-1M}
hvm_cfg "$D/guest.cfg" e2e-hvm-basic 2 256 "--mode traffic --threads-bytes $TB --rep-bytes $RB --vcpus 2"

require_daemon
start_guest "$D/guest.cfg" --mode auto --vendor $VENDOR --device $DEVICE --class $CLASS \
        --log-level "${E2E_LOG_LEVEL:-info}" || { cleanup_case; finish; }

# The record is written before the daemon's ready line, so it is there now:
# /local/domain/0/device-model/DOMID/ioreq-lend/0000-00-1f-0/{pid,state,mode,stats}
# holding the daemon's pid, "running", the mode it serves in (emulate on this
# stock Xen, lend on the lending one) and its --stats file.
XS_DM=/local/domain/0/device-model/$DOMID/ioreq-lend
XS_REC=$XS_DM/0000-00-1f-0
if have_daemon; then
    xs_pid=$(xenstore-read "$XS_REC/pid" 2>&1)
    xs_state=$(xenstore-read "$XS_REC/state" 2>&1)
    xs_mode=$(xenstore-read "$XS_REC/mode" 2>&1)
    xs_stats=$(xenstore-read "$XS_REC/stats" 2>&1)
    ok=false
    [ "$xs_pid" = "$DPID" ] && [ "$xs_state" = running ] && [ "$xs_stats" = "$DSTATS" ] &&
        case $xs_mode in emulate | lend) true ;; *) false ;; esac && ok=true
    check xenstore_record_while_serving $ok \
        "pid=$xs_pid (the daemon's: $DPID) state=$xs_state mode=$xs_mode stats=$xs_stats; $(xenstore-ls -f "$XS_DM" 2>&1 | head -8 | tr '\n' ';')"
fi

if guest_result 300; then
    progress "guest: ok=$(g .ok) bar0=$(g .bar0) written=$(g .bytes_written) read=$(g .bytes_read) errors=$(g .integrity_errors) threads=$(g .threads_s)s"
    guest_function_checks $VENDOR $DEVICE $CLASS $BAR_SIZE
    guest_traffic_checks
    if have_daemon && [ "$(g .kernel_found)" = true ]; then
        check daemon_reports_bar0 "$(daemon_reports_addr "$(g .bar0)" && echo true || echo false)" \
            "looked for $(g .bar0) in the daemon's log and --stats"
    fi
fi

# The guest powers itself off after its result line.
poweroff_checks
if have_daemon; then
    fallback_warning_check
    # The daemon has exited (poweroff_checks waited for it): its record went before
    # it did. libxl may remove device-model/DOMID itself; ioreq-lend/ must be gone
    # either way, so "absent" is what is checked, not the parent's state.
    if xenstore-exists "$XS_DM" 2>/dev/null; then
        check xenstore_record_gone_after_exit false "still there: $(xenstore-ls -f "$XS_DM" 2>&1 | head -8 | tr '\n' ';')"
    else
        check xenstore_record_gone_after_exit true "$XS_DM absent after the daemon exited"
    fi
fi
leak_checks
finish
