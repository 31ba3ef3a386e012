#!/bin/bash
# Run libFuzzer targets one after the other and report, for each: executions,
# executions per second, coverage (libFuzzer's cov: edges and ft: features at
# the end), the corpus size, and whether it found anything.
#
#   tests/fuzz/run.sh SECONDS TARGET...
#
# Binaries come from $FUZZ_BUILD (default build/fuzz). Seeds are read from
# tests/fuzz/corpus/TARGET/ (never written); what the fuzzer finds goes to
# $FUZZ_BUILD/corpus/TARGET/, crashes to $FUZZ_BUILD/artifacts/, logs to
# $FUZZ_BUILD/logs/. The table is also written to $FUZZ_BUILD/report.md.
# Exit status: 0 if no target found a crash, a leak or a timeout, else 1.
set -u
cd "$(dirname "$0")/../.."

FUZZ_BUILD=${FUZZ_BUILD:-build/fuzz}
secs=${1:?usage: run.sh SECONDS TARGET...}
shift
[ $# -gt 0 ] || { echo "run.sh: no targets" >&2; exit 2; }

# Per-target options: the longest input worth trying, a dictionary if there is one.
target_flags() {
    case $1 in
    fuzz_dispatch) echo "-max_len=4096" ;;
    fuzz_config) echo "-max_len=2048" ;;
    fuzz_options) echo "-max_len=1024" ;;
    fuzz_control) echo "-max_len=4096" ;;
    fuzz_backing_spec) echo "-max_len=4200" ;; # BACKING_PATH_MAX is 4096
    fuzz_lend_spec) echo "-max_len=8300" ;;    # LEND_SPEC_MAX_LEN is 8192
    *) echo "" ;;
    esac
    [ -f "tests/fuzz/dict/$1.dict" ] && echo "-dict=tests/fuzz/dict/$1.dict"
}

mkdir -p "$FUZZ_BUILD/logs" "$FUZZ_BUILD/artifacts"
report="$FUZZ_BUILD/report.md"
{
    echo "| target | seconds | executions | exec/s | cov | ft | corpus | result |"
    echo "|---|---:|---:|---:|---:|---:|---:|---|"
} >"$report.tmp"

failed=0
for t in "$@"; do
    bin="$FUZZ_BUILD/$t"
    log="$FUZZ_BUILD/logs/$t.log"
    work="$FUZZ_BUILD/corpus/$t"
    seeds="tests/fuzz/corpus/$t"
    if [ ! -x "$bin" ]; then
        echo "run.sh: $bin is not built (make fuzz-build)" >&2
        exit 2
    fi
    mkdir -p "$work"
    dirs=("$work")
    [ -d "$seeds" ] && dirs+=("$seeds")
    printf '%-20s %4ss ... ' "$t" "$secs"
    # shellcheck disable=SC2046
    "$bin" -max_total_time="$secs" -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$FUZZ_BUILD/artifacts/$t-" $(target_flags "$t") "${dirs[@]}" \
        >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p' <<<"$last")
    if [ "$rc" -eq 0 ]; then
        result=ok
    else
        failed=1
        artifact=$(sed -n "s/.*Test unit written to \(.*\)$/\1/p" "$log" | tail -1)
        result="FAILED (exit $rc${artifact:+, $artifact})"
    fi
    echo "$result: ${execs:-?} runs, ${rate:-?}/s, cov ${cov:-?}, ft ${ft:-?}, corpus ${corp:-?}"
    if [ "$rc" -ne 0 ]; then
        grep -E 'PROPERTY VIOLATED|ERROR: |SUMMARY|runtime error' "$log" | head -5 | sed 's/^/    /'
        echo "    log: $log"
        [ -n "${artifact:-}" ] && echo "    reproduce: $bin $artifact"
    fi
    echo "| $t | $secs | ${execs:-?} | ${rate:-?} | ${cov:-?} | ${ft:-?} | ${corp:-?} | $result |" \
        >>"$report.tmp"
done
mv "$report.tmp" "$report"
echo "report: $report"
exit $failed
