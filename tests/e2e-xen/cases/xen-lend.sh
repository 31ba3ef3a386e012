#!/bin/bash
# xen-lend: the hypervisor half of the lending ABI (lend_abi_v2.h Part 1), driven
# from dom0 by /e2e/bin/lendtest (dom0/lendtest.c) with an HVM guest running
# /bin/lend-guest (guest/lend-guest.c). No ioreq-lend daemon: the privcmd module
# that lends for it (upstream/linux/) is not here yet, so lendtest issues the
# hypercalls itself through an unrestricted privcmd fd.
#
# On any hypervisor: the access-only range dm_op (type 3) and XENMEM_lend_unmap,
# tried on a paused guest. Stock Xen must refuse both (EINVAL, ENOSYS: what the
# daemon's --mode auto probe relies on) and the case ends there, with no boot.
# On the patched one (run.sh --xen lend) they must work, and then:
#  - before the guest runs: one batch of 512 lent pages, and the error cases
#    (EINVAL, EPERM for a gfn outside our ranges or a frame dom0 does not own,
#    EBUSY over guest RAM, all or nothing); 'q' counts 512 lent entries;
#  - the guest touches gfns of the access range with nothing mapped: ACCESS
#    requests arrive un-emulated (size 1, count 1, no data pointer); RETRY with
#    nothing changed faults again (a second ACCESS for the same address);
#    after lend_map the guest reads dom0's frame and writes into it directly;
#    FAIL and a write to a read-only lent page kill the guest process (SIGSEGV);
#    a store raises a "write" ACCESS, a load a "read" one;
#  - 'q' counts 514; foreign-mapping a lent gfn from dom0 fails (RAM works);
#    the guest grants dom0 a lent gfn and a RAM gfn: only the RAM one maps;
#    lend_unmap; 'q' counts 512 (lendtest holds the guest's next ACCESS meanwhile);
#    released, that ACCESS is answered with another frame, which the guest sees;
#  - the guest powers off: Xen relinquishes the 513 entries left ("0 left"),
#    lend_map on the dead domain fails with ESRCH, dom0 gives its 515 frames back
#    to Xen and Xen's free memory returns to where it was (a leaked page
#    reference would keep 2 MiB of them).
. /e2e/lib.sh
case_begin xen-lend
FLAVOUR=${E2E_XEN_FLAVOUR:-stock}
LT=$E2E/bin/lendtest
GPA=0x200000000     # 8 GiB: nothing there in a 256 MiB HVM guest
rec_str xen_flavour "$FLAVOUR"

# lent_entries DOMID: what Xen's 'q' debug key prints for the domain ("" if nothing).
lent_entries() {
    xl debug-keys q >/dev/null 2>&1
    xl dmesg 2>/dev/null | tr -d '\r' | awk -v d="$1" '
        /General information for domain/ { cur = ($NF + 0 == d) }
        cur && /lent entries:/ { n = $NF }
        END { print n }'
}
# lt EVENT [N]: the N-th (default first) "LT {...}" line of lendtest with that event, as JSON.
lt() {
    grep -a '^LT {' "$D/lendtest.log" | sed 's/^LT //' |
        jq -cs --arg e "$1" --argjson n "${2:-1}" '[.[] | select(.event == $e)] | .[$n - 1] // empty' 2>/dev/null
}
ltf() { lt "$1" "${3:-1}" | jq -r "$2 // empty"; }
# lt_wait EVENT TIMEOUT: wait for lendtest's line with that event.
lt_wait() { wait_file_line "$D/lendtest.log" "^LT \\{\"event\":\"($1|fatal)\"" "$2" >/dev/null; }

xv=$(xl info 2>/dev/null | awk '$1 == "xen_version" {print $3}')
rec_str xen_version "$xv"
if [ "$FLAVOUR" = lend ]; then
    check xen_is_patched "$([[ $xv == *-lend ]] && echo true || echo false)" "xl info: xen_version $xv"
else
    check xen_is_stock "$([[ $xv != *-lend ]] && echo true || echo false)" "xl info: xen_version $xv"
fi

# iomem=relaxed: lend-guest writes two entries of its own grant table through /dev/mem,
# in the Xen platform device's BAR, which Debian's kernel (IO_STRICT_DEVMEM) otherwise
# keeps from user space while its driver holds it.
E2E_GUEST_KARGS="quiet iomem=relaxed e2e.prog=lend-guest" hvm_cfg "$D/guest.cfg" e2e-xen-lend 2 256 "--gpa ${GPA#0x}"
guest_create "$D/guest.cfg" || { cleanup_case; finish; }

# ---- the probe, on any hypervisor
"$LT" probe "$DOMID" > "$D/probe.log" 2>&1
p=$(sed -n 's/^LT //p' "$D/probe.log" | head -1)
rec probe "${p:-null}"
pf() { printf '%s' "$p" | jq -r ".$1 // empty" 2>/dev/null; }
if [ "$FLAVOUR" = lend ]; then
    check access_range_aligned "$([ "$(pf map_aligned)" = OK ] && echo true || echo false)" \
        "type 3 dm_op, page-aligned range: $(pf map_aligned)"
    check access_range_unaligned "$([ "$(pf map_unaligned_start)" = EINVAL ] && [ "$(pf map_unaligned_end)" = EINVAL ] && echo true || echo false)" \
        "unaligned start: $(pf map_unaligned_start), unaligned end: $(pf map_unaligned_end)"
    check lend_unmap_known "$([ "$(pf lend_unmap)" = OK ] && echo true || echo false)" \
        "XENMEM_lend_unmap of an empty gfn: $(pf lend_unmap)"
else
    check stock_refuses_access_range "$([ "$(pf map_aligned)" = EINVAL ] && echo true || echo false)" \
        "type 3 dm_op on stock Xen: $(pf map_aligned) (the daemon's probe needs EINVAL)"
    check stock_lacks_lend_ops "$([ "$(pf lend_unmap)" = ENOSYS ] && echo true || echo false)" \
        "XENMEM_lend_unmap on stock Xen: $(pf lend_unmap)"
    xl destroy "$DOMID"
    leak_checks
    finish
fi

# ---- the ioreq server and the frames, before the guest runs
rm -f "$D/lt.fifo"; mkfifo "$D/lt.fifo"
"$LT" serve "$DOMID" "$GPA" < "$D/lt.fifo" > "$D/lendtest.log" 2>&1 &
LTPID=$!
exec {LTIN}>"$D/lt.fifo"
if ! lt_wait ready 60; then
    check lendtest_ready false "no ready line: $(tail -3 "$D/lendtest.log" | tr '\n' '|')"
    kill "$LTPID" 2>/dev/null; xl destroy "$DOMID"; leak_checks; finish
fi
check batch_of_512 "$([ "$(ltf batch .lend_map)" = OK ] && echo true || echo false)" \
    "lend_map of 512 frames in one call: $(ltf batch .lend_map)"
e=$(lt errors); rec errors "${e:-null}"
ef() { printf '%s' "$e" | jq -r ".$1 // empty"; }
check lend_map_einval "$([ "$(ef nr0)$(ef nr513)$(ef bad_flags)" = EINVALEINVALEINVAL ] && echo true || echo false)" \
    "nr 0: $(ef nr0), nr 513: $(ef nr513), unknown flag: $(ef bad_flags)"
check lend_map_eperm "$([ "$(ef outside_range)$(ef foreign_frame)$(ef partly_outside)" = EPERMEPERMEPERM ] && echo true || echo false)" \
    "gfn outside our ranges: $(ef outside_range), frame dom0 does not own: $(ef foreign_frame), batch partly outside: $(ef partly_outside)"
check lend_map_never_replaces_ram "$([ "$(ef over_ram)" = EBUSY ] && echo true || echo false)" \
    "guest RAM inside an access range: $(ef over_ram)"
n=$(lent_entries "$DOMID")
check q_counts_batch "$([ "$n" = 512 ] && echo true || echo false)" "'q' before the guest ran: lent entries: ${n:-none}"
# lt_age N: the N-th XENMEM_lend_age over the batch B (lend_abi.h revision 3), as JSON.
lt_age() {
    echo age >&"$LTIN"
    wait_file_line "$D/lendtest.log" "^LT \\{\"event\":\"(age\",\"n\":$1,|fatal)" 30 >/dev/null
    lt age "$1"
}
# Xen writes every entry accessed; the first aging clears them, and with the guest
# not yet running the second finds none.
age1=$(lt_age 1); age2=$(lt_age 2)
rec age_before_guest "[${age1:-null},${age2:-null}]"
check lend_age_written_young "$( [ "$(jq -r .young <<< "${age1:-{\}}")" = 512 ] &&
    [ "$(jq -r .young <<< "${age2:-{\}}")" = 0 ] && echo true || echo false)" \
    "XENMEM_lend_age over B before the guest ran: $(jq -r '.lend_age + " " + (.young|tostring)' <<< "${age1:-{\}}") young, then $(jq -r '.lend_age + " " + (.young|tostring)' <<< "${age2:-{\}}")"

# ---- the guest
guest_unpause
if wait_console '^E2E-LEND-MARK phase-a-done' 300 >/dev/null; then
    rec phase_a_s "$(since "$GUEST_T0")"
    n=$(lent_entries "$DOMID")
    check q_counts_mapped "$([ "$n" = 514 ] && echo true || echo false)" "'q' with P0 and P2 lent too: lent entries: ${n:-none}"
    # The guest read B0 and B511 (step 1) and nothing else of B: exactly those are
    # young; aged again at once, none is (no TLB flush needed for that).
    age3=$(lt_age 3); age4=$(lt_age 4)
    rec age_after_guest "[${age3:-null},${age4:-null}]"
    check lend_age_sees_guest_reads "$( [ "$(jq -c .pages <<< "${age3:-{\}}")" = '[0,511]' ] &&
        [ "$(jq -r .young <<< "${age4:-{\}}")" = 0 ] && echo true || echo false)" \
        "after the guest read B0 and B511: young pages $(jq -c .pages <<< "${age3:-{\}}"), then $(jq -r .young <<< "${age4:-{\}}") young"
    echo foreign >&"$LTIN"
    lt_wait foreign 30
    f=$(lt foreign); rec foreign "${f:-null}"
    ff() { printf '%s' "$f" | jq -r ".$1 // empty"; }
    check foreign_map_refused "$([ -n "$(ff lent_p0)" ] && [ "$(ff lent_p0)" != OK ] && [ -n "$(ff lent_b0)" ] && [ "$(ff lent_b0)" != OK ] && [ "$(ff ram)" = OK ] && echo true || echo false)" \
        "privcmd mmapbatch from dom0: lent P0 $(ff lent_p0), lent B0 $(ff lent_b0), guest RAM $(ff ram)"
    # The guest granted dom0 batch page 0 (lent) and a page of its RAM (step 6).
    gline=$(grep -a -m1 'E2E-LEND-MARK step 6: grants' "$GUEST_CONSOLE" | tr -d '\r')
    if [[ $gline == *"grants ok"* ]]; then
        echo "grant 500 501" >&"$LTIN"
        lt_wait grant 30
        gr=$(lt grant); rec grant "${gr:-null}"
        gf() { printf '%s' "$gr" | jq -r ".$1 // empty"; }
        check grant_refused "$([ -n "$(gf lent)" ] && [ "$(gf lent)" != OK ] && [ "$(gf ram)" = OK ] && echo true || echo false)" \
            "dom0 maps the guest's grants: of a lent gfn $(gf lent), of guest RAM $(gf ram)"
    else
        check grant_refused false "the guest could not write its grants: ${gline:-no step 6 line}"
    fi
    # lendtest holds the ACCESS the guest's next read of P0 raises until "release".
    echo unmap >&"$LTIN"
    lt_wait unmapped 30
    n=$(lent_entries "$DOMID")
    check lend_unmap "$([ "$(ltf unmapped .lend_unmap)" = OK ] && [ "$n" = 512 ] && echo true || echo false)" \
        "lend_unmap of P0..P2: $(ltf unmapped .lend_unmap); 'q' after: lent entries: ${n:-none}"
    echo release >&"$LTIN"
else
    check guest_phase_a false "no E2E-LEND-MARK phase-a-done: $(grep -a -v '^\s*$' "$GUEST_CONSOLE" | tail -3 | tr -d '\r' | tr '\n' '|' | cut -c1-300)"
fi

if guest_result 240; then
    check guest_ok "$(g .ok)" "guest: $(jq -c . "$D/guest.json" | cut -c1-400)"
    check guest_read_lent "$([ "$(g .p0)" = 0x4c454e4430000000 ] && [ "$(g .b0)" = 0x4c454e4442000000 ] && [ "$(g .b511)" = 0x4c454e44420001ff ] && echo true || echo false)" \
        "P0 $(g .p0), batch page 0 $(g .b0), page 511 $(g .b511)"
    check fail_is_sigsegv "$([ "$(g .p1_child_signal)" = 11 ] && echo true || echo false)" \
        "write to P1 answered FAIL: child ended by signal $(g .p1_child_signal)"
    check readonly_write_is_sigsegv "$([ "$(g .p2)" = 0x4c454e4432000000 ] && [ "$(g .p2_write_child_signal)" = 11 ] && [ "$(g .p2_after)" = 0x4c454e4432000000 ] && echo true || echo false)" \
        "P2 (read-only) reads $(g .p2); a write: signal $(g .p2_write_child_signal); still $(g .p2_after)"
    check refault_after_unmap "$([ "$(g .go)" = true ] && [ "$(g .p0_again)" = 0x4c454e4431000000 ] && echo true || echo false)" \
        "after lend_unmap the guest saw GO after $(g .spin_s)s and P0 = $(g .p0_again) (F1)"
fi

# ---- the requests, as lendtest saw them
grep -a '^LT {' "$D/lendtest.log" | sed 's/^LT //' | jq -cs '[.[] | select(.event == "access")]' > "$D/access.json" 2>/dev/null
rec accesses "$(cat "$D/access.json" 2>/dev/null || echo null)"
a() { jq -r ".[$1].$2 // empty" "$D/access.json" 2>/dev/null; }
na=$(jq length "$D/access.json" 2>/dev/null)
check access_count "$([ "${na:-0}" = 5 ] && echo true || echo false)" \
    "$na ACCESS requests (expected 5: P0 twice, P1, P2, P0 after unmap)"
check access_unemulated "$([ "$(jq '[.[] | select(.size != 1 or .count != 1 or .data_is_ptr != 0)] | length' "$D/access.json" 2>/dev/null)" = 0 ] && echo true || echo false)" \
    "every ACCESS: size 1, count 1, no data pointer (nothing decoded)"
check retry_refaults "$([ "$(a 0 page)$(a 1 page)" = 00 ] && [ "$(a 0 addr)" = "$(a 1 addr)" ] && [ "$(a 0 addr)" = "$GPA" ] && echo true || echo false)" \
    "ACCESS #1 $(a 0 addr) answered RETRY with nothing mapped, ACCESS #2 $(a 1 addr): the access faulted again"
check guest_wrote_lent_frame "$([ "$(a 2 f0_word1)" = 0x6775657374000001 ] && echo true || echo false)" \
    "dom0's frame F0 word 1 after the guest's store: $(a 2 f0_word1)"
check access_sequence "$([ "$(a 2 page)$(a 3 page)$(a 4 page)" = 120 ] && echo true || echo false)" \
    "pages of ACCESS #3..#5: $(a 2 page) $(a 3 page) $(a 4 page) (FAIL, read-only lend, after unmap)"
check access_direction "$([ "$(a 0 dir)$(a 2 dir)$(a 3 dir)" = readwriteread ] && echo true || echo false)" \
    "ACCESS #1 $(a 0 dir) (a load), #3 $(a 2 dir) (a store), #4 $(a 3 dir) (a load)"

# ---- teardown: the guest powers itself off
if wait_domain_gone "$GUEST" 60; then
    check guest_powered_off true "domain $DOMID gone $(since "$GUEST_T0")s after unpause"
else
    check guest_powered_off false "domain $DOMID still there 60s after its result"
    xl destroy "$DOMID" 2>/dev/null; wait_domain_gone "$DOMID" 30
fi
save_guest_logs
rel=$(xl dmesg 2>/dev/null | tr -d '\r' | grep -a "d$DOMID: relinquished")
rec_str relinquish "$rel"
removed=$(printf '%s\n' "$rel" | awk '{for (i = 1; i <= NF; i++) if ($i == "relinquished") s += $(i + 1)} END {print s + 0}')
left=$(printf '%s\n' "$rel" | awk '/left/ {l = $(NF - 1)} END {print l}')
check relinquished "$([ "$removed" = 513 ] && [ "$left" = 0 ] && echo true || echo false)" \
    "Xen removed $removed lent entries at the guest's death, ${left:-?} left: $(printf '%s' "$rel" | tail -1 | cut -c1-120)"
echo quit >&"$LTIN"
lt_wait done 60
exec {LTIN}>&-
wait "$LTPID"
check late_lend_esrch "$([ "$(ltf late_lend .lend_map)" = ESRCH ] && echo true || echo false)" \
    "lend_map for the dead domain: $(ltf late_lend .lend_map)"
check frames_returned "$([ "$(ltf frames_returned .decrease_reservation)" = OK ] && echo true || echo false)" \
    "dom0's 515 frames back to Xen: $(ltf frames_returned .decrease_reservation), dom0 max restored: $(ltf frames_returned .setmaxmem)"
rec lendtest "$(grep -a '^LT {' "$D/lendtest.log" | sed 's/^LT //' | jq -cs . 2>/dev/null || echo null)"
# Xen's free memory back: the guest's memory, and the 515 frames (2 MiB) whose lent
# references relinquish and lend_unmap had to drop before they could be freed.
leak_checks
finish
