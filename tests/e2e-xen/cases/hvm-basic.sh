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

# Mid-run (the threads are done, rep movsq and the rest still to come): SIGUSR1 must
# make the daemon dump its counters to its log.
if [ -n "${DPID:-}" ] && wait_console 'E2E-GUEST-MARK (threads-done|error)|^E2E-GUEST \{' 240 >/dev/null; then
    SIGUSR1_LINE=$(wc -l < "$DLOG")
    if kill -USR1 "$DPID" 2>/dev/null; then
        rec daemon.sigusr1 "$(jq -cn --argjson l "$SIGUSR1_LINE" '{sent: true, log_line: $l}')"
    else
        rec daemon.sigusr1 '{"sent": false, "why": "daemon already gone"}'
    fi
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
if wait_domain_gone "$GUEST" 60; then
    check guest_powered_off true "domain $DOMID gone $(since "$GUEST_T0")s after unpause"
else
    check guest_powered_off false "domain $DOMID still there 60s after its result"
fi
save_guest_logs
if have_daemon; then
    daemon_end_checks
    fallback_warning_check
    daemon_counter_checks "$(( $(gnum .bytes_written) + $(gnum .bytes_read) ))"
    # What the log got after SIGUSR1 (the counter dump), for the report.
    if [ -n "${SIGUSR1_LINE:-}" ]; then
        rec daemon.sigusr1_dump "$(sed -n "$((SIGUSR1_LINE + 1)),+12p" "$DLOG" | cut -c1-200 | jq -R . | jq -cs .)"
    fi
    daemon_log_excerpt
fi
leak_checks
finish
