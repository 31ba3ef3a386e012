#!/bin/bash
# libvirt: the guests driven by libvirt's libxl driver (Debian's libvirt 9.0), from the
# examples in xl-cfg-examples/libvirt/ as the package installs them (run.sh --deb).
#  - HVM: virsh define + virsh start of hvm-lend.xml (its disk and bridge dropped, our
#    kernel and initramfs, the spec shrunk to a 256 MiB memfd). libxl runs the
#    <emulator>, ioreq-lend-qemu, with the <xen:commandline> spec while the domain is
#    paused; the guest finds the function and streams through it from both vCPUs;
#    virsh destroy mid-traffic; the daemon notices and exits 0.
#  - PVH: libxl-hook installed as /etc/libvirt/hooks/libxl, pvh-lend-hook.cfg as the
#    domain's /etc/ioreq-lend/libvirt/NAME.cfg. A plain virsh start is refused by the
#    hook, and libvirt destroys that domain; virsh start --paused runs the hook's
#    ioreq-lend-xl-create --attach, which starts the daemon; virsh resume; stock Linux
#    finds the function (libvirtd loads the patched libxl: the PVH PCI root) and
#    streams; virsh destroy; the daemon exits 0.
. /e2e/lib.sh
case_begin libvirt
EX=$E2E_EXAMPLES/libvirt
VENDOR=0x5853 DEVICE=0x1e4d CLASS=0x058000
virsh() { command virsh -c xen:///system "$@"; }
# spec_for_test FILE: the example's spec shrunk to a 256 MiB memfd, with our IDs,
# stats file and pidfile (dom0 has no VRAM).
spec_for_test() {
    sed -i -e 's/size=[0-9]*[KMGT]/size=256M/' -e 's/backing=[^,"'"'"']*/backing=memfd:256M/' \
        -e 's/window=[0-9]*[KMGT]/window=256M/' \
        -e "s|mode=auto|mode=auto,vendor=$VENDOR,device=$DEVICE,class=$CLASS,stats=$D/$2.stats.json,pidfile=$D/$2.pid|" "$1"
}
# guest_os FILE ARGS CONSOLE: our kernel, initramfs and e2e-guest arguments instead of
# the example's boot, TCG's native TSC, no disk or network.
guest_os() {
    local boot="<kernel>$E2E/guest/vmlinuz</kernel><initrd>$E2E/guest/guest.cpio.gz</initrd><cmdline>console=$3 quiet nosoftlockup e2e.args=${2// /,}</cmdline>"
    sed -i -e "/<kernel>/d; /<initrd>/d; /<cmdline>/d" \
        -e "s|<boot dev='hd'/>|$boot|" \
        -e "s|<clock offset='utc'/>|<clock offset='utc'><timer name='tsc' mode='native'/></clock>|" \
        -e "/<disk /,/<\/disk>/d; /<interface /,/<\/interface>/d" "$1"
}

require_daemon
if [ ! -d "$EX" ]; then
    skip "needs the package's examples/libvirt (run.sh --deb)"
    finish
fi

# ---- libvirtd, by hand (no systemd in dom0), once xenstored runs. libxl runs inside
# it: the patched libxl (lib.sh's pvh_cfg) goes in with LD_LIBRARY_PATH, and on to the
# hooks, which libvirt hands LD_LIBRARY_PATH. Under TCG libvirt cannot name the
# emulated CPU and would not load its libxl driver: dom0/libvirt-physinfo-shim.c.
mkdir -p /etc/libvirt/hooks /etc/ioreq-lend/libvirt
# Only the libxl driver: the QEMU driver would probe every QEMU binary at start
# (minutes under TCG), and there is no network to manage.
rm -f /usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_{qemu,network,nwfilter}.so
install -m 0755 "$EX/libxl-hook" /etc/libvirt/hooks/libxl
LD_LIBRARY_PATH=/e2e/libxl LD_PRELOAD=$E2E/bin/libvirt-physinfo-shim.so LIBVIRT_LOG_OUTPUTS="3:stderr" libvirtd --pid-file /run/libvirtd.pid \
    > "$D/libvirtd.out" 2>&1 &
end=$((SECONDS + 60))
until virsh version > "$D/virsh-version" 2>&1 || [ $SECONDS -ge $end ]; do sleep 0.5; done
rec_str libvirt "$(awk '/libvirt/ {print; exit}' "$D/virsh-version")"
libvirtd_stop() {
    kill -TERM "$(cat /run/libvirtd.pid 2>/dev/null)" 2>/dev/null
    cp /var/log/libvirt/libxl/*.log "$D/" 2>/dev/null
}
# What libvirt and libxl said, when a step failed.
libvirt_why() {
    rec_str "$1" "virsh: $(tail -4 "$D/virsh.log" 2>/dev/null | tr '\n' '|') libxl: $(grep -a -i 'error\|fail' /var/log/libvirt/libxl/*.log 2>/dev/null | tail -6 | tr '\n' '|' | cut -c1-1500)"
}
up=$(virsh version >/dev/null 2>&1 && echo true || echo false)
rec_str libvirtd_log "$(grep -v 'DBus\|system bus' "$D/libvirtd.out" | tail -20)"
check libvirtd_up "$up" "$(tr '\n' ' ' < "$D/virsh-version" | cut -c1-200) libvirtd: $(grep -v 'DBus\|system bus' "$D/libvirtd.out" | tail -3 | tr '\n' ' ' | cut -c1-600)"
[ "$up" = true ] || { libvirtd_stop; cleanup_case; finish; }

# traffic_then_destroy KIND SINCE: the guest (NAME, DPID) streams through the BAR
# from both vCPUs, then virsh destroy mid-traffic; the daemon must exit 0.
traffic_then_destroy() {
    local line t_destroy
    if line=$(wait_console 'E2E-GUEST-MARK traffic-started|^E2E-GUEST \{' 300) && [[ $line == *traffic-started* ]]; then
        check "$1_traffic" true "$(since "$GUEST_T0")s after $2: $line"
    else
        check "$1_traffic" false "guest never started traffic: ${line:-(nothing)}"
    fi
    t_destroy=$(now)
    check "virsh_destroy_$1" "$(virsh destroy $NAME >> "$D/virsh.log" 2>&1 && echo true || echo false)" \
        "$(tail -1 "$D/virsh.log")"
    wait_domain_gone $NAME 60 || true
    detached_daemon_end "$DPID"
    rec "$1_destroy_to_exit_s" "$(since "$t_destroy")"
}

# ---- HVM: <emulator> and <xen:commandline>
NAME=e2e-lv-hvm
# The launcher's lines in QEMU's log, the daemon's in the domain's own (LOGS in ioreq-lend(8)).
GUEST=$NAME GUEST_CONSOLE=$D/hvm-console.log QLOG=/var/log/xen/qemu-dm-$NAME.log DLOG=/var/log/xen/ioreq-lend-$NAME.log
sed -e "s|<name>vram-guest</name>|<name>$NAME</name>|" -e "s|<memory unit='MiB'>4096</memory>|<memory unit='MiB'>256</memory>|" \
    -e "s|<vcpu>4</vcpu>|<vcpu>2</vcpu>|" -e "/<serial type='pty'>/,/<\/serial>/d" \
    -e "s|</devices>|<serial type='file'><source path='$GUEST_CONSOLE'/><target port='0'/></serial></devices>|" \
    "$EX/hvm-lend.xml" > "$D/hvm.xml"
guest_os "$D/hvm.xml" "--mode loop --threads-bytes 2M --vcpus 2" ttyS0
spec_for_test "$D/hvm.xml" hvm
emu=$(sed -n 's|.*<emulator>\(.*\)</emulator>.*|\1|p' "$D/hvm.xml")
check hvm_emulator_installed "$( [ -x "$emu" ] && echo true || echo false)" "<emulator>$emu</emulator>"
: > "$GUEST_CONSOLE"
console_follow
t0=$(now)
if virsh define "$D/hvm.xml" > "$D/virsh.log" 2>&1 && virsh start $NAME >> "$D/virsh.log" 2>&1; then
    DOMID=$(virsh domid $NAME 2>/dev/null)
    check virsh_start_hvm true "virsh start returned after $(since "$t0")s: domain ${DOMID:-?} running"
    GUEST_T0=$(now)
    DPID=$(cat "$D/hvm.pid" 2>/dev/null)
    check hvm_daemon_started "$( [ -n "$DPID" ] && kill -0 "$DPID" 2>/dev/null && echo true || echo false)" \
        "pidfile: ${DPID:-none}; $(grep -m1 'ioreq-lend-qemu: ready' "$QLOG" 2>/dev/null)"
    traffic_then_destroy hvm "virsh start"
    cp "$QLOG" "$D/hvm-qemu-dm.log" 2>/dev/null
    cp "$DLOG" "$D/hvm-daemon.log" 2>/dev/null
else
    check virsh_start_hvm false "$(tail -3 "$D/virsh.log" | tr '\n' '|') dm log: $(tail -3 "$QLOG" 2>/dev/null | tr '\n' '|')"
    libvirt_why hvm_why
    virsh destroy $NAME > /dev/null 2>&1
fi
virsh undefine $NAME >> "$D/virsh.log" 2>&1
pkill -P "$CONSOLE_TAIL" tail 2>/dev/null; CONSOLE_TAIL=""
DPID=""

# ---- PVH: the started hook, a paused start, resume
NAME=e2e-lv-pvh
# The hook's (the launcher's) lines, and the daemon's in the domain's own log.
GUEST=$NAME GUEST_CONSOLE=/var/log/xen/console/guest-$NAME.log HLOG=/var/log/xen/ioreq-lend-libvirt-$NAME.log
DLOG=/var/log/xen/ioreq-lend-$NAME.log
sed -e "s|<name>pvh-guest</name>|<name>$NAME</name>|" -e "s|<memory unit='MiB'>2048</memory>|<memory unit='MiB'>256</memory>|" \
    -e "s|<type arch='x86_64' machine='xenpvh'>xenpvh</type>|&<boot dev='hd'/>|" "$EX/pvh-lend.xml" > "$D/pvh.xml"
guest_os "$D/pvh.xml" "--mode loop --threads-bytes 2M --vcpus 2" hvc0
sed -e "s|\"pvh-guest\"|\"$NAME\"|" -e 's/^memory *= *[0-9]*/memory = 256/' "$EX/pvh-lend-hook.cfg" \
    > /etc/ioreq-lend/libvirt/$NAME.cfg
spec_for_test /etc/ioreq-lend/libvirt/$NAME.cfg pvh
cp /etc/ioreq-lend/libvirt/$NAME.cfg "$D/pvh-hook.cfg"
virsh define "$D/pvh.xml" >> "$D/virsh.log" 2>&1 || libvirt_why pvh_define_why
# Not paused: the hook refuses, libvirt destroys the domain, nothing is left running.
if virsh start $NAME > "$D/virsh-unpaused.log" 2>&1; then
    check hook_refuses_unpaused_start false "virsh start (not paused) succeeded: $(virsh domstate $NAME 2>&1)"
    virsh destroy $NAME > /dev/null 2>&1
else
    wait_domain_gone $NAME 30 || true
    check hook_refuses_unpaused_start "$(grep -q 'is not paused' "$D/virsh-unpaused.log" &&
        [ "$(virsh domstate $NAME 2>/dev/null | head -1)" = "shut off" ] && [ ! -e "$D/pvh.pid" ] &&
        echo true || echo false)" \
        "$(tr '\n' ' ' < "$D/virsh-unpaused.log" | cut -c1-300); state: $(virsh domstate $NAME 2>&1 | head -1)"
fi
: > "$GUEST_CONSOLE"
console_follow
t0=$(now)
if virsh start --paused $NAME >> "$D/virsh.log" 2>&1; then
    DOMID=$(virsh domid $NAME 2>/dev/null)
    DPID=$(cat "$D/pvh.pid" 2>/dev/null)
    check virsh_start_paused_pvh "$( [ "$(virsh domstate $NAME 2>/dev/null | head -1)" = paused ] &&
        [ -n "$DPID" ] && kill -0 "$DPID" 2>/dev/null && echo true || echo false)" \
        "after $(since "$t0")s: domain ${DOMID:-?} $(virsh domstate $NAME 2>/dev/null | head -1), daemon ${DPID:-none}: $(grep -m1 'is paused with its devices' "$HLOG" 2>/dev/null)"
    check virsh_resume_pvh "$(virsh resume $NAME >> "$D/virsh.log" 2>&1 && echo true || echo false)" "$(tail -1 "$D/virsh.log")"
    GUEST_T0=$(now)
    traffic_then_destroy pvh "virsh resume"
    cp "$HLOG" "$D/pvh-hook.log" 2>/dev/null
    cp "$DLOG" "$D/pvh-daemon.log" 2>/dev/null
else
    check virsh_start_paused_pvh false "$(tail -3 "$D/virsh.log" | tr '\n' '|') hook log: $(tail -3 "$HLOG" 2>/dev/null | tr '\n' '|')"
    libvirt_why pvh_why
    virsh destroy $NAME > /dev/null 2>&1
fi
virsh undefine $NAME >> "$D/virsh.log" 2>&1
pkill -P "$CONSOLE_TAIL" tail 2>/dev/null; CONSOLE_TAIL=""
DPID=""
save_guest_logs
libvirtd_stop
leak_checks
finish
