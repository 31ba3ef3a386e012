#!/bin/bash
# xl-create: the HVM guest started only by `xl create`, the way a user would: the
# device_model_override and device_model_args lines come from
# xl-cfg-examples/hvm-vram-8g-auto.cfg (its spec shrunk to a 256 MiB memfd: dom0
# has no VRAM), the launcher (installed by `make install`) starts ioreq-lend while
# the domain is still paused and then becomes Debian's qemu-system-xen. Nothing in
# this script starts the daemon: it only watches what xl and the launcher did.
. /e2e/lib.sh
case_begin xl-create
VENDOR=0x5853 DEVICE=0x1e4d CLASS=0x058000 BAR_SIZE=$((256 << 20))
EXAMPLE=$E2E_EXAMPLES/hvm-vram-8g-auto.cfg
NAME=e2e-xl
# The launcher's lines go where xl sends the device model's stderr; the daemon's to
# the domain's own log next to it (ioreq-lend(8), FILES).
QLOG=/var/log/xen/qemu-dm-$NAME.log
DLOG=/var/log/xen/ioreq-lend-$NAME.log
DSTATS=$D/stats.json

require_daemon
[ -f "$EXAMPLE" ] || { check example_present false "$EXAMPLE missing (not injected by run.sh)"; finish; }
# The example's device-model lines, as written, with the spec's size and backing
# replaced and our stats/pidfile paths added.
dm_lines=$(sed -n '/^device_model_version/p; /^device_model_override/p; /^device_model_args/,/^\]/p' "$EXAMPLE" |
    sed -e 's/size=[0-9]*[KMGT]/size=256M/' -e 's/backing=[^,"]*/backing=memfd:256M/' \
        -e 's/window=[0-9]*[KMGT]/window=256M/' \
        -e "s|mode=auto|mode=auto,vendor=$VENDOR,device=$DEVICE,class=$CLASS,stats=$DSTATS,pidfile=$D/daemon.pid|")
printf '%s\n' "$dm_lines" > "$D/dm-lines.cfg"
override=$(sed -n 's/^device_model_override *= *"\(.*\)"/\1/p' "$D/dm-lines.cfg")
check example_lines "$( [ -n "$override" ] && grep -q -- '-ioreq-lend' "$D/dm-lines.cfg" && echo true || echo false)" \
    "override $override; $(grep -o '"bdf=[^"]*"' "$D/dm-lines.cfg")"
check launcher_installed "$( [ -x "$override" ] && echo true || echo false)" "$override"

hvm_cfg "$D/guest.cfg" $NAME 2 256 "--mode traffic --threads-bytes 2M --rep-bytes 256K --vcpus 2"
cat "$D/dm-lines.cfg" >> "$D/guest.cfg"

: > "$GUEST_CONSOLE"
console_follow
t0=$(now)
if xl create "$D/guest.cfg" > "$D/xl-create.log" 2>&1; then
    DOMID=$(xl domid $NAME 2>/dev/null)
    rec domid "${DOMID:-null}"
    check xl_create true "xl create returned after $(since "$t0")s: domain $DOMID running"
else
    check xl_create false "xl create failed: $(tail -3 "$D/xl-create.log" | tr '\n' '|') dm log: $(tail -3 "$QLOG" 2>/dev/null | tr '\n' '|') daemon log: $(tail -3 "$DLOG" 2>/dev/null | tr '\n' '|')"
    cp "$QLOG" "$D/qemu-dm.log" 2>/dev/null
    cp "$DLOG" "$D/daemon.log" 2>/dev/null
    cleanup_case; finish
fi
GUEST_T0=$(now)
progress "xl create: domain $DOMID running"
DPID_XL=$(cat "$D/daemon.pid" 2>/dev/null)
check launcher_started_daemon "$( [ -n "$DPID_XL" ] && kill -0 "$DPID_XL" 2>/dev/null && echo true || echo false)" \
    "pidfile $D/daemon.pid: ${DPID_XL:-none}; $(grep -m1 'ioreq-lend-qemu: ready' "$QLOG" 2>/dev/null)"
check launcher_execs_qemu "$(grep -q 'executing /usr/libexec/xen-qemu-system-i386' "$QLOG" 2>/dev/null && echo true || echo false)" \
    "$(grep -m1 'ioreq-lend-qemu: executing' "$QLOG" 2>/dev/null)"
check daemon_log_file "$(grep -q "ioreq-lend\[dom$DOMID [0-9a-f:.]*\]: info: serving domain" "$DLOG" 2>/dev/null && grep -q "logging to $DLOG" "$QLOG" 2>/dev/null && echo true || echo false)" \
    "$DLOG: $(grep -m1 'info: serving domain' "$DLOG" 2>/dev/null | cut -c1-160)"

if wait_console '^E2E-GUEST-BOOT' "${E2E_BOOT_TIMEOUT:-240}" "${E2E_BOOT_IDLE:-120}" >/dev/null; then
    rec boot_s "$(since "$GUEST_T0")"
    progress "guest booted in $(since "$GUEST_T0")s"
    if guest_result 300; then
        progress "guest: ok=$(g .ok) bar0=$(g .bar0) written=$(g .bytes_written) read=$(g .bytes_read) errors=$(g .integrity_errors)"
        guest_function_checks $VENDOR $DEVICE $CLASS $BAR_SIZE
        guest_traffic_checks
    fi
else
    check guest_booted false "no E2E-GUEST-BOOT; last console line: $(grep -a -v '^\s*$' "$GUEST_CONSOLE" | tail -1 | tr -d '\r' | cut -c1-120)"
fi
if wait_domain_gone $NAME 60; then
    check guest_powered_off true "domain $DOMID gone $(since "$GUEST_T0")s after xl create returned"
else
    check guest_powered_off false "domain $DOMID still there 60s after its result"
fi
save_guest_logs
detached_daemon_end "$DPID_XL"
cp "$QLOG" "$D/qemu-dm.log" 2>/dev/null
cp "$DLOG" "$D/daemon.log" 2>/dev/null
fallback_warning_check
daemon_counter_checks "$(( $(gnum .bytes_written) + $(gnum .bytes_read) ))"
daemon_log_excerpt
leak_checks
finish
