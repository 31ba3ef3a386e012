# shellcheck shell=bash
# Helpers for the end-to-end cases, sourced by dom0's /init and by every case script
# (/e2e/lib.sh inside dom0). Cases write their result as JSON through rec/check/finish.
#
# Waiting, and why it is not a sleep:
#  - daemon readiness: the daemon writes a line to --ready-fd, a FIFO we read with a
#    bounded `read -t` (no polling at all);
#  - daemon exit: `wait -n` on the daemon and a timer process (no polling);
#  - guest progress: the guest's console file is followed with `tail -F` (inotify) and
#    read line by line with a bounded `read -t`; every 5 s without a line we check that
#    the domain still exists, so a dead guest ends the wait early (bounded poll #1);
#  - domain teardown: nothing signals "domain gone" to a shell, so `xl list` is polled
#    every 0.2 s up to a bound (bounded poll #2).

E2E=${E2E:-/e2e}
RESULTS=${RESULTS:-/tmp/e2e}
DAEMON=${DAEMON:-/usr/local/bin/ioreq-lend}
# The launchers and the xl examples: where run.sh copies them (make install's paths), or
# where the package puts them (run.sh --deb: dom0-init.sh installs it with dpkg -i).
E2E_LIBEXEC=${E2E_LIBEXEC:-/usr/local/libexec/ioreq-lend}
E2E_EXAMPLES=${E2E_EXAMPLES:-$E2E/examples}
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/xen-4.17/bin

# Fork-free helpers: every process start in dom0 costs ~0.1-1 s under TCG (jq more).
now() { local u _; read -r u _ < /proc/uptime; echo "$u"; }
# Seconds since $1 (a now() value), one decimal.
since() {
    local a=${1/./} b; b=$(now); b=${b/./}
    local d=$(( 10#$b - 10#$a )); printf '%d.%d' $((d / 100)) $((d % 100 / 10))
}
log() { echo "[dom0 $(now)] ${CASE:+$CASE: }$*"; }
progress() { echo "E2E-PROGRESS ${CASE:+$CASE: }$*"; }

# ------------------------------------------------------------------ recording results
# Each case appends JSON lines to $D/fields.jsonl; finish merges them with one jq.
# (No $(...) in these: a command substitution forks, and a fork is slow in dom0.)
# json_str STRING: sets REPLY to STRING as a JSON string literal (control chars dropped).
json_str() {
    local s=$1
    s=${s//\\/\\\\}; s=${s//\"/\\\"}
    s=${s//$'\n'/\\n}; s=${s//$'\r'/}; s=${s//$'\t'/ }
    s=${s//[$'\x01'-$'\x1f']/}
    REPLY="\"$s\""
}
# emit_path PATH VALUE: append {"a":{"b":VALUE}} (PATH a.b) to this case's fields.
emit_path() {
    local IFS=. parts out=$2 i; read -ra parts <<< "$1"
    for (( i = ${#parts[@]} - 1; i >= 0; i-- )); do json_str "${parts[i]}"; out="{$REPLY:$out}"; done
    printf '%s\n' "$out" >> "$D/fields.jsonl"
}
# rec PATH VALUE: set PATH (dot-separated) of this case's result to VALUE, kept as
# JSON if it is a number, true/false/null or JSON text, else recorded as a string.
rec() {
    if [[ $2 =~ ^-?[0-9]+(\.[0-9]+)?$ || $2 == true || $2 == false || $2 == null || $2 == [\{\[]* ]]; then
        emit_path "$1" "$2"
    else
        json_str "$2"; emit_path "$1" "$REPLY"
    fi
}
rec_str() { json_str "$2"; emit_path "$1" "$REPLY"; }

# check NAME true|false DETAIL: one assertion. Any false check fails the case.
check() {
    local ok=false
    case $2 in true|ok|pass) ok=true ;; esac
    json_str "$3"; emit_path "checks.$1" "{\"ok\":$ok,\"detail\":$REPLY}"
    if [ $ok = true ]; then
        log "check $1: ok${3:+ ($3)}"
    else
        log "check $1: FAILED${3:+ ($3)}"
        echo "$1: $3" >> "$D/failures"
    fi
}
# skip REASON: the case could not run (missing prerequisite); never a pass.
skip() { echo "$1" > "$D/skipped"; log "SKIP: $1"; }

case_begin() {
    CASE=$1
    D=$RESULTS/$CASE
    rm -rf "$D"; mkdir -p "$D"
    : > "$D/fields.jsonl"
    CASE_T0=$(now)
    XEN_FREE0=$(xen_free_kb)
    rec_str name "$CASE"
    progress "begin"
}

# Write $D/result.json from the recorded fields; status pass|fail|skip.
finish() {
    local status reason=""
    if [ -s "$D/failures" ]; then
        status=fail; reason=$(head -1 "$D/failures")
    elif [ -e "$D/skipped" ]; then
        status=skip; reason=$(cat "$D/skipped")
    elif grep -q '"checks"' "$D/fields.jsonl"; then
        status=pass
    else
        status=fail; reason="no check was made"
    fi
    rec_str status "$status"
    rec_str reason "$reason"
    rec elapsed_s "$(since "$CASE_T0")"
    [ -s "$D/failures" ] && rec failures "$(jq -R . "$D/failures" | jq -cs .)"
    if ! jq -cs 'reduce .[] as $x ({}; . * $x)' "$D/fields.jsonl" > "$D/result.json.tmp" 2>/dev/null; then
        # A bad line (a bug of ours): keep every line that parses, and say so.
        local l; while IFS= read -r l; do
            printf '%s\n' "$l" | jq -c . 2>/dev/null || { json_str "bad result line: ${l:0:200}"; echo "{\"harness_error\":$REPLY}"; }
        done < "$D/fields.jsonl" | jq -cs 'reduce .[] as $x ({}; . * $x)' > "$D/result.json.tmp"
    fi
    mv "$D/result.json.tmp" "$D/result.json"
    progress "end $status ${reason:+($reason)}"
    exit 0
}

# ------------------------------------------------------------------ Xen state
xen_free_kb() { xl info 2>/dev/null | awk '/^free_memory/{print $3 * 1024}'; }
# Domains other than dom0, one "name id" per line (zombies show as "(null)").
other_domains() { xl list 2>/dev/null | awk 'NR > 1 && $2 != 0 {print $1, $2}'; }

# wait_domain_gone NAME_OR_ID TIMEOUT: bounded poll #2 (see the top of this file).
wait_domain_gone() {
    local end=$((SECONDS + $2))
    while [ $SECONDS -lt $end ]; do
        xl list "$1" >/dev/null 2>&1 || { DOMAIN_GONE_AT=$(now); return 0; }
        sleep 0.2
    done
    return 1
}

# Leak checks after a case: no domain left, no daemon left, Xen's free memory back.
leak_checks() {
    local left zombies alive=0 free delta
    wait_domain_gone "${DOMID:-$GUEST}" 30 || true
    left=$(other_domains)
    zombies=$(printf '%s\n' "$left" | grep -c '^(null)' || true)
    [ -n "${DPID:-}" ] && kill -0 "$DPID" 2>/dev/null && alive=1
    free=$(xen_free_kb)
    delta=$(( ${free:-0} - ${XEN_FREE0:-0} ))
    rec leaks "$(jq -cn --argjson n "$(printf '%s' "$left" | grep -c . || true)" --argjson z "$zombies" \
        --argjson a $alive --argjson d "$delta" --arg l "$left" \
        '{domains_left: $n, zombies: $z, daemon_alive: $a, xen_free_kb_delta: $d, list: $l}')"
    check no_leftover_domain "$([ -z "$left" ] && echo true || echo false)" \
        "xl list: ${left:-only Domain-0}"
    check daemon_gone "$([ $alive = 0 ] && echo true || echo false)" "daemon pid ${DPID:-none}"
    # Xen may keep a few pages (p2m pools are freed lazily); 1 MiB of slack.
    check xen_memory_returned "$([ "$delta" -ge -1024 ] && echo true || echo false)" \
        "free memory delta ${delta} KiB"
}

# ------------------------------------------------------------------ the daemon
have_daemon() { [ -x "$DAEMON" ] && [ -e "$E2E/daemon-ok" ]; }

# require_daemon: record whether the daemon under test is usable. The case goes on
# without it (the guest still boots, to validate the harness) but fails.
require_daemon() {
    if [ ! -e "$DAEMON" ]; then
        check daemon_present false "build/ioreq-lend missing (not injected by run.sh)"
    elif ! have_daemon; then
        check daemon_present false "ioreq-lend --help failed in dom0: $(head -c 300 "$E2E/daemon-help.err" 2>/dev/null)"
    else
        check daemon_present true "$(head -1 "$E2E/daemon-version" 2>/dev/null)"
    fi
}

# daemon_start DOMID ARGS...: start the daemon with --ready-fd 3 on a FIFO and wait
# for its ready line. Sets DPID. Returns non-zero (and records why) on failure.
daemon_start() {
    local domid=$1; shift
    DSTATS=$D/stats.json
    DLOG=$D/daemon.log
    rm -f "$D/ready.fifo"; mkfifo "$D/ready.fifo"
    local t0; t0=$(now)
    # The daemon's log, each line prefixed with dom0's uptime (when did it notice what),
    # through a FIFO so that the stamper ends exactly when the daemon closes its end.
    rm -f "$D/log.fifo"; mkfifo "$D/log.fifo"
    (while IFS= read -r l; do read -r u _ < /proc/uptime; printf '[%s] %s\n' "$u" "$l"; done) \
        < "$D/log.fifo" > "$DLOG" &
    STAMPER=$!
    # shellcheck disable=SC2094
    "$DAEMON" --domid "$domid" --ready-fd 3 --stats "$DSTATS" --pidfile "$D/daemon.pid" "$@" \
        3>"$D/ready.fifo" >"$D/log.fifo" 2>&1 &
    DPID=$!
    echo "$DAEMON --domid $domid --ready-fd 3 --stats $DSTATS --pidfile $D/daemon.pid $*" > "$D/daemon.cmdline"
    # Keep a reader open as long as the daemon lives: a later write must not SIGPIPE it.
    exec {READYFD}<"$D/ready.fifo"
    local line="" rc=0
    IFS= read -r -t "${E2E_READY_TIMEOUT:-60}" -u "$READYFD" line || rc=$?
    if [ $rc -eq 0 ]; then
        rec_str daemon.ready_line "$line"
        rec daemon.ready_s "$(since "$t0")"
        check daemon_ready true "ready after $(since "$t0")s: $line"
        return 0
    fi
    if [ $rc -gt 128 ]; then
        check daemon_ready false "no ready line within ${E2E_READY_TIMEOUT:-60}s"
    else
        wait "$DPID"; local drc=$?
        check daemon_ready false "daemon exited ($drc) without a ready line: $(tail -3 "$DLOG" | tr '\n' '|')"
        DPID=""
    fi
    return 1
}

# detached_daemon_end PID: a daemon a launcher started (not our child, so no `wait`)
# must exit 0 by itself once its domain is gone, as its process and its log ($DLOG)
# show (bounded poll #5: every 0.2 s up to E2E_EXIT_TIMEOUT).
detached_daemon_end() {
    [ -n "$1" ] || return 0
    local end=$((SECONDS + ${E2E_EXIT_TIMEOUT:-60}))
    while kill -0 "$1" 2>/dev/null && [ $SECONDS -lt $end ]; do sleep 0.2; done
    check daemon_exit_0 "$( ! kill -0 "$1" 2>/dev/null && grep -q 'exiting with status 0' "$DLOG" && echo true || echo false)" \
        "$(grep -m1 'is gone' "$DLOG" 2>/dev/null) / $(grep -m1 'exiting with status' "$DLOG" 2>/dev/null)"
}

# daemon_wait_exit TIMEOUT: wait for the daemon to exit by itself. Sets DRC.
# Returns 1 (after SIGTERM, then SIGKILL) if it did not exit in time.
# `wait PID` returns at once for a child that already exited (bash keeps its
# status), which `wait -n` does not: it waits for the next change, so a daemon
# that exited before we got here looked 60 s slow. A watchdog child sends the
# SIGTERM instead, leaving a mark first: with the mark, the daemon was stopped.
daemon_wait_exit() {
    DRC=""
    [ -n "${DPID:-}" ] || return 1
    local t0 rc wd fired=${D:-/tmp}/.daemon-timeout; t0=$(now)
    rm -f "$fired"
    (sleep "$1"; : > "$fired"; kill -TERM "$DPID" 2>/dev/null; sleep 5; kill -KILL "$DPID" 2>/dev/null) &
    wd=$!
    wait "$DPID"; rc=$?
    # The watchdog first (it dies at once; its sleep, orphaned, ends by itself).
    kill "$wd" 2>/dev/null; wait "$wd" 2>/dev/null
    if [ -e "$fired" ]; then
        rm -f "$fired"
        DRC="timeout(then $rc)"
        return 1
    fi
    DRC=$rc; DEXIT_S=$(since "$t0"); DPID_DONE=$DPID
    # Its log is complete once the stamper has read the FIFO to its end.
    [ -n "${STAMPER:-}" ] && wait "$STAMPER" 2>/dev/null
    return 0
}

# Flatten the daemon's --stats JSON (flat or nested) to {"a.b.c": value}.
daemon_stats_flat() {
    [ -s "$DSTATS" ] || return 1
    jq -c '[paths(scalars) as $p | {key: ($p | map(tostring) | join(".")), value: getpath($p)}] | from_entries' \
        "$DSTATS" 2>/dev/null
}
# stat KEY: a counter from the flattened stats (empty if absent).
stat() { jq -r --arg k "$1" '.[$k] // empty' "$D/stats.flat.json" 2>/dev/null; }

# Record the daemon's counters: everything under ioreqs.* and dm.*, the rest as stats.
daemon_collect_stats() {
    local flat
    if flat=$(daemon_stats_flat) && [ -n "$flat" ]; then
        printf '%s\n' "$flat" > "$D/stats.flat.json"
        rec ioreqs "$(jq -c 'with_entries(select(.key | startswith("ioreqs."))) | with_entries(.key |= sub("^ioreqs\\."; ""))' "$D/stats.flat.json")"
        rec dm "$(jq -c 'with_entries(select(.key | startswith("dm."))) | with_entries(.key |= sub("^dm\\."; ""))' "$D/stats.flat.json")"
        rec stats "$(jq -c 'with_entries(select((.key | startswith("ioreqs.") or startswith("dm.")) | not))' "$D/stats.flat.json")"
        rec stats_raw "$(jq -c . "$DSTATS")"
        check stats_json true "$(jq -r 'length' "$D/stats.flat.json") counters in $DSTATS"
    else
        echo '{}' > "$D/stats.flat.json"
        check stats_json false "no parseable JSON in --stats $DSTATS ($(head -c 200 "$DSTATS" 2>/dev/null | tr '\n' ' '))"
    fi
}

# Excerpt of the daemon's log into the result (first and last lines).
daemon_log_excerpt() {
    [ -s "$DLOG" ] || return 0
    rec daemon.log_lines "$(wc -l < "$DLOG")"
    rec daemon.log_head "$( (head -n 15 "$DLOG") | cut -c1-200 | jq -R . | jq -cs .)"
    rec daemon.log_tail "$( (tail -n 15 "$DLOG") | cut -c1-200 | jq -R . | jq -cs .)"
}

# ------------------------------------------------------------------ guests
# The guests' kernels run with nosoftlockup: under TCG on a loaded host a vCPU may not
# run for 20 s and more, and the soft-lockup report, printed at emergency level, cut
# the guest's result line on the console (seen: xl-create's JSON split in two). A guest
# that really hangs still fails its case's bounded wait.
#
# hvm_cfg FILE NAME VCPUS MEMORY GUEST-ARGS [EXTRA xl LINES...]
hvm_cfg() {
    local f=$1 name=$2 vcpus=$3 mem=$4 args=$5; shift 5
    cat > "$f" <<EOF
name = "$name"
type = "hvm"
kernel = "$E2E/guest/vmlinuz"
ramdisk = "$E2E/guest/guest.cpio.gz"
extra = "console=${HVM_CONSOLE:-ttyS0} ${E2E_GUEST_KARGS-quiet} nosoftlockup e2e.args=${args// /,}"
memory = $mem
vcpus = $vcpus
serial = "file:$D/console.log"
vnc = 0
sdl = 0
nographic = 1
vga = "none"
on_poweroff = "destroy"
on_reboot = "destroy"
on_crash = "destroy"
${E2E_GUEST_CPUS:+cpus = \"$E2E_GUEST_CPUS\"}
# Required under QEMU TCG: TCG reports RDTSCP as an RDTSC intercept and Xen
# would crash the guest on its first RDTSCP (credit: the xen-under-qemu recipe).
tsc_mode = "native"
EOF
    local l; for l in "$@"; do echo "$l" >> "$f"; done
    GUEST=$name
    GUEST_CONSOLE=$D/console.log
    # HVM_CONSOLE=hvc0: the guest's console is its PV console (xenconsoled logs it),
    # not QEMU's emulated UART; the serial file then has the firmware's output only.
    [ "${HVM_CONSOLE:-ttyS0}" = hvc0 ] && GUEST_CONSOLE=/var/log/xen/console/guest-$name.log
}

# pvh_cfg FILE NAME VCPUS MEMORY GUEST-ARGS [EXTRA xl LINES...]
pvh_cfg() {
    local f=$1 name=$2 vcpus=$3 mem=$4 args=$5; shift 5
    cat > "$f" <<EOF
name = "$name"
type = "pvh"
kernel = "$E2E/guest/vmlinuz"
ramdisk = "$E2E/guest/guest.cpio.gz"
extra = "console=hvc0 ${E2E_GUEST_KARGS-quiet} nosoftlockup e2e.args=${args// /,}"
memory = $mem
vcpus = $vcpus
on_poweroff = "destroy"
on_reboot = "destroy"
on_crash = "destroy"
${E2E_GUEST_CPUS:+cpus = \"$E2E_GUEST_CPUS\"}
tsc_mode = "native"
EOF
    local l; for l in "$@"; do echo "$l" >> "$f"; done
    GUEST=$name
    # libxl with a PCI root in the PVH DSDT (upstream/xen patch 8), for every xl
    # command of the case; E2E_PVH_LIBXL=debian keeps Debian's.
    if [ "${E2E_PVH_LIBXL:-patched}" = patched ]; then
        export LD_LIBRARY_PATH=/e2e/libxl
    fi
    # xenconsoled --log=guest writes the PV console here.
    GUEST_CONSOLE=/var/log/xen/console/guest-$name.log
}

# guest_create CFG: xl create -p (paused), sets DOMID.
guest_create() {
    : > "$GUEST_CONSOLE"
    if ! xl create -p "$1" > "$D/xl-create.log" 2>&1; then
        check guest_created false "xl create -p failed: $(tail -3 "$D/xl-create.log" | tr '\n' '|')"
        return 1
    fi
    DOMID=$(xl domid "$GUEST" 2>/dev/null)
    rec domid "${DOMID:-null}"
    check guest_created true "domain $GUEST id $DOMID (paused)"
}

# console_follow: copy the guest's console to ours, prefixed and timestamped
# (E2E_GUEST_CONSOLE=0: off). Sets CONSOLE_TAIL.
console_follow() {
    if [ "${E2E_GUEST_CONSOLE:-1}" = 1 ]; then
        (exec tail -n +1 -F "$GUEST_CONSOLE" 2>/dev/null | while IFS= read -r l; do
            echo "[domU $(now)] ${l%$'\r'}"; done) &
        CONSOLE_TAIL=$!
    fi
}

guest_unpause() {
    console_follow
    xl unpause "$GUEST"; GUEST_T0=$(now); progress "unpaused domain $DOMID"
}

# wait_console REGEX TIMEOUT [IDLE]: the first console line matching REGEX (printed on
# stdout). The guest's console is followed with tail -F; see bounded poll #1 at the
# top. With IDLE, also give up when the console has been silent for IDLE seconds.
wait_console() {
    local re=$1 end=$((SECONDS + $2)) idle=${3:-0} last=$SECONDS line fd tp rc part=""
    exec {fd}< <(exec tail -n +1 -F "$GUEST_CONSOLE" 2>/dev/null) || return 2
    tp=$!
    rc=1
    while [ $SECONDS -lt $end ]; do
        # A read that times out mid-line has consumed that part: keep it (under load a
        # line reaches the file in pieces seconds apart).
        if IFS= read -r -t 5 -u "$fd" line; then
            last=$SECONDS
            line=$part${line%$'\r'}; part=""
            if [[ $line =~ $re ]]; then printf '%s\n' "$line"; rc=0; break; fi
        elif part+=$line; ! xl list "$GUEST" >/dev/null 2>&1; then
            # The domain is gone: one last look at what it printed.
            line=$(grep -a -m1 -E "$re" "$GUEST_CONSOLE" | tr -d '\r') && { printf '%s\n' "$line"; rc=0; }
            break
        elif [ "$idle" -gt 0 ] && [ $((SECONDS - last)) -ge "$idle" ]; then
            rc=3; break
        fi
    done
    kill "$tp" 2>/dev/null; exec {fd}<&-
    return $rc
}

# wait_file_line FILE REGEX TIMEOUT: the first line of FILE (followed with tail -F, so
# lines still to come count) that matches REGEX, within TIMEOUT seconds.
wait_file_line() {
    local fd tp line rc=1 end=$((SECONDS + $3))
    exec {fd}< <(exec tail -n +1 -F "$1" 2>/dev/null) || return 2
    tp=$!
    while [ $SECONDS -lt $end ] && IFS= read -r -t $((end - SECONDS)) -u "$fd" line; do
        if [[ $line =~ $2 ]]; then printf '%s\n' "$line"; rc=0; break; fi
    done
    kill "$tp" 2>/dev/null; exec {fd}<&-
    return $rc
}

# start_guest CFG [DAEMON ARGS...]: xl create -p, start the daemon (if present), unpause,
# and wait until the guest's own init runs (its E2E-GUEST-BOOT line). Sets DOMID, DPID.
#
# Safety net (ours): with 2 emulated CPUs (run.sh --qemu-smp 2) an HVM guest now and
# then stalled for good before its kernel ran (in SeaBIOS, right after "Turning on vga
# text mode console", no console output ever again) -- a TCG scheduling problem, long
# before our program runs. So a guest whose console stays silent for E2E_BOOT_IDLE
# (120) s, or that has not booted after E2E_BOOT_TIMEOUT (240) s, is destroyed and the
# attempt repeated once. Both attempts are recorded ("attempts", "boot_failures").
start_guest() {
    local cfg=$1; shift
    local attempt t0 why
    for attempt in 1 2; do
        rec attempts "$attempt"
        guest_create "$cfg" || return 1
        if have_daemon; then
            daemon_start "$DOMID" "$@" || return 1
        fi
        # A case's step between the daemon's start and the guest's first instruction.
        if [ -n "${BEFORE_UNPAUSE:-}" ]; then "$BEFORE_UNPAUSE" || return 1; fi
        guest_unpause
        t0=$(now)
        if wait_console 'E2E-GUEST-BOOT uptime=' "${E2E_BOOT_TIMEOUT:-240}" "${E2E_BOOT_IDLE:-120}" >/dev/null; then
            rec boot_s "$(since "$t0")"
            progress "guest booted in $(since "$t0")s (attempt $attempt)"
            return 0
        fi
        why="attempt $attempt: no E2E-GUEST-BOOT after $(since "$t0")s; last console line: $(grep -a -v '^\s*$' "$GUEST_CONSOLE" | tail -1 | tr -d '\r' | cut -c1-120); last Xen line: $(xl dmesg | grep -a "(d$DOMID)" | tail -1 | cut -c1-120)"
        rec_str "boot_failures.$attempt" "$why"
        if [ "$attempt" = 1 ]; then progress "guest did not boot ($why): retrying once"
        else progress "guest did not boot ($why)"; fi
        [ -n "${CONSOLE_TAIL:-}" ] && pkill -P "$CONSOLE_TAIL" tail 2>/dev/null
        xl destroy "$DOMID" 2>/dev/null
        if [ -n "${DPID:-}" ]; then
            daemon_wait_exit 30 || kill -KILL "$DPID" 2>/dev/null
            DPID=""
            [ -n "${READYFD:-}" ] && exec {READYFD}<&-
        fi
        wait_domain_gone "$DOMID" 30 || true
    done
    check guest_booted false "the guest never booted (twice): $why"
    return 1
}

# The guest's result line, validated as JSON, into $D/guest.json.
guest_result() {
    local line
    if ! line=$(wait_console '^E2E-GUEST \{' "${1:-300}"); then
        check guest_result false "no E2E-GUEST line within ${1:-300}s (console: $(grep -a -v '^\s*$' "$GUEST_CONSOLE" | tail -3 | tr -d '\r' | tr '\n' '|' | cut -c1-300))"
        return 1
    fi
    if ! printf '%s\n' "${line#E2E-GUEST }" | jq -c . > "$D/guest.json" 2>/dev/null; then
        check guest_result false "E2E-GUEST line is not JSON: $(printf '%s' "$line" | cut -c1-200)"
        return 1
    fi
    rec guest "$(cat "$D/guest.json")"
    guest_load
    rec guest_s "$(since "$GUEST_T0")"
    return 0
}
# g .a.b[1].c: a field of the guest's result ("" if absent). guest_load (called by
# guest_result, in the case's own shell) flattens guest.json once into G.
declare -gA G=()
guest_load() {
    G=()
    local k v
    while IFS=$'\t' read -r k v; do G[$k]=$v; done < <(jq -r \
        'paths(type != "object" and type != "array") as $p | "\($p | map(tostring) | join("."))\t\(getpath($p))"' \
        "$D/guest.json" 2>/dev/null)
}
g() {
    local k=${1#.}; k=${k//[/.}; k=${k//]/}
    printf '%s' "${G[$k]:-}"
}
gnum() { local v; v=$(g "$1"); echo "${v:-0}"; }

# hvmloader's BAR placement for our function, from Xen's console ring (xl dmesg):
# "(dN) pci dev 1f:0 bar 10 size 0000000010000000: 0e000000c"
hvmloader_bar0() {
    xl dmesg 2>/dev/null | tr -d '\r' | grep -a "(d$DOMID) pci dev 1f:0 bar 10 " | tail -1
}

# Save the guest console and the Xen messages about this domain for the report.
save_guest_logs() {
    [ -n "${CONSOLE_TAIL:-}" ] && pkill -P "$CONSOLE_TAIL" tail 2>/dev/null; CONSOLE_TAIL=""
    [ -f "$GUEST_CONSOLE" ] && [ "$GUEST_CONSOLE" != "$D/console.log" ] && cp "$GUEST_CONSOLE" "$D/console.log"
    xl dmesg 2>/dev/null | grep -a "d${DOMID:-x}" > "$D/xen-dmesg.log" || true
}

# Kill whatever a case left behind (the runner calls this after every case).
cleanup_case() {
    local n id
    [ -n "${CONSOLE_TAIL:-}" ] && pkill -P "$CONSOLE_TAIL" tail 2>/dev/null
    [ -n "${DPID:-}" ] && kill -TERM "$DPID" 2>/dev/null
    other_domains | while read -r n id; do xl destroy "$id" 2>/dev/null; done
    return 0
}

# ------------------------------------------------------------------ common checks
# stat_match REGEX: the first counter whose flattened key matches REGEX (jq regex).
stat_match() {
    jq -r --arg re "$1" '[to_entries[] | select(.key | test($re))][0].value // empty' "$D/stats.flat.json" 2>/dev/null
}

# daemon_reports_addr 0xHEX: does the daemon's log or stats mention this address?
daemon_reports_addr() {
    local hex=${1#0x}; hex=${hex,,}
    [ -n "$hex" ] || return 1
    # The daemon logs "BAR 0 decodes at 0xSTART-0xEND" on every claim: the last one counts.
    local last; last=$(grep -Eio 'decodes at 0x[0-9a-f]+' "$DLOG" 2>/dev/null | tail -1)
    if [ -n "$last" ]; then
        [ $(( ${last##* } )) -eq $(( 0x$hex )) ]; return
    fi
    grep -Eiq "0x0*${hex}([^0-9a-f]|\$)" "$DLOG" 2>/dev/null && return 0
    local dec; dec=$(printf '%d' "0x$hex" 2>/dev/null) || return 1
    jq -e --arg h "$hex" --argjson d "$dec" \
        '[.. | scalars] | any(. == $d or (type == "string" and (ascii_downcase | test("^(0x)?0*" + $h + "$"))))' \
        "$DSTATS" >/dev/null 2>&1
}

# The guest's view of the function vs what we configured the daemon with and what
# hvmloader placed. Args: VENDOR DEVICE CLASS BAR_SIZE_BYTES
guest_function_checks() {
    local vendor=$1 device=$2 class=$3 size=$4
    check guest_ok "$(g .ok)" "$(g .error)"
    [ "$(g .kernel_found)" = true ] || return 0
    local gv gd gc
    gv=$(g .vendor); gd=$(g .device); gc=$(g .class)
    check config_ids "$( [ $((gv)) -eq $((vendor)) ] && [ $((gd)) -eq $((device)) ] && [ $((gc)) -eq $((class)) ] && echo true || echo false)" \
        "guest sees $gv:$gd class $gc, daemon configured $vendor:$device class $class"
    check bar0_size "$( [ "$(g .bar0_size)" = "$size" ] && echo true || echo false)" \
        "guest BAR0 size $(g .bar0_size), configured $size"
    # hvmloader's own record of where it put BAR 0 (Xen console ring).
    local hl addr
    hl=$(hvmloader_bar0)
    rec_str hvmloader_bar0_line "$hl"
    addr=$(printf '%s' "$hl" | sed -n 's/.*: *\([0-9a-fA-F]*\)$/\1/p')
    if [ -n "$addr" ]; then
        addr=$(( (0x$addr) & ~0xf ))
        rec hvmloader_bar0 "\"$(printf '0x%x' "$addr")\""
        check hvmloader_placement "$( [ $addr -eq $(( $(g .bar0) )) ] && echo true || echo false)" \
            "hvmloader placed BAR0 at $(printf '0x%x' "$addr"), guest sysfs says $(g .bar0)"
    else
        check hvmloader_placement false "no 'pci dev 1f:0 bar 10' line from hvmloader in xl dmesg"
    fi
    # Config space as the guest read it vs the BAR address register.
    check guest_config_bar0 "$( [ $(( $(g .config_bar0) )) -eq $(( $(g .bar0) )) ] && echo true || echo false)" \
        "config space BAR0 $(g .config_bar0), sysfs resource $(g .bar0)"
}

guest_traffic_checks() {
    local w r e
    w=$(g .bytes_written); r=$(g .bytes_read); e=$(g .integrity_errors)
    check guest_traffic "$( [ "${w:-0}" -gt 0 ] && [ "${e:-1}" = 0 ] && echo true || echo false)" \
        "written ${w:-?} read ${r:-?} integrity_errors ${e:-?}, threads $(g .threads_s)s ($(g .threads_mib_s) MiB/s), rep movsq $(g .rep_movs.t_to_bar_s)s/$(g .rep_movs.t_from_bar_s)s"
    check two_vcpus "$( [ "$(g '.threads[1].cpu_seen')" = 1 ] && [ "$(g '.threads[0].cpu_seen')" = 0 ] && echo true || echo false)" \
        "threads ran on vCPU $(g '.threads[0].cpu_seen') and $(g '.threads[1].cpu_seen') of $(g .vcpus)"
}

# After the guest: the daemon exits 0 by itself, its counters make sense, nothing leaks.
# Args: WAIT_DOMAIN_SECONDS
daemon_end_checks() {
    if [ -n "${DPID:-}" ]; then
        if daemon_wait_exit "${E2E_EXIT_TIMEOUT:-60}"; then
            check daemon_exit_0 "$( [ "$DRC" = 0 ] && echo true || echo false)" \
                "exited $DRC by itself ${DEXIT_S}s after the domain began to go"
        else
            check daemon_exit_0 false "still running ${E2E_EXIT_TIMEOUT:-60}s after the domain died (then: $DRC)"
        fi
        rec daemon.exit "$(jq -cn --arg rc "$DRC" --arg s "${DEXIT_S:-}" '{rc: $rc, after_s: $s}')"
        # How long after `xl list` stopped showing the domain the daemon logged that it
        # was gone (both in dom0 uptime seconds; the daemon polls every second).
        local seen; seen=$(sed -n 's/^\[\([0-9.]*\)\] .*is gone: releasing.*/\1/p' "$DLOG" | head -1)
        if [ -n "$seen" ] && [ -n "${DOMAIN_GONE_AT:-}" ]; then
            local lag; lag=$(awk -v a="$DOMAIN_GONE_AT" -v b="$seen" 'BEGIN{printf "%.1f", b - a}')
            rec daemon.noticed_death_after_s "$lag"
            check daemon_noticed_death "$(awk -v l="$lag" 'BEGIN{print (l <= 10) ? "true" : "false"}')" \
                "the daemon logged the domain gone ${lag}s after xl list stopped listing it"
        fi
        DPID=""
    fi
}

# Counters vs the guest's own figures. Args: MIN_BYTES (what the guest moved)
daemon_counter_checks() {
    local copy pcicfg emb ptr
    daemon_collect_stats
    # A daemon that lends (DMODE=lend, its ready line's mode): the guest's accesses run
    # natively; Xen sends access-only requests, and COPY only for what it emulates.
    if [ "${DMODE:-}" = lend ]; then
        local acc mapped
        acc=$(stat_match '^ioreqs\.access$'); mapped=$(stat_match '^remap\.pages_mapped$')
        copy=$(stat_match '^ioreqs\.copy$')
        check lend_accesses "$( [ "${acc:-0}" -gt 0 ] && [ "${mapped:-0}" -gt 0 ] 2>/dev/null && echo true || echo false)" \
            "ioreqs.access=${acc:-absent} remap.pages_mapped=${mapped:-absent} ioreqs.copy=${copy:-absent}"
        return 0
    fi
    copy=$(stat_match '^ioreqs\.copy$'); [ -n "$copy" ] || copy=$(stat_match '(^|\.)copy$')
    pcicfg=$(stat_match '^ioreqs\.pci_config$'); [ -n "$pcicfg" ] || pcicfg=$(stat_match 'pci_config$')
    emb=$(stat_match '^dm\.emulated_bytes$'); [ -n "$emb" ] || emb=$(stat_match 'emulated_bytes$')
    ptr=$(stat_match '(data_is_ptr|copy_ptr|ptr)$')
    check ioreqs_copy "$( [ "${copy:-0}" -gt 0 ] 2>/dev/null && echo true || echo false)" "ioreqs.copy=${copy:-absent}"
    check ioreqs_pci_config "$( [ "${pcicfg:-0}" -gt 0 ] 2>/dev/null && echo true || echo false)" "ioreqs.pci_config=${pcicfg:-absent}"
    if [ -n "$emb" ]; then
        check emulated_bytes "$( [ "$emb" -ge "$1" ] 2>/dev/null && echo true || echo false)" \
            "dm.emulated_bytes=$emb, guest moved $1 bytes through the BAR"
    else
        rec_str notes.emulated_bytes "no dm.emulated_bytes counter: not compared"
    fi
    [ -n "$ptr" ] && rec ioreqs_data_is_ptr "$ptr"
    return 0
}

# The fallback warning of --mode auto on stock Xen: exactly one line.
fallback_warning_check() {
    local n; n=$(grep -ci 'lending unavailable' "$DLOG" 2>/dev/null || true)
    check fallback_warning_once "$( [ "${n:-0}" = 1 ] && echo true || echo false)" \
        "$n line(s) with 'lending unavailable': $(grep -i -m1 'lending unavailable' "$DLOG" 2>/dev/null | cut -c1-160)"
}

# The end of a case whose guest powers itself off after its result: the domain
# goes, the daemon exits 0 by itself, its counters cover what the guest moved.
# The case adds its own checks after this, then calls leak_checks and finish.
poweroff_checks() {
    if wait_domain_gone "$GUEST" 60; then
        check guest_powered_off true "domain $DOMID gone $(since "$GUEST_T0")s after unpause"
    else
        check guest_powered_off false "domain $DOMID still there 60s after its result"
    fi
    save_guest_logs
    have_daemon || return 0
    daemon_end_checks
    daemon_counter_checks "$(( $(gnum .bytes_written) + $(gnum .bytes_read) ))"
    daemon_log_excerpt
}
