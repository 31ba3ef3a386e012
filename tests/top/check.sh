#!/bin/bash
# ioreq-lend-top against broken and half-written stats files, then against a
# running simulated daemon (tests/top/live.scn through tests/top/dm-wrapper.sh):
# running while it serves, exited once it is gone, never a crash.
#
#   tests/top/check.sh [BUILD]     prints "ok    top ..." / "FAIL  top ..." lines;
#                                  exit 0 all passed, 1 a failure
set -u
cd "$(dirname "$0")/../.."
B=${1:-build}
TOP=$B/ioreq-lend-top
fail=0
ok() { echo "ok    top $1"; }
bad() {
    echo "FAIL  top $1"
    [ -n "${2:-}" ] && printf '%s\n' "$2" | head -30 | sed 's/^/      /'
    fail=1
}
tmp=$(mktemp -d /tmp/ioreq-lend-top-XXXXXX)
xpid=""
cleanup() {
    [ -n "$xpid" ] && kill "$xpid" 2>/dev/null
    [ -s "$tmp/live/pid" ] && kill "$(cat "$tmp/live/pid")" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

# ---- 1. Broken files: each on its own line, with the reason ----
d=$tmp/broken
mkdir -p "$d"
n() { printf '%s/dom%s-0000:00:1f.0.json' "$d" "$1"; }
printf '{"ioreqs":{"copy":5,"access":2,"pci_config":3},"remap":{"pages_mapped":7}}\n' >"$(n 1)"
printf '{"ioreqs":{"copy":5,"acc' >"$(n 2)"
: >"$(n 3)"
printf 'garbage' >"$(n 4)"
mkdir "$(n 5)"
mkfifo "$(n 6)"
printf '{"ioreqs":{"copy":99999999999999999999999}}' >"$(n 7)"
printf '{"ioreqs":{"copy":1}}' >"$(n 8).tmp" # the daemon's temporary: not a daemon
head -c 70000 /dev/zero | tr '\0' ' ' >"$(n 9)"
printf '{"ioreqs":{"copy":1}} {' >"$(n 10)"
printf '{"ioreqs":{"co\\"py":1}}' >"$(n 11)"
printf '{"ioreqs":{"copy":-1}}' >"$(n 12)"
ln -s /etc/passwd "$(n 13)"
printf '{}' >"$(n 14)"
printf '{"ioreqs":{"copy":1}}' >"$d/dom15-0000:00:1f.0.jsonx"
printf '{"ioreqs":{"copy":1}}' >"$d/notes.json"

out=$(timeout 20 "$TOP" --once --state-dir "$d" 2>&1)
rc=$?
want=(
    "^1 +0000:00:1f.0 exited +10 +5 +2 +3 +7 +0 +0 +0$"
    "^2 .*broken: truncated at byte 24$"
    "^3 .*broken: empty$"
    "^4 .*broken: expected '\{' at byte 0$"
    "^5 .*broken: not a regular file$"
    "^6 .*broken: not a regular file$"
    "^7 .*broken: number too large"
    "^9 .*broken: larger than 65536 bytes$"
    "^10 .*broken: data after the object"
    "^11 .*broken: bad character in a name"
    "^12 .*broken: expected a number"
    "^13 .*broken: "
    "^14 .*broken: no counters"
)
miss=""
for re in "${want[@]}"; do
    printf '%s\n' "$out" | grep -qE -- "$re" || miss+=" [$re]"
done
lines=$(printf '%s\n' "$out" | wc -l)
# A header and 13 daemons: the .tmp, the .jsonx and notes.json are no daemon's.
if [ $rc -eq 0 ] && [ -z "$miss" ] && [ "$lines" -eq 14 ]; then
    ok "--once: broken and half-written files shown as such"
else
    bad "--once: broken and half-written files shown as such" "exit $rc, $lines lines, missing:$miss
$out"
fi

out=$(timeout 20 "$TOP" --json --state-dir "$d" 2>&1)
rc=$?
if [ $rc -eq 0 ] && printf '%s' "$out" | python3 -c '
import json, sys
v = json.load(sys.stdin)
assert len(v) == 13, len(v)
assert v[0] == {"domid": 1, "bdf": "0000:00:1f.0", "status": "exited", "counters":
    {"ioreqs.copy": 5, "ioreqs.access": 2, "ioreqs.pci_config": 3, "remap.pages_mapped": 7}}, v[0]
assert all("error" in x and "counters" not in x for x in v[1:]), v
' 2>&1; then
    ok "--json parses, broken files carry their error"
else
    bad "--json parses, broken files carry their error" "exit $rc: $out"
fi

out=$(timeout 20 "$TOP" --prometheus --state-dir "$d" 2>&1)
rc=$?
badl=$(printf '%s\n' "$out" | grep -vE '^# (HELP|TYPE) ioreq_lend_[a-z_]+ ' |
    grep -vE '^ioreq_lend_[a-z_]+\{domid="[0-9]+",bdf="[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]"\} [0-9]+$')
if [ $rc -eq 0 ] && [ -z "$badl" ] &&
    printf '%s\n' "$out" | grep -qx 'ioreq_lend_ioreqs_copy{domid="1",bdf="0000:00:1f.0"} 5' &&
    printf '%s\n' "$out" | grep -qx 'ioreq_lend_stats_valid{domid="2",bdf="0000:00:1f.0"} 0' &&
    [ "$(printf '%s\n' "$out" | grep -c '^# TYPE ioreq_lend_ioreqs_copy ')" -eq 1 ]; then
    ok "--prometheus: the text format, broken files as stats_valid 0"
else
    bad "--prometheus: the text format, broken files as stats_valid 0" "exit $rc, bad lines: $badl"
fi

# Command line: one line, exit 2.
cli() { # name pattern args...
    local name=$1 pat=$2 o r
    shift 2
    o=$("$TOP" "$@" 2>&1)
    r=$?
    [ $r -eq 2 ] && [ "$(printf '%s\n' "$o" | wc -l)" -eq 1 ] && printf '%s' "$o" | grep -q -- "$pat" &&
        ok "cli $name" || bad "cli $name" "exit $r: $o"
}
cli no-dir "cannot read $tmp/none" --once --state-dir "$tmp/none"
cli bad-interval "--interval: '0'" --interval 0
cli unknown-option "unknown option '--nope'" --nope
cli json-and-prometheus "choose one" --json --prometheus
"$TOP" --help | grep -q '^Usage: ioreq-lend-top' && ok "cli help" || bad "cli help"

# ---- 2. A running simulated daemon ----
mkdir -p "$tmp/live"
TOP_TEST_DIR=$tmp/live "$B/xensim" --dm-wrapper tests/top/dm-wrapper.sh tests/top/live.scn \
    >"$tmp/xensim.out" 2>&1 &
xpid=$!
# The scenario holds until the daemon exits; look until the view shows it
# running with its requests counted (the daemon rewrites its file every second).
seen=""
for _ in $(seq 600); do
    out=$("$TOP" --json --state-dir "$tmp/live/state" 2>/dev/null)
    if printf '%s' "$out" | python3 -c '
import json, sys
v = json.load(sys.stdin)
assert len(v) == 1 and v[0]["status"] == "running" and v[0]["counters"]["ioreqs.copy"] >= 8192
' 2>/dev/null; then
        seen=$out
        break
    fi
    kill -0 "$xpid" 2>/dev/null || break
    sleep 0.1
done
if [ -n "$seen" ]; then
    ok "a running daemon: running, its requests counted"
    line=$("$TOP" --once --state-dir "$tmp/live/state" | sed -n 2p)
    printf '%s' "$line" | grep -qE '^1 +0000:00:1f.0 running +[0-9]+ +[0-9]+ +0 ' &&
        ok "a running daemon: its --once line" || bad "a running daemon: its --once line" "$line"
    "$TOP" --prometheus --state-dir "$tmp/live/state" | grep -qx 'ioreq_lend_up{domid="1",bdf="0000:00:1f.0"} 1' &&
        ok "a running daemon: ioreq_lend_up 1" || bad "a running daemon: ioreq_lend_up 1"
else
    bad "a running daemon: running, its requests counted" "$out
$(tail -20 "$tmp/xensim.out")"
fi
kill -TERM "$(cat "$tmp/live/pid")" 2>/dev/null
wait "$xpid"
rc=$?
xpid=""
[ $rc -eq 0 ] && ok "the scenario ends, the daemon exits 0" ||
    bad "the scenario ends, the daemon exits 0" "$(tail -20 "$tmp/xensim.out")"
out=$("$TOP" --once --state-dir "$tmp/live/state" 2>&1)
if [ ! -e "$tmp/live/state/dom1-0000:00:1f.0.json" ]; then
    printf '%s' "$out" | grep -q 'no daemon' && ok "the daemon gone: no line" ||
        bad "the daemon gone: no line" "$out"
else
    printf '%s\n' "$out" | sed -n 2p | grep -qE '^1 +0000:00:1f.0 exited ' &&
        ok "the daemon gone: exited" || bad "the daemon gone: exited" "$out"
fi
exit $fail
