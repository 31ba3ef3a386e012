#!/bin/bash
# pvh: a PVH guest has no QEMU and no hvmloader. Can its Linux probe our function
# through conf1 (CF8/CFC)? The guest program reports what Linux did (its PCI log lines,
# whether sysfs lists the function), repeats Linux's conf1 sanity check (write
# 0x80000000 to 0xCF8, read it back), then reads the function's config space through
# CF8/CFC itself, programs BAR 0, maps it through /dev/mem and runs the traffic phases.
# Linux's own probe is recorded, not required (see README.md); everything the daemon
# is responsible for (config cycles, BAR traffic, exit on domain death) is checked.
. /e2e/lib.sh
case_begin pvh
VENDOR=0x5853 DEVICE=0x1e4d CLASS=0x058000
pvh_cfg "$D/guest.cfg" e2e-pvh 2 256 "--mode raw --threads-bytes 2M --rep-bytes 256K --vcpus 2"

require_daemon
start_guest "$D/guest.cfg" --mode auto --vendor $VENDOR --device $DEVICE --class $CLASS \
        --log-level "${E2E_LOG_LEVEL:-info}" || { cleanup_case; finish; }
if guest_result 240; then
    kf=$(g .kernel_found); rb=$(g .raw.cf8_readback)
    rec linux_probe "${kf:-false}"
    if [ "$kf" = true ]; then
        rec_str linux_probe_reason "Linux enumerated $(g .bdf) itself"
    else
        why="Linux did not enumerate the function ($(g .pci_devices) PCI devices in sysfs)."
        if [ "$(g .raw.linux_type1_check_passes)" != true ]; then
            why="$why Its conf1 check (pci_check_type1: outl 0x80000000 to 0xCF8, inl 0xCF8) reads back ${rb:-?}, not 0x80000000: on a PVH domain no ioreq server claims port 0xCF8 (Xen only latches CF8 to route CFC accesses), so the read returns all ones and Linux never uses conf1."
        fi
        rec_str linux_probe_reason "$why"
    fi
    rec dmesg_pci "$(jq -c '.dmesg_pci // []' "$D/guest.json")"
    progress "guest: linux_probe=${kf:-false} cf8_readback=${rb:-?} conf1_id=$(g .raw.conf1_id) bar0=$(g .bar0) errors=$(g .integrity_errors)"
    if have_daemon; then
        check conf1_config_cycles "$( [ "$(g .raw.conf1_match)" = true ] && echo true || echo false)" \
            "CF8/CFC read of 00:1f.0 gave $(g .raw.conf1_id)"
        check guest_ok "$(g .ok)" "$(g .error)"
        [ -n "$(g .bytes_written)" ] && guest_traffic_checks
    else
        check guest_ok "$(g .ok)" "$(g .error)"
    fi
fi
poweroff_checks
leak_checks
finish
