#!/bin/bash
# lend-events: the lending module's notifier, fault protocol and event queue under
# real memory management in this PV dom0, without a lending Xen: run only with
# run.sh --privcmd fake (the module's test build, whose XENMEM_lend_* succeed without
# Xen and count the entries Xen would hold in /sys/module/xen_privcmd/parameters/
# fake_lent). lend-test events maps 4096 pages of a memfd, then: reclaim
# (MADV_PAGEOUT), soft offline (pages at new PFNs), a punched hole, mprotect and a
# hardware-poisoned page each give MIGRATED events for exactly the pages revoked; a
# page that was not mapped gives none; adjacent records merge; 2048 separate
# invalidations overflow the ring into one OVERFLOW record, all revoked; munmap gives
# UNMAPPED and a dead slot; delete, close and kill -9 revoke everything.
. /e2e/lib.sh
case_begin lend-events
T=$E2E/bin/lend-test
rec_str privcmd "$E2E_PRIVCMD"
if [ "$E2E_PRIVCMD" != fake ]; then
    skip "needs run.sh --privcmd fake (the module's test build)"
    finish
fi
KLOG0=$(dmesg | wc -l)
"$T" events > "$D/lend-test.out" 2>&1
rc=$?
while read -r st name detail; do
    case $st in
    ok) check "$name" true "$detail" ;;
    FAIL) check "$name" false "$detail" ;;
    skip) log "skip $name: $detail"; rec_str "skipped.$name" "$detail" ;;
    *) log "lend-test: $st $name $detail" ;;
    esac
done < "$D/lend-test.out"
check lend_test_exit "$([ $rc = 0 ] && echo true || echo false)" "lend-test events exited $rc"
dmesg | tail -n +$((KLOG0 + 1)) > "$D/kernel.log"
bad=$(grep -E 'WARNING:|BUG:|Oops|general protection|xen:xen_privcmd' "$D/kernel.log" | head -5)
check kernel_quiet "$([ -z "$bad" ] && echo true || echo false)" "${bad:-$(wc -l < "$D/kernel.log") new kernel lines, none bad}"
finish
