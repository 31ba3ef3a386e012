#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Model-check the lending protocol (tests/model/lend.pml) with spin.
#
#   tests/model/check.sh [-j JOBS] [-v] [-k] [NAME...]
#
# Each run below generates a verifier (spin -a), compiles it with gcc and
# searches the whole state space. A run passes when the result is the one
# expected: the correct model must satisfy every property, and every broken
# variant and every documented finding must be caught. One "ok"/"FAIL" line
# per run, then "N passed, N failed"; exit status 0 only if none failed.
#
#   -j JOBS  runs in parallel (default 2; each needs up to ~1 GiB)
#   -v       print the summary of each counterexample found (spin -t)
#   -k       keep the work directory (pan sources, trails, logs)
#   NAME     only the runs whose name contains NAME
#
# Needs spin (Debian: apt-get install spin) and gcc. README.md explains the
# model, the properties and the findings.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
model=$here/lend.pml

# name | expect | property | -D flags | detail
#   expect: holds (no counterexample), caught (one is found, depth-first)
#     or caught-bfs (breadth-first: the shortest counterexample)
#   property: safety (assertions, the invariant monitor, invalid end states)
#     or the name of an ltl formula of lend.pml (weak fairness)
#   detail, for holds: ';'-separated printf texts of lend.pml the search must
#     reach, the vacuity check (a property proven of a model that never races
#     says nothing); for caught: an extended regular expression the
#     counterexample's kind must match (a variant caught for the wrong
#     reason, say a deadlock, is not caught)
runs() {
    cat <<'EOF'
safety|holds|safety||raced an invalidation: EAGAIN;lost: ENODATA;daemon: evict;event OVERFLOW;believed mapped;EAGAIN %d times;lost neighbour;fault injected;access to page %d done
safety-2-invalidators|holds|safety|-DNINV=2 -DNOLOSE|widen the range;raced an invalidation: EAGAIN;daemon: evict
safety-2-vcpus|holds|safety|-DNVCPU=2 -DNACC=1 -DINV_BUDGET=1|raced an invalidation: EAGAIN;daemon: evict
safety-race-injector|holds|safety|-DINJECT|raced an invalidation: EAGAIN
safety-3-groups|holds|safety|-DNP=6 -DW=4 -DNOLOSE|raced an invalidation: EAGAIN;daemon: evict;event OVERFLOW
safety-event-after-zap|holds|safety|-DEVENT_AFTER_ZAP|event OVERFLOW;believed mapped;daemon: evict
window-strict|caught|safety|-DSTRICT_WINDOW|assertion violated .*installed
progress|holds|progress||
progress-2-vcpus|holds|progress|-DNVCPU=2 -DNACC=1 -DW=4 -DINV_BUDGET=1|
progress-3-groups|holds|progress|-DNP=6 -DW=4 -DNOLOSE -DINV_BUDGET=1|
responsive-storm|holds|responsive|-DSTORM -DNACC=1 -DNOLOSE|
inv-ends-storm|holds|inv_ends|-DSTORM -DNACC=1 -DNOLOSE|
bug-a-no-seq-check|caught-bfs|safety|-DBUG_NOCHECK -DNO_CHECK_WINDOW|assertion violated rfresh\[k\]
bug-b-zap-late|caught-bfs|safety|-DBUG_ZAP_LATE -DNO_CHECK_WINDOW|assertion violated \(nstale==0\)
bug-c-batch-lease|caught-bfs|safety|-DBUG_BATCH -DNO_CHECK_WINDOW|assertion violated rfresh\[k\]
bug-f-snapshot-late|caught-bfs|safety|-DBUG_SNAP_LATE -DNO_CHECK_WINDOW|assertion violated rfresh\[k\]
bug-g-seq-only|caught-bfs|safety|-DBUG_SEQ_ONLY -DNO_CHECK_WINDOW|assertion violated rfresh\[k\]
bug-h-in-progress-only|caught-bfs|safety|-DBUG_INPROG_ONLY -DNO_CHECK_WINDOW|assertion violated rfresh\[k\]
bug-i-event-after-end|caught|safety|-DBUG_EVENT_AFTER_END|assertion violated .*installed
bug-d-retry-forever-storm|caught|responsive|-DBUG_RETRY_FOREVER -DSTORM -DNACC=1 -DNOLOSE|acceptance cycle
bug-d-retry-forever-bounded|holds|progress|-DBUG_RETRY_FOREVER -DNOLOSE|
bug-e-retry-lost|caught|progress|-DBUG_RETRY_LOST|acceptance cycle
finding-1-window-stale-event|caught|safety|-DBUG_EVENT_ORDER|assertion violated .*installed
finding-1-window-overflow|caught|safety|-DBUG_OVERFLOW_FORGET|assertion violated .*installed
finding-2-thrash-2-vcpus|caught|progress|-DNVCPU=2 -DNACC=1 -DINV_BUDGET=0|acceptance cycle
finding-3-straddle-small-window|caught|progress|-DSTRADDLE -DNACC=1 -DINV_BUDGET=0|acceptance cycle
finding-3-straddle-2-groups|holds|progress|-DSTRADDLE -DNACC=1 -DW=4|
finding-3-movs-3-pages|holds|progress|-DTOUCH=3 -DNACC=1 -DW=4|
finding-4-storm-livelock|caught|progress|-DSTORM -DNACC=1 -DNOLOSE|acceptance cycle
safety-readahead|holds|safety|-DREADAHEAD -DNP=6 -DW=4 -DNOLOSE|readahead: groups;raced an invalidation: EAGAIN;daemon: evict
safety-readahead-no-room|holds|safety|-DREADAHEAD|readahead: groups;no room for the readahead;raced an invalidation: EAGAIN;event OVERFLOW
safety-readahead-2-vcpus|holds|safety|-DREADAHEAD -DNVCPU=2 -DNACC=1 -DINV_BUDGET=1 -DW=4|readahead: groups;raced an invalidation: EAGAIN
progress-readahead|holds|progress|-DREADAHEAD -DNP=6 -DW=4 -DNOLOSE -DINV_BUDGET=1|
bug-ra-no-room|caught|safety|-DREADAHEAD -DBUG_RA_NOROOM -DNP=6 -DW=4 -DNOLOSE|assertion violated .*installed
safety-sweep-bound|holds|safety|-DSWEEP_MAX=1 -DNP=6 -DW=4 -DNOLOSE -DNACC=3 -DINV_BUDGET=1|sweep bound reached;raced an invalidation: EAGAIN;daemon: evict
progress-sweep-bound|holds|progress|-DSWEEP_MAX=1 -DNP=6 -DW=4 -DNOLOSE -DNACC=3 -DINV_BUDGET=1|
safety-aging|holds|safety|-DAGING|age: page %d used;age: page %d not mapped;daemon: aged page %d: used;aged page %d used but gone;daemon: evict;raced an invalidation: EAGAIN
progress-aging|holds|progress|-DAGING -DNOLOSE -DINV_BUDGET=1|
bug-age-rmw|caught-bfs|safety|-DAGING -DBUG_AGE_RMW -DNO_CHECK_WINDOW|assertion violated \(nstale==0\)
bug-sweep-ignored|caught|safety|-DSWEEP_MAX=1 -DBUG_SWEEP_IGNORE -DNP=6 -DW=4 -DNOLOSE -DNACC=3 -DINV_BUDGET=1|assertion violated .*installed
EOF
}

# One run, in its own directory: writes $dir/result (one line) and $dir/log.
one() {
    n=$1
    line=$(runs | sed -n "${n}p")
    name=$(echo "$line" | cut -d'|' -f1)
    expect=$(echo "$line" | cut -d'|' -f2)
    prop=$(echo "$line" | cut -d'|' -f3)
    defs=$(echo "$line" | cut -d'|' -f4)
    detail=$(echo "$line" | cut -d'|' -f5)
    dir=$WORK/$n
    mkdir -p "$dir"
    cd "$dir"
    cp "$model" lend.pml
    start=$(date +%s.%N)
    # shellcheck disable=SC2086
    if ! spin -a $defs lend.pml >spin.log 2>&1; then
        echo "FAIL $name: spin -a failed: $(grep -i error spin.log | head -1)" >result
        return 0
    fi
    if [ "$prop" = safety ]; then
        # Assertions (install, read, invariant monitor) and invalid end states.
        cflags="-DSAFETY -DNOCLAIM -DCOLLAPSE"
        [ "$expect" = caught-bfs ] && cflags="$cflags -DBFS"
        pflags="-m2000000"
    else
        # An LTL property: acceptance cycles under weak fairness.
        cflags="-DCOLLAPSE -DNFAIR=3"
        pflags="-m2000000 -a -f -N $prop"
    fi
    # A counterexample comes quickly: no time spent optimising that verifier.
    opt=-O2
    [ "$expect" = holds ] || opt=-O0
    # shellcheck disable=SC2086
    if ! gcc $opt -w -DMEMLIM=4096 $cflags -o pan pan.c >gcc.log 2>&1; then
        echo "FAIL $name: gcc failed: $(head -1 gcc.log)" >result
        return 0
    fi
    # shellcheck disable=SC2086
    ./pan $pflags >log 2>&1 || true
    secs=$(echo "$start $(date +%s.%N)" | awk '{printf "%.1f", $2 - $1}')
    states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' log | head -1)
    errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' log | head -1)
    search=$(sed -n 's/^pan: elapsed time \([0-9.e+]*\) seconds.*/\1/p' log | head -1)
    what="$prop${defs:+ ($defs)}"
    if grep -q -e "max search depth too small" -e "out of memory" -e "MEMLIM" \
        -e "search not completed" log ||
        [ -z "$errors" ]; then
        echo "FAIL $name: $what: search incomplete (check.sh -k $name keeps its log)" >result
        return 0
    fi
    if [ "$errors" = 0 ]; then
        if [ "$expect" = holds ]; then
            missed=""
            oldifs=$IFS
            IFS=';'
            for marker in $detail; do
                grep -F -q "$marker" log && missed="$missed [$marker]"
            done
            IFS=$oldifs
            if [ -n "$missed" ]; then
                echo "FAIL $name: $what holds, but vacuously: never reached$missed" >result
            else
                echo "ok   $name: $what holds, $states states, ${secs}s (search ${search}s)" >result
            fi
        else
            echo "FAIL $name: $what: expected a counterexample, none found ($states states, ${secs}s)" >result
        fi
        return 0
    fi
    # A counterexample: what kind, and its summary for -v.
    kind=$(grep -m1 -o -e "assertion violated.*(at depth" -e "acceptance cycle" -e "invalid end state" log |
        sed 's/ (at depth//')
    depth=$(grep -m1 -o "at depth [0-9]*" log | sed 's/at depth //')
    # The counterexample's printf lines: at most the last 60 before a cycle
    # and the first 30 of it (a cycle repeats for ever).
    # shellcheck disable=SC2086
    spin -t -T $defs lend.pml 2>&1 | grep -e '@ ' -e 'START OF CYCLE' |
        sed -e 's/^ *//' -e 's/^@ //' |
        awk '/START OF CYCLE/ { cyc = 1 }
             !cyc { pre[n++] = $0; next }
             { if (++m <= 31) post[m] = $0 }
             END {
                 if (n > 60) print "... (" n - 60 " lines before)"
                 for (i = (n > 60 ? n - 60 : 0); i < n; i++) print pre[i]
                 for (i = 1; i <= m && i <= 31; i++) print post[i]
                 if (m > 31) print "... (the cycle goes on, " m - 31 " lines more, and repeats)"
             }' >trail.txt || true
    if [ "$expect" != holds ] && echo "$kind" | grep -E -q "$detail"; then
        echo "ok   $name: $what caught: $kind, trail of $depth steps, $states states, ${secs}s" >result
    elif [ "$expect" != holds ]; then
        echo "FAIL $name: $what: caught for another reason: $kind, not /$detail/ (check.sh -v $name)" >result
    else
        echo "FAIL $name: $what: $kind, trail of $depth steps (check.sh -v $name prints it)" >result
    fi
}

if [ "${1:-}" = --one ]; then
    one "$2"
    exit 0
fi

jobs=2
verbose=0
keep=0
while getopts j:vk opt; do
    case $opt in
    j) jobs=$OPTARG ;;
    v) verbose=1 ;;
    k) keep=1 ;;
    *) sed -n '4,20p' "$0" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))

for tool in spin gcc; do
    if ! command -v $tool >/dev/null 2>&1; then
        echo "FAIL $tool not found (Debian: apt-get install spin gcc)"
        echo "0 passed, 1 failed"
        exit 1
    fi
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/lend-model.XXXXXX")
export WORK
[ $keep = 1 ] || trap 'rm -rf "$WORK"' EXIT INT TERM

# The runs selected.
sel=""
i=0
for name in $(runs | cut -d'|' -f1); do
    i=$((i + 1))
    if [ $# -eq 0 ]; then
        sel="$sel $i"
    else
        for want in "$@"; do
            case $name in *"$want"*) sel="$sel $i"; break ;; esac
        done
    fi
done
if [ -z "$sel" ]; then
    echo "FAIL no run matches: $*"
    echo "0 passed, 1 failed"
    exit 1
fi

start=$(date +%s)
# shellcheck disable=SC2086
printf '%s\n' $sel | xargs -P "$jobs" -I{} sh "$0" --one {}
passed=0
failed=0
for n in $sel; do
    if [ -f "$WORK/$n/result" ]; then
        cat "$WORK/$n/result"
    else
        echo "FAIL $(runs | sed -n "${n}p" | cut -d'|' -f1): no result"
    fi
    if grep -q '^ok' "$WORK/$n/result" 2>/dev/null; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
    fi
    if [ $verbose = 1 ] && [ -s "$WORK/$n/trail.txt" ]; then
        sed 's/^/       | /' "$WORK/$n/trail.txt"
    fi
done
[ $keep = 1 ] && echo "work directory: $WORK"
echo "$passed passed, $failed failed ($(($(date +%s) - start))s)"
[ $failed = 0 ]
