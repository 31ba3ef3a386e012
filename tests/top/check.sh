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

# prom_histograms_ok DOMID KIND COUNT: on stdin, the exposition's
# ioreq_lend_request_duration_seconds for that daemon and kind is a proper
# Prometheus histogram: 32 _bucket lines, le increasing and ending at +Inf,
# cumulative counts never decreasing, +Inf equal to _count equal to COUNT, a _sum.
prom_histograms_ok() {
    python3 -c '
import re, sys
domid, kind, want = sys.argv[1], sys.argv[2], int(sys.argv[3])
lab = "domid=\"%s\",bdf=\"0000:00:1f.0\",kind=\"%s\"" % (domid, kind)
text = sys.stdin.read()
assert "# TYPE ioreq_lend_request_duration_seconds histogram\n" in text
b = re.findall(r"^ioreq_lend_request_duration_seconds_bucket\{" + re.escape(lab) + r",le=\"([^\"]+)\"\} (\d+)$", text, re.M)
assert len(b) == 32 and b[-1][0] == "+Inf", b
les = [float(x) for x, _ in b[:-1]]
assert les == sorted(les) and len(set(les)) == 31, les
cum = [int(c) for _, c in b]
assert cum == sorted(cum), cum
cnt = re.findall(r"^ioreq_lend_request_duration_seconds_count\{" + re.escape(lab) + r"\} (\d+)$", text, re.M)
sm = re.findall(r"^ioreq_lend_request_duration_seconds_sum\{" + re.escape(lab) + r"\} ([0-9.]+)$", text, re.M)
assert cnt == [str(cum[-1])] and int(cnt[0]) == want and len(sm) == 1, (cnt, sm, want)
' "$@"
}

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
# The mode and latency histograms (latency.h): 32 log2 buckets of ns each.
b32() { # INDEX COUNT: a JSON array of 32 buckets, INDEX holding COUNT
    python3 -c 'import sys; b = ["0"] * 32; b[int(sys.argv[1])] = sys.argv[2]; print("[" + ",".join(b) + "]", end="")' "$1" "$2"
}
hist() { printf '{"count":%s,"sum":%s,"buckets":%s}' "$1" "$2" "$3"; }
printf '{"ioreqs":{"copy":1},"latency_ns":{"copy":{"count":1,"sum":5,"buckets":[0,1' >"$(n 16)"
printf '{"ioreqs":{"copy":2},"latency_ns":{"copy":%s}}' "$(hist 2 3000 "$(b32 10 1)")" >"$(n 17)"
printf '{"ioreqs":{"copy":1},"latency_ns":{"copy":{"count":1,"sum":1,"buckets":[1]}}}' >"$(n 18)"
printf '{"ioreqs":{"copy":1},"mode":"LEND"}' >"$(n 19)"
printf '{"ioreqs":{"copy":100,"access":0,"pci_config":0},"mode":"emulate","latency_ns":{"access":%s,"copy":%s,"config":%s}}\n' \
    "$(hist 0 0 "$(b32 0 0)")" "$(hist 100 150000 "$(b32 10 100)")" "$(hist 0 0 "$(b32 0 0)")" >"$(n 20)"
printf '{"ioreqs":{"copy":1},"latency_ns":{"copy":%s,"copy":%s}}' "$(hist 0 0 "$(b32 0 0)")" "$(hist 0 0 "$(b32 0 0)")" >"$(n 21)"
printf '{"ioreqs":{"copy":1},"latency_ns":{"copy":{"count":0,"sum":0}}}' >"$(n 22)"
printf '{"ioreqs":{"copy":1}}' >"$d/notes.json"

out=$(timeout 20 "$TOP" --once --state-dir "$d" 2>&1)
rc=$?
want=(
    "^1 +0000:00:1f.0 exited +- +10 +5 +2 +3 +7 +0 +0 +0 +- +-$"
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
    "^16 .*broken: truncated"
    "^17 .*broken: histogram buckets do not add up to its count"
    "^18 .*broken: expected ','"
    "^19 .*broken: bad character in a word"
    "^20 +0000:00:1f.0 exited +emulate +100 +100 +0 +0 +0 +0 +0 +0 +1.5us +2.0us$"
    "^21 .*broken: repeated histogram"
    "^22 .*broken: histogram without count, sum or buckets"
)
miss=""
for re in "${want[@]}"; do
    printf '%s\n' "$out" | grep -qE -- "$re" || miss+=" [$re]"
done
lines=$(printf '%s\n' "$out" | wc -l)
# A header and 20 daemons: the .tmp, the .jsonx and notes.json are no daemon's.
if [ $rc -eq 0 ] && [ -z "$miss" ] && [ "$lines" -eq 21 ]; then
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
assert len(v) == 20, len(v)
assert v[0] == {"domid": 1, "bdf": "0000:00:1f.0", "status": "exited", "counters":
    {"ioreqs.copy": 5, "ioreqs.access": 2, "ioreqs.pci_config": 3, "remap.pages_mapped": 7}}, v[0]
good = [x for x in v[1:] if x["domid"] == 20]
assert all("error" in x and "counters" not in x for x in v[1:] if x["domid"] != 20), v
# 100 requests in [1024, 2048) ns: quantiles interpolated inside that bucket.
g = good[0]
assert g["mode"] == "emulate", g
assert g["fault_latency"] == {"kind": "copy", "p50_ns": 1536, "p99_ns": 2037}, g
c = g["latency_ns"]["copy"]
assert c["count"] == 100 and c["sum"] == 150000 and c["buckets"][10] == 100, c
assert g["latency_ns"]["access"]["count"] == 0 and "p50" in g["latency_ns"]["access"], g
' 2>&1; then
    ok "--json parses, broken files carry their error"
else
    bad "--json parses, broken files carry their error" "exit $rc: $out"
fi

out=$(timeout 20 "$TOP" --prometheus --state-dir "$d" 2>&1)
rc=$?
badl=$(printf '%s\n' "$out" | grep -vE '^# (HELP|TYPE) ioreq_lend_[a-z_]+ ' |
    grep -vE '^ioreq_lend_[a-z_]+\{domid="[0-9]+",bdf="[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]"(,mode="[a-z]+"|,kind="[a-z]+"(,le="([0-9.e+-]+|\+Inf)")?)?\} [0-9.]+$')
if [ $rc -eq 0 ] && [ -z "$badl" ] &&
    printf '%s\n' "$out" | grep -qx 'ioreq_lend_ioreqs_copy{domid="1",bdf="0000:00:1f.0"} 5' &&
    printf '%s\n' "$out" | grep -qx 'ioreq_lend_stats_valid{domid="2",bdf="0000:00:1f.0"} 0' &&
    printf '%s\n' "$out" | grep -qx 'ioreq_lend_mode{domid="20",bdf="0000:00:1f.0",mode="emulate"} 1' &&
    printf '%s' "$out" | prom_histograms_ok 20 copy 100 &&
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
    printf '%s' "$line" | grep -qE '^1 +0000:00:1f.0 running +emulate +[0-9]+ +[0-9]+ +0 .* [0-9.]+[nmu]?s +[0-9.]+[nmu]?s$' &&
        ok "a running daemon: its --once line, mode and fault latency" ||
        bad "a running daemon: its --once line, mode and fault latency" "$line"
    # The histograms count exactly what the counters count (one file, one
    # instant): every COPY and config request was synchronous here.
    if printf '%s' "$seen" | python3 -c '
import json, sys
d = json.load(sys.stdin)[0]
c, lat = d["counters"], d["latency_ns"]
assert d["mode"] == "emulate", d.get("mode")
assert c["ioreqs.buffered"] == 0, c
assert lat["copy"]["count"] == c["ioreqs.copy"] >= 8192, (lat["copy"]["count"], c["ioreqs.copy"])
assert lat["config"]["count"] == c["ioreqs.pci_config"] + c["ioreqs.pio"] + c["ioreqs.bridge_config"] > 0, lat["config"]
assert lat["access"]["count"] == c["ioreqs.access"] == 0, lat["access"]
for k, h in lat.items():
    assert sum(h["buckets"]) == h["count"], k
    assert h["p50"] <= h["p99"], (k, h["p50"], h["p99"])
    # Each request took at least 1 ns and well under a second, on average.
    assert h["count"] == 0 or h["count"] <= h["sum"] < h["count"] * 10**9, (k, h["sum"])
f = d["fault_latency"]
assert f["kind"] == "copy" and 0 < f["p50_ns"] <= f["p99_ns"] < 10**9, f
' 2>&1; then
        ok "a running daemon: latency histograms match its counters, p50 <= p99"
    else
        bad "a running daemon: latency histograms match its counters, p50 <= p99" "$seen"
    fi
    prom=$("$TOP" --prometheus --state-dir "$tmp/live/state")
    copies=$(printf '%s' "$seen" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["counters"]["ioreqs.copy"])')
    # The file is rewritten every second: the count may have grown since $seen, never shrunk.
    cnow=$(printf '%s\n' "$prom" | sed -n 's/^ioreq_lend_request_duration_seconds_count{domid="1",bdf="0000:00:1f.0",kind="copy"} //p')
    if [ -n "$cnow" ] && [ "$cnow" -ge "$copies" ] && printf '%s' "$prom" | prom_histograms_ok 1 copy "$cnow" &&
        printf '%s\n' "$prom" | grep -qx 'ioreq_lend_mode{domid="1",bdf="0000:00:1f.0",mode="emulate"} 1'; then
        ok "a running daemon: --prometheus histogram and mode"
    else
        bad "a running daemon: --prometheus histogram and mode" "$(printf '%s\n' "$prom" | grep -E 'duration_seconds_(count|sum)|_mode')"
    fi
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
