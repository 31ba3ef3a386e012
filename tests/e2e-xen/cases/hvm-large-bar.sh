#!/bin/bash
# hvm-large-bar: an 8 GiB BAR with mmio_hole set in the xl config. hvmloader cannot
# fit the BAR below 4 GiB, so it must place it above (guest sees BAR0 >= 4 GiB), and
# a few MiB of pattern traffic must work there.
. /e2e/lib.sh
case_begin hvm-large-bar
VENDOR=0x5853 DEVICE=0x1e4d CLASS=0x058000
BAR=${E2E_LARGE_BAR:-8G}
case $BAR in *G) BAR_SIZE=$(( ${BAR%G} << 30 )) ;; *M) BAR_SIZE=$(( ${BAR%M} << 20 )) ;; *) BAR_SIZE=$BAR ;; esac
hvm_cfg "$D/guest.cfg" e2e-hvm-large-bar 2 256 "--mode traffic --threads-bytes 2M --rep-bytes 256K --vcpus 2" \
    "mmio_hole = ${E2E_MMIO_HOLE_MB:-1024}"
rec bar_size "$BAR_SIZE"

require_daemon
start_guest "$D/guest.cfg" --mode auto --bar-size "$BAR" --vendor $VENDOR --device $DEVICE --class $CLASS \
        --log-level "${E2E_LOG_LEVEL:-info}" || { cleanup_case; finish; }
if guest_result 300; then
    progress "guest: ok=$(g .ok) bar0=$(g .bar0) size=$(g .bar0_size) errors=$(g .integrity_errors)"
    guest_function_checks $VENDOR $DEVICE $CLASS $BAR_SIZE
    if [ "$(g .kernel_found)" = true ]; then
        check bar0_above_4g "$( [ $(( $(g .bar0) )) -ge $((1 << 32)) ] && echo true || echo false)" \
            "BAR0 at $(g .bar0) (mmio_hole ${E2E_MMIO_HOLE_MB:-1024} MiB)"
        guest_traffic_checks
        have_daemon && check daemon_reports_bar0 "$(daemon_reports_addr "$(g .bar0)" && echo true || echo false)" \
            "looked for $(g .bar0) in the daemon's log and --stats"
    fi
fi
poweroff_checks
leak_checks
finish
