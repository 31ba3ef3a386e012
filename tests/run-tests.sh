#!/bin/bash
# Everything `make check` runs: unit tests, the simulator's own tests and the
# scenarios, then the same under ASan+UBSan, the daemon under valgrind for one
# scenario, and a clang build. Ends with one "N passed, N failed" line.
#
#   tests/run-tests.sh [--quick]     --quick: the default build only
set -u
cd "$(dirname "$0")/.."

QUICK=0
[ "${1:-}" = "--quick" ] && QUICK=1
JOBS=$(nproc 2>/dev/null || echo 2)
pass=0
fail=0
failed_names=()
LOG=$(mktemp -d /tmp/ioreq-lend-check-XXXXXX)
trap 'rm -rf "$LOG"' EXIT

note_result() { # name status
    if [ "$2" -eq 0 ]; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        failed_names+=("$1")
    fi
}

# cmocka prints "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s)"; count cases.
run_unit() { # build-dir label
    local dir=$1 label=$2 t out p f
    for t in "$dir"/tests/test_*; do
        [ -x "$t" ] || continue
        out="$LOG/$(basename "$t").$label.out"
        timeout 300 "$t" >"$out" 2>&1
        local rc=$?
        p=$(sed -n 's/.*\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -1)
        f=$(sed -n 's/.*\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -1)
        pass=$((pass + ${p:-0}))
        fail=$((fail + ${f:-0}))
        if [ "$rc" -ne 0 ]; then
            [ -z "$f" ] && fail=$((fail + 1))
            failed_names+=("$label $(basename "$t")")
            echo "FAIL  $label $(basename "$t")"
            sed 's/^/      /' "$out" | grep -E 'FAIL|ERROR|error|Assert|Sanitizer|runtime error' | head -20
        else
            echo "ok    $label $(basename "$t") (${p:-0} cases)"
        fi
    done
}

run_scenarios() { # build-dir label [wrapper]
    local dir=$1 label=$2 wrapper=${3:-} s out rc
    for s in tests/scenarios/*.scn; do
        out="$LOG/$(basename "$s").$label.out"
        if [ -n "$wrapper" ]; then
            timeout 600 "$dir/xensim" --json --dm-wrapper "$wrapper" "$s" >"$out" 2>&1
        else
            timeout 600 "$dir/xensim" --json "$s" >"$out" 2>&1
        fi
        rc=$?
        note_result "$label $(basename "$s")" $rc
        if [ $rc -eq 0 ]; then
            echo "ok    $label $(basename "$s")"
        else
            echo "FAIL  $label $(basename "$s") (exit $rc)"
            grep -o '"failures":\[[^]]*\]' "$out" | head -c 2000 | sed 's/^/      /'
            echo
            grep -E 'dm\|' "$out" | tail -20 | sed 's/^/      /'
        fi
    done
}

echo "== build (gcc) =="
make -s -j"$JOBS" check-build >"$LOG/build.out" 2>&1 || { cat "$LOG/build.out"; echo "0 passed, 1 failed"; exit 1; }
echo "== unit tests =="
run_unit build gcc
echo "== scenarios =="
run_scenarios build gcc

# The simulator against a recorded real-Xen run (tests/e2e-xen/recorded/): the
# same guest workload must give the same requests and data. A copy with one
# counter changed must fail, or the comparison proves nothing.
fidelity_check() { # name want-status [perl edit of the recorded JSON]
    local dir; dir=$(mktemp -d "$LOG/fidelity-XXXXXX")
    mkdir -p "$dir/results"
    perl -MJSON::PP -e 'local $/; my $j = decode_json(<STDIN>); '"${3:-}"'; print encode_json($j)' \
        < tests/e2e-xen/recorded/hvm-basic.json > "$dir/results/hvm-basic.json"
    perl tests/e2e-xen/fidelity.pl "$dir" hvm-basic build/xensim > "$dir/table.txt" 2>&1
    local got; got=$(perl -MJSON::PP -e 'local $/; print decode_json(<STDIN>)->{status}' \
        < "$dir/results/fidelity.json" 2>/dev/null)
    if [ "$got" = "$2" ]; then
        note_result "fidelity $1" 0
        echo "ok    fidelity $1"
    else
        note_result "fidelity $1" 1
        echo "FAIL  fidelity $1: status '${got:-none}', wanted $2"
        grep -E 'DIFFERENT|fail' "$dir/table.txt" "$dir/results/fidelity.json" | head -10 | sed 's/^/      /'
    fi
}
echo "== fidelity: the simulator vs a recorded real-Xen 4.17 run =="
fidelity_check recorded-run pass
fidelity_check one-request-changed-kind fail '$j->{stats_raw}{ioreqs}{copy_ptr}++'

# The real-Xen build on a machine without Xen: help, version, one clear line.
cli_check() { # name expected-status stdout-or-stderr-pattern args...
    local name=$1 want=$2 pattern=$3 out lines rc
    shift 3
    out=$(build/ioreq-lend "$@" 2>&1)
    rc=$?
    lines=$(printf '%s\n' "$out" | wc -l)
    if [ "$rc" -eq "$want" ] && printf '%s' "$out" | grep -q -- "$pattern" &&
        { [ "$want" -eq 0 ] || [ "$lines" -eq 1 ]; }; then
        note_result "cli $name" 0
        echo "ok    cli $name"
    else
        note_result "cli $name" 1
        echo "FAIL  cli $name (exit $rc, $lines lines): $out"
    fi
}
echo "== the real-Xen build's command line =="
state=$(mktemp -d /tmp/ioreq-lend-state-XXXXXX)
cli_check help 0 "Usage: ioreq-lend --domid N" --help
cli_check version 0 "^ioreq-lend [0-9]" --version
cli_check no-xen 2 "no Xen here" --domid 1 --state-dir "$state"
cli_check unknown-option 2 "unknown option '--nope'" --domid 1 --nope
cli_check missing-domid 2 "domid" --bar-size 1M
cli_check bad-bar-size 2 "not a power of two" --domid 1 --bar-size 12K
cli_check backing-none-lend 2 "emulation only for now" --domid 1 --backing none --mode lend
# ioreq-lend-ctl without a daemon: help, and one line with exit 2 for everything else.
ctl_check() { # name expected-status pattern args...
    local name=$1 want=$2 pattern=$3 out lines rc
    shift 3
    out=$(build/ioreq-lend-ctl "$@" 2>&1)
    rc=$?
    lines=$(printf '%s\n' "$out" | wc -l)
    if [ "$rc" -eq "$want" ] && printf '%s' "$out" | grep -q -- "$pattern" &&
        { [ "$want" -eq 0 ] || [ "$lines" -eq 1 ]; }; then
        note_result "ctl $name" 0
        echo "ok    ctl $name"
    else
        note_result "ctl $name" 1
        echo "FAIL  ctl $name (exit $rc, $lines lines): $out"
    fi
}
ctl_check help 0 "Usage: ioreq-lend-ctl" --help
ctl_check no-command 2 "no command" --domid 1
ctl_check no-socket 2 "give --socket PATH, or --domid N" list
ctl_check bad-domid 2 "--domid: 'x'" --domid x list
ctl_check no-daemon 2 "cannot connect to $state/dom1-0000:00:1f.0.ctl" --domid 1 --state-dir "$state" list
ctl_check unknown-option 2 "unknown option '--nope'" --nope list
rm -rf "$state"

# ---- ioreq-lend-top: broken stats files, a running simulated daemon ----
echo "== ioreq-lend-top (the live view) =="
out="$LOG/top.out"
tests/top/check.sh build >"$out" 2>&1
rc=$?
cat "$out"
tp=$(grep -c '^ok    ' "$out")
tf=$(grep -c '^FAIL  ' "$out")
pass=$((pass + tp))
fail=$((fail + tf))
while read -r line; do failed_names+=("${line#FAIL  }"); done < <(grep '^FAIL  ' "$out")
if [ $rc -ne 0 ] && [ "$tf" -eq 0 ]; then
    fail=$((fail + 1))
    failed_names+=("tests/top/check.sh (exit $rc)")
fi

# ---- The invalidate/map/access protocol, model-checked with spin ----
echo "== protocol model (spin; broken variants must be caught) =="
out="$LOG/model.out"
tests/model/check.sh >"$out" 2>&1
rc=$?
mp=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed.*/\1/p' "$out" | tail -1)
mf=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed.*/\2/p' "$out" | tail -1)
if [ -n "$mp" ]; then
    pass=$((pass + mp))
    fail=$((fail + mf))
fi
if [ $rc -eq 0 ] && [ -n "$mp" ]; then
    echo "ok    model ($mp runs)"
else
    [ -z "$mp" ] && fail=$((fail + 1))
    failed_names+=("model")
    echo "FAIL  model"
    grep -E 'FAIL|error' "$out" | head -20 | sed 's/^/      /'
fi

# ---- xl integration: make install, the man page, the systemd unit ----
xl_check() { # name status [output shown on failure]
    note_result "$1" "$2"
    if [ "$2" -eq 0 ]; then
        echo "ok    $1"
    else
        echo "FAIL  $1"
        [ -n "${3:-}" ] && printf '%s\n' "$3" | head -20 | sed 's/^/      /'
    fi
}
echo "== xl integration: install, man page, unit =="
inst=$(mktemp -d /tmp/ioreq-lend-install-XXXXXX)
out=$(make -s install DESTDIR="$inst" 2>&1)
rc=$?
if [ $rc -eq 0 ]; then
    for f in usr/local/libexec/ioreq-lend/ioreq-lend usr/local/libexec/ioreq-lend/ioreq-lend-qemu \
        usr/local/libexec/ioreq-lend/ioreq-lend-xl-create usr/local/sbin/ioreq-lend \
        usr/local/sbin/ioreq-lend-xl-create usr/local/sbin/ioreq-lend-ctl usr/local/sbin/ioreq-lend-top \
        usr/local/share/man/man8/ioreq-lend.8 usr/local/share/man/man8/ioreq-lend-ctl.8 \
        usr/local/include/ioreq-lend/control_client.h usr/local/lib/libioreq-lend-control.a \
        usr/local/lib/pkgconfig/ioreq-lend-control.pc usr/local/share/doc/ioreq-lend/examples/ctl-example.c \
        usr/local/lib/systemd/system/ioreq-lend@.service \
        usr/local/share/doc/ioreq-lend/examples/README.md; do
        [ -e "$inst/$f" ] || { rc=1; out="missing $f"; }
    done
    grep -q 'device_model_override = "/usr/local/libexec/ioreq-lend/ioreq-lend-qemu"' \
        "$inst"/usr/local/share/doc/ioreq-lend/examples/hvm-vram-8g-lend.cfg || rc=1
    "$inst"/usr/local/sbin/ioreq-lend --version | grep -q '^ioreq-lend [0-9]' || rc=1
fi
xl_check "make install DESTDIR" $rc "$out"
out=$(groff -man -Tutf8 -ww -z docs/ioreq-lend.8 2>&1)
rc=$?
[ -z "$out" ] || rc=1
MANWIDTH=80 man -l docs/ioreq-lend.8 2>/dev/null | sed -n '/^NAME/,/^SYNOPSIS/p' | tr -s ' \n' ' ' |
    grep -q 'ioreq-lend-xl-create, ioreq-lend-ctl, ioreq-lend-top - lend host memory' || rc=1
xl_check "man page renders without warnings" $rc "$out"
if command -v systemd-analyze >/dev/null; then
    mkdir -p "$inst/verify"
    sed "s|/usr/local/sbin/|$inst/usr/local/sbin/|" \
        "$inst"/usr/local/lib/systemd/system/ioreq-lend@.service >"$inst/verify/ioreq-lend@.service"
    out=$(systemd-analyze verify --man=no "$inst/verify/ioreq-lend@guest.service" 2>&1)
    xl_check "systemd-analyze verify ioreq-lend@.service" $? "$out"
fi
out=$(tests/launcher/syslog-check.sh build/ioreq-lend 2>&1)
rc=$?
if [ $rc -eq 77 ]; then
    echo "skip  --syslog reaches syslog (no private mount namespace here: needs root)"
else
    xl_check "--syslog reaches syslog, not stderr" $rc "$out"
fi
out=$(build/ioreq-lend-qemu --version 2>&1 && build/ioreq-lend-xl-create --version 2>&1)
rc=$?
printf '%s' "$out" | grep -q '^ioreq-lend-qemu [0-9]' || rc=1
xl_check "launchers --version" $rc "$out"
rm -rf "$inst"

if [ "$QUICK" -eq 0 ]; then
    # ---- The Debian packages: build, lintian, install, upgrade, purge ----
    echo "== Debian packages (make deb, lintian, dpkg) =="
    out="$LOG/deb.out"
    tests/deb-check.sh >"$out" 2>&1
    rc=$?
    cat "$out"
    if [ $rc -ne 77 ]; then
        dp=$(grep -c '^ok    ' "$out")
        df=$(grep -c '^FAIL  ' "$out")
        pass=$((pass + dp))
        fail=$((fail + df))
        while read -r line; do failed_names+=("${line#FAIL  }"); done < <(grep '^FAIL  ' "$out")
        if [ $rc -ne 0 ] && [ "$df" -eq 0 ]; then
            fail=$((fail + 1))
            failed_names+=("deb-check.sh (exit $rc)")
        fi
    fi

    echo "== build (clang, ASan+UBSan) =="
    if make -s -j"$JOBS" BUILD=build/asan CC=clang SAN=1 check-build >"$LOG/asan.out" 2>&1; then
        note_result "clang+asan build" 0
        export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
        export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
        echo "== unit tests (ASan+UBSan) =="
        run_unit build/asan asan
        echo "== scenarios (ASan+UBSan) =="
        run_scenarios build/asan asan
        unset ASAN_OPTIONS UBSAN_OPTIONS
    else
        note_result "clang+asan build" 1
        tail -30 "$LOG/asan.out"
    fi
    echo "== the daemon under valgrind (one scenario) =="
    out="$LOG/valgrind.out"
    timeout 600 build/xensim --json \
        --dm-wrapper "valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect" \
        tests/scenarios/emulate-basic.scn >"$out" 2>&1
    rc=$?
    note_result "valgrind emulate-basic" $rc
    [ $rc -eq 0 ] && echo "ok    valgrind emulate-basic" || { echo "FAIL  valgrind emulate-basic"; tail -40 "$out"; }
fi

echo
if [ "$fail" -ne 0 ]; then
    echo "failed:"
    printf '  %s\n' "${failed_names[@]}"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
