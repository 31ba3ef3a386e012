#!/bin/bash
# xensim --dm-wrapper for tests/top/check.sh: the daemon keeps its state and
# stats where a host's daemons do, STATE/domN-SSSS:BB:DD.F.{lock,json} in
# $TOP_TEST_DIR/state, instead of the harness's per-run names; its pid goes to
# $TOP_TEST_DIR/pid. Then it becomes the daemon (exec), so signals reach it.
set -u
state="$TOP_TEST_DIR/state"
args=()
while [ $# -gt 0 ]; do
    case $1 in
    --state-dir) args+=("$1" "$state"); shift 2 ;;
    --stats) args+=("$1" "$state/dom1-0000:00:1f.0.json"); shift 2 ;;
    *) args+=("$1"); shift ;;
    esac
done
mkdir -p "$state"
echo $$ >"$TOP_TEST_DIR/pid"
exec "${args[@]}"
