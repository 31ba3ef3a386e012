#!/bin/bash
# lend-ioctl: dom0's privcmd lending ioctls without a guest (dom0/lend-test.c). With
# the lending module (run.sh --privcmd lend): LEND_VERSION agrees with a direct
# XENMEM_lend_unmap probe (EOPNOTSUPP on stock Xen), an unrestricted fd gets EPERM, a
# restricted fd cannot issue memory_op, SET_SLOT/MAP/UNMAP refuse bad arguments
# (EINVAL, EEXIST, EFAULT, EIO from another mm), pages that cannot be faulted in give
# ENODATA (beyond EOF, hardware-poisoned) or EFAULT (no mapping, read-only mapping for
# a writable slot, VM_PFNMAP), a dead slot can be set again, the empty event queue
# reads EAGAIN / blocks until a signal / polls empty, and closing an fd with slots
# set is clean. With Debian's module: every lend ioctl is ENOTTY. Either way the
# kernel log gets no warning, oops or privcmd error.
. /e2e/lib.sh
case_begin lend-ioctl
T=$E2E/bin/lend-test
rec_str privcmd "$E2E_PRIVCMD"
if [ "$E2E_PRIVCMD" = fake ]; then
    skip "the fake-xen privcmd answers for Xen: this case checks the real one (lend-events is for fake)"
    finish
fi
if [ ! -x "$T" ]; then
    check lend_test_present false "$T missing from the image"
    finish
fi
KLOG0=$(dmesg | wc -l)
"$T" ioctl "$E2E_PRIVCMD" > "$D/lend-test.out" 2>&1
rc=$?
while read -r st name detail; do
    case $st in
    ok) check "$name" true "$detail" ;;
    FAIL) check "$name" false "$detail" ;;
    skip) log "skip $name: $detail"; rec_str "skipped.$name" "$detail" ;;
    info) log "$name $detail"; rec_str "info.$name" "$detail" ;;
    *) log "lend-test: $st $name $detail" ;;
    esac
done < "$D/lend-test.out"
check lend_test_exit "$([ $rc = 0 ] && echo true || echo false)" "lend-test ioctl $E2E_PRIVCMD exited $rc"
dmesg | tail -n +$((KLOG0 + 1)) > "$D/kernel.log"
bad=$(grep -E 'WARNING:|BUG:|Oops|general protection|xen:xen_privcmd' "$D/kernel.log" | head -5)
check kernel_quiet "$([ -z "$bad" ] && echo true || echo false)" "${bad:-$(wc -l < "$D/kernel.log") new kernel lines, none bad}"
finish
