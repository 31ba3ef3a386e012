#!/bin/bash
# destroy-mid-traffic: the guest writes and verifies from both vCPUs forever. Once it
# printed that traffic started, SIGUSR1 must make the daemon log its counters; then
# dom0 runs `xl destroy`. The daemon must notice the domain's death by itself, exit 0,
# and release everything (no zombie domain).
. /e2e/lib.sh
case_begin destroy-mid-traffic
hvm_cfg "$D/guest.cfg" e2e-destroy 2 256 "--mode loop --threads-bytes 2M --vcpus 2"

require_daemon
start_guest "$D/guest.cfg" --mode auto --log-level "${E2E_LOG_LEVEL:-info}" || { cleanup_case; finish; }
if line=$(wait_console 'E2E-GUEST-MARK traffic-started|^E2E-GUEST \{' 300) && [[ $line == *traffic-started* ]]; then
    check traffic_started true "$(since "$GUEST_T0")s after unpause: $line"
else
    check traffic_started false "guest never started traffic: ${line:-(nothing)} $(grep -a '^E2E-GUEST {' "$GUEST_CONSOLE" | cut -c1-300)"
fi
# Mid-traffic, SIGUSR1 must make the daemon log its counters. The guest loops until
# destroyed, so the daemon is certainly serving it while we wait for the dump.
if [ -n "${DPID:-}" ] && kill -USR1 "$DPID" 2>/dev/null; then
    if line=$(wait_file_line "$DLOG" 'counter ioreqs\.copy = [1-9]' 60); then
        check sigusr1_dumps_counters true "${line#*] }"
    else
        check sigusr1_dumps_counters false "no 'counter ioreqs.copy' line within 60 s of SIGUSR1"
    fi
fi
t_destroy=$(now)
if xl destroy "$DOMID" > "$D/xl-destroy.log" 2>&1; then
    check xl_destroy true "destroyed domain $DOMID"
else
    check xl_destroy false "xl destroy failed: $(tail -2 "$D/xl-destroy.log" | tr '\n' '|')"
fi
if wait_domain_gone "$DOMID" 60; then
    check domain_gone true "gone $(since "$t_destroy")s after xl destroy"
else
    check domain_gone false "domain $DOMID still listed 60s after xl destroy: $(other_domains | tr '\n' ' ')"
fi
save_guest_logs
rec guest_loop_lines "$(grep -ac 'E2E-GUEST-MARK loop' "$GUEST_CONSOLE" || true)"
if have_daemon; then
    daemon_end_checks
    daemon_collect_stats
    daemon_log_excerpt
fi
leak_checks
finish
