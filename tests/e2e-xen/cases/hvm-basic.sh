#!/bin/bash
# hvm-basic: an HVM guest (2 vCPUs, 256 MiB) finds the function hvmloader placed and
# moves seeded patterns through its 256 MiB BAR from both vCPUs (8-byte stores and
# loads, rep movsq both ways, 1/2/4/8-byte accesses). The daemon runs in --mode auto:
# on stock Xen it must warn once that lending is unavailable and emulate. When the
# guest powers off, the daemon must exit 0 by itself and no domain may be left.
. /e2e/lib.sh
case_begin hvm-basic
VENDOR=0x5853 DEVICE=0x1e4d CLASS=0x058000 BAR_SIZE=$((256 << 20))
TB=${E2E_THREADS_BYTES:-4M} RB=${E2E_REP_BYTES:-1M}
hvm_cfg "$D/guest.cfg" e2e-hvm-basic 2 256 "--mode traffic --threads-bytes $TB --rep-bytes $RB --vcpus 2"

require_daemon
start_guest "$D/guest.cfg" --mode auto --vendor $VENDOR --device $DEVICE --class $CLASS \
        --log-level "${E2E_LOG_LEVEL:-info}" || { cleanup_case; finish; }

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
fi
leak_checks
finish
