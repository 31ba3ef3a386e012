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
# Linux 6.1 scans bus 0 only when ACPI does not route its PCI (pci_acpi_init fails), and
# libxl 4.17 gives every PVH guest ACPI tables, whatever acpi = says (README.md). So the
# guest's kernel gets pci=noacpi (E2E_PVH_KARGS; empty: Linux's default, which finds
# nothing) and xl acpi = E2E_PVH_ACPI if set (recorded: libxl 4.17 ignores it for PVH).
E2E_GUEST_KARGS="${E2E_GUEST_KARGS-quiet} ${E2E_PVH_KARGS-pci=noacpi}"
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
# What libxl made of the config: ACPI on or off for this PVH domain.
rec xl_acpi "$(xl list -l "$GUEST" 2>/dev/null | jq -c '.[0].config.b_info.acpi // "absent"')"
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
        elif ! jq -e '.dmesg_pci | any(test("Probing PCI hardware"))' "$D/guest.json" >/dev/null 2>&1; then
            why="$why conf1 works, but with ACPI routing PCI (pci_acpi_init succeeded) Linux never runs its legacy scan of bus 0, and libxl's PVH DSDT has no PCI root (the guest needs pci=noacpi, README.md)."
        fi
    fi
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
