#!/bin/bash
# pvh: a PVH guest has no QEMU and no hvmloader. The daemon (--domain-type pvh
# --host-bridge) places BAR 0 above the guest's RAM and answers port 0xCF8 and a host
# bridge at 00:00.0; stock Debian Linux must then find the function itself (its PCI log
# lines, sysfs: IDs, class, BAR 0 where the daemon put it), map resource0 and run the
# same traffic as hvm-basic. The guest program also repeats Linux's conf1 check (write
# 0x80000000 to 0xCF8, read it back) and reads config space through CF8/CFC itself.
. /e2e/lib.sh
case_begin pvh
VENDOR=0x5853 DEVICE=0x1e4d CLASS=0x058000
# With ACPI, Linux 6.1 scans bus 0 only if the DSDT has a PCI root, and libxl 4.17's PVH
# DSDT has none (README.md): xl runs here with upstream/xen's patched libxenlight, whose
# DSDT has one (lib.sh's pvh_cfg). The guest's command line is Debian's default.
# E2E_PVH_LIBXL=debian keeps Debian's libxl (Linux then finds nothing unless
# E2E_PVH_KARGS=pci=noacpi); E2E_PVH_ACPI sets xl's acpi = (recorded: libxl 4.17
# ignores it for PVH).
E2E_GUEST_KARGS="${E2E_GUEST_KARGS-quiet} ${E2E_PVH_KARGS-}"
pvh_cfg "$D/guest.cfg" e2e-pvh 2 256 "--mode raw --threads-bytes 2M --rep-bytes 256K" \
    ${E2E_PVH_ACPI:+"acpi = $E2E_PVH_ACPI"}
# Above the guest's RAM, as ioreq-lend-xl-create places it: 4 GiB + 256 MiB.
BAR_BASE=0x110000000

require_daemon
start_guest "$D/guest.cfg" --mode auto --vendor $VENDOR --device $DEVICE --class $CLASS \
        --domain-type pvh --host-bridge --bar-base $BAR_BASE \
        --log-level "${E2E_LOG_LEVEL:-info}" || { cleanup_case; finish; }
# The mode the daemon chose (auto): emulate on stock Xen, lend on a Xen with lending.
DMODE=$(grep -o 'ready_line":"[^"]*' "$D/fields.jsonl" | sed -n 's/.* mode=\([a-z]*\).*/\1/p' | tail -1)
rec_str daemon.mode "${DMODE:-unknown}"
# On a Xen with lending and the lending privcmd, auto must lend: the PVH lending case.
XEN_LENDS=$("$E2E/bin/lend-test" probe 2>/dev/null)
if [ "$E2E_PRIVCMD" = lend ] && [ "$XEN_LENDS" = lending ]; then
    check daemon_lends "$( [ "$DMODE" = lend ] && echo true || echo false)" \
        "mode=${DMODE:-unknown} on a Xen that lends ($XEN_LENDS) with the lending privcmd"
fi
# What libxl made of the config: ACPI on or off for this PVH domain.
rec xl_acpi "$(xl list -l "$GUEST" 2>/dev/null | jq -c '.[0].config.b_info.acpi // "absent"')"
rec_str libxl "${E2E_PVH_LIBXL:-patched}"
rec_str xl_cfg "$(cat "$D/guest.cfg")"
if guest_result 240; then
    kf=$(g .kernel_found); rb=$(g .raw.cf8_readback)
    rec linux_probe "${kf:-false}"
    rec vcpus_online "$(g .vcpus)"
    rec dmesg_pci "$(jq -c '.dmesg_pci // []' "$D/guest.json")"
    rec dmesg_boot "$(jq -c '.dmesg_boot // []' "$D/guest.json")"
    progress "guest: linux_probe=${kf:-false} cf8_readback=${rb:-?} conf1_id=$(g .raw.conf1_id) bar0=$(g .bar0) vcpus=$(g .vcpus) errors=$(g .integrity_errors)"
    if [ "$kf" = true ]; then
        why="Linux enumerated $(g .bdf) itself: $(g .vendor):$(g .device) class $(g .class), BAR 0 $(g .bar0) size $(g .bar0_size)"
    else
        why="Linux did not enumerate the function ($(g .pci_devices) PCI devices in sysfs)."
        if [ "$(g .raw.linux_type1_check_passes)" != true ]; then
            why="$why Its conf1 check (pci_check_type1: outl 0x80000000 to 0xCF8, inl 0xCF8) reads back ${rb:-?}, not 0x80000000: no ioreq server answers port 0xCF8 (the daemon needs --host-bridge)."
        elif ! jq -e '.dmesg_pci | any(test("Probing PCI hardware|PCI Root Bridge"))' "$D/guest.json" >/dev/null 2>&1; then
            why="$why conf1 works, but with ACPI routing PCI (pci_acpi_init succeeded) Linux never runs its legacy scan of bus 0, and this libxl's PVH DSDT has no PCI root (upstream/xen patch 8, or pci=noacpi: README.md)."
        fi
    fi
    # The route taken: the DSDT's PCI root with ACPI kept (SMP too), or the legacy scan.
    root=$(jq -e '.dmesg_pci | any(test("PCI Root Bridge \\[PCI0\\]"))' "$D/guest.json" >/dev/null 2>&1 &&
        echo true || echo false)
    rec acpi_pci_root "$root"
    if have_daemon; then
        check linux_probe "${kf:-false}" "$why"
        if [ "$kf" = true ]; then
            # What lspci would show, from sysfs: the IDs, the class, BAR 0 where the daemon put it.
            check linux_function "$( [ "$(g .vendor)" = $VENDOR ] && [ "$(g .device)" = $DEVICE ] &&
                [ "$(g .class)" = 0x58000 ] && [ "$(g .bar0)" = $BAR_BASE ] &&
                [ "$(g .bar0_size)" = 268435456 ] && echo true || echo false)" \
                "sysfs: $(g .bdf) $(g .vendor):$(g .device) class $(g .class) BAR 0 $(g .bar0) size $(g .bar0_size), want $VENDOR:$DEVICE class $CLASS BAR 0 $BAR_BASE"
            check linux_host_bridge "$(jq -e '.dmesg_pci | any(test("00:00.0: \\[8086:1237\\] type 00 class 0x060000"))' \
                "$D/guest.json" >/dev/null 2>&1 && echo true || echo false)" \
                "the kernel's scan found 00:00.0 [8086:1237] class 0x060000"
        fi
        if [ "${E2E_PVH_LIBXL:-patched}" = patched ] && [ -z "${E2E_PVH_KARGS-}" ]; then
            check acpi_pci_root "$root" "the guest's ACPI found libxl's PCI root: $(jq -r \
                '[.dmesg_pci[] | select(test("PCI Root Bridge|root bus resource"))] | join(" | ")' \
                "$D/guest.json" 2>/dev/null | cut -c1-400)"
            check smp_kept "$( [ "$(g .vcpus)" = 2 ] && echo true || echo false)" \
                "$(g .vcpus) of 2 vCPUs online with ACPI kept"
        fi
        check conf1_config_cycles "$( [ "$(g .raw.conf1_match)" = true ] &&
            [ "$(g .raw.linux_type1_check_passes)" = true ] && echo true || echo false)" \
            "CF8 read back $(g .raw.cf8_readback); CF8/CFC read of 00:1f.0 gave $(g .raw.conf1_id)"
        check guest_ok "$(g .ok)" "$(g .error)"
        [ -n "$(g .bytes_written)" ] && guest_traffic_checks
    else
        check guest_ok "$(g .ok)" "$(g .error)"
    fi
fi
poweroff_checks
leak_checks
finish
