#!/bin/bash
# pvh-xl-create: the PVH guest started only by ioreq-lend-xl-create (installed where
# `make install` puts it), the way a user would: its xl config lists the spec under
# ioreq_lend = [...] as xl-cfg-examples/pvh-lend.cfg does, and its kernel's command line
# is Debian's default: libxl (upstream/xen patch 8, lib.sh's pvh_cfg) gives the guest a
# PCI root, which the launcher sees in libxl's PVH DSDT (no warning). The launcher runs xl create -p, starts the daemon (--domain-type pvh,
# --host-bridge, --bar-base above the guest's RAM: its own choices), waits for it, then
# xl unpause. Nothing in this script starts the daemon: Linux must find the function
# where the launcher's daemon placed it (4 GiB + 256 MiB), map resource0 and run the
# same traffic as hvm-basic.
. /e2e/lib.sh
case_begin pvh-xl-create
VENDOR=0x5853 DEVICE=0x1e4d CLASS=0x058000 BAR_SIZE=$((256 << 20)) BAR_BASE=0x110000000
NAME=e2e-pvh-xl
LAUNCHER=$E2E_LIBEXEC/ioreq-lend-xl-create
LLOG=$D/launcher.log
DLOG=/var/log/xen/ioreq-lend-$NAME.log
DSTATS=$D/stats.json

require_daemon
check launcher_installed "$( [ -x "$LAUNCHER" ] && echo true || echo false)" "$LAUNCHER"
E2E_GUEST_KARGS="${E2E_GUEST_KARGS-quiet}"
pvh_cfg "$D/guest.cfg" $NAME 2 256 "--mode traffic --threads-bytes 2M --rep-bytes 256K --vcpus 2" \
    "ioreq_lend = [ \"bdf=00:1f.0,size=256M,backing=memfd:256M,mode=auto,vendor=$VENDOR,device=$DEVICE,class=$CLASS,stats=$DSTATS,pidfile=$D/daemon.pid\" ]"

: > "$GUEST_CONSOLE"
console_follow
t0=$(now)
# The launcher's lines go to $LLOG; the detached daemon's to the domain's log, $DLOG.
if "$LAUNCHER" "$D/guest.cfg" > "$LLOG" 2>&1; then
    DOMID=$(xl domid $NAME 2>/dev/null)
    rec domid "${DOMID:-null}"
    check launcher_create true "ioreq-lend-xl-create returned after $(since "$t0")s: domain $DOMID running"
else
    check launcher_create false "ioreq-lend-xl-create failed: $(tail -3 "$LLOG" | tr '\n' '|') daemon log: $(tail -3 "$DLOG" 2>/dev/null | tr '\n' '|')"
    cleanup_case; finish
fi
GUEST_T0=$(now)
progress "ioreq-lend-xl-create: domain $DOMID running"
DPID_XL=$(cat "$D/daemon.pid" 2>/dev/null)
check launcher_started_daemon "$( [ -n "$DPID_XL" ] && kill -0 "$DPID_XL" 2>/dev/null && echo true || echo false)" \
    "pidfile $D/daemon.pid: ${DPID_XL:-none}; $(grep -m1 'ready domid' "$LLOG" 2>/dev/null)"
# The mode the daemon chose (auto): emulate on stock Xen, lend on a Xen with lending.
DMODE=$(sed -n 's/.*ready domid=.* mode=\([a-z]*\).*/\1/p' "$LLOG" | head -1)
rec_str daemon.mode "${DMODE:-unknown}"
# What the launcher told its daemon: the type, the host bridge, the BAR's place.
cmdline=$(tr '\0' ' ' < "/proc/${DPID_XL:-0}/cmdline" 2>/dev/null)
rec_str daemon.cmdline "$cmdline"
check launcher_pvh_options "$( [[ $cmdline == *"--domain-type pvh --host-bridge"* && $cmdline == *"--bar-base $BAR_BASE"* ]] && echo true || echo false)" \
    "$cmdline"
check no_pci_warning "$(grep -q 'warning' "$LLOG" && echo false || echo true)" \
    "$(grep -m1 warning "$LLOG" 2>/dev/null | cut -c1-200)"
check daemon_log_file "$(grep -q "ioreq-lend\[dom$DOMID [0-9a-f:.]*\]: info: serving domain" "$DLOG" 2>/dev/null && grep -q "logging to $DLOG" "$LLOG" && echo true || echo false)" \
    "$DLOG: $(grep -m1 'info: serving domain' "$DLOG" 2>/dev/null | cut -c1-160)"

if wait_console '^E2E-GUEST-BOOT' "${E2E_BOOT_TIMEOUT:-240}" "${E2E_BOOT_IDLE:-120}" >/dev/null; then
    rec boot_s "$(since "$GUEST_T0")"
    progress "guest booted in $(since "$GUEST_T0")s"
    if guest_result 300; then
        progress "guest: ok=$(g .ok) kernel_found=$(g .kernel_found) bar0=$(g .bar0) written=$(g .bytes_written) errors=$(g .integrity_errors)"
        rec linux_probe "$(g .kernel_found)"
        check linux_probe "$( [ "$(g .kernel_found)" = true ] && echo true || echo false)" \
            "Linux found $(g .bdf) $(g .vendor):$(g .device) class $(g .class) ($(g .pci_devices) PCI devices)"
        check guest_ok "$(g .ok)" "$(g .error)"
        if [ "$(g .kernel_found)" = true ]; then
            check linux_function "$( [ $(( $(g .vendor) )) -eq $((VENDOR)) ] && [ $(( $(g .device) )) -eq $((DEVICE)) ] &&
                [ $(( $(g .class) )) -eq $((CLASS)) ] && [ "$(g .bar0)" = $BAR_BASE ] &&
                [ "$(g .bar0_size)" = $BAR_SIZE ] && echo true || echo false)" \
                "sysfs: $(g .vendor):$(g .device) class $(g .class) BAR 0 $(g .bar0) size $(g .bar0_size)"
        fi
        [ -n "$(g .bytes_written)" ] && guest_traffic_checks
    fi
else
    check guest_booted false "no E2E-GUEST-BOOT; last console line: $(grep -a -v '^\s*$' "$GUEST_CONSOLE" | tail -1 | tr -d '\r' | cut -c1-120)"
fi
if wait_domain_gone $NAME 60; then
    check guest_powered_off true "domain $DOMID gone $(since "$GUEST_T0")s after the launcher returned"
else
    check guest_powered_off false "domain $DOMID still there 60s after its result"
fi
save_guest_logs
detached_daemon_end "$DPID_XL"
[ "$DMODE" = lend ] || fallback_warning_check
daemon_counter_checks "$(( $(gnum .bytes_written) + $(gnum .bytes_read) ))"
daemon_log_excerpt
leak_checks
finish
