#!/bin/bash
# The real-Xen end-to-end harness: Xen 4.17 + a PV dom0 + test guests, all under
# qemu-system-x86_64 with TCG, serving guests with build/ioreq-lend.
#
# usage: tests/e2e-xen/run.sh [--case NAME[,NAME...]] [--list] [--timeout SECONDS]
#                             [--case-timeout SECONDS] [--qemu-smp N] [--dom0-vcpus N] [--no-build]
#                             [--xen stock|lend|FILE] [--privcmd lend|stock] [--verbose]
#                             [--set VAR=VALUE]...
#   --case        run only these cases (default: all, in the order of ALL_CASES below,
#                 then any other cases/*.sh)
#   --timeout     global bound on the QEMU run (default 590 s)
#   --case-timeout  bound on one case inside dom0 (default 420 s)
#   --qemu-smp    CPUs of the emulated machine (default 1; see README.md: with 2, Xen's
#                 scheduler loses wake-ups under TCG and runs hang)
#   --dom0-vcpus  dom0's vCPUs (default 1)
#   --no-build    use the cached images as they are (fails if there are none)
#   --xen         the hypervisor QEMU boots: stock (default, Debian's binary), lend (Debian's
#                 source with upstream/xen/patches, built as image layer xenlend), or the path
#                 of a hypervisor image (xen/xen of a development tree) taken as lend; cases
#                 see E2E_XEN_FLAVOUR, the JSON's xen object says which ran
#   --privcmd     dom0's xen-privcmd.ko: lend (default), upstream/linux/'s module with the
#                 lending ioctls, loaded instead of Debian's; stock, Debian's own; or fake,
#                 the module's test build whose hypercalls succeed without Xen (for the
#                 lend-events case only: it lends nothing to a guest)
#   --verbose     print the whole serial console, not just progress
#   --set         pass VAR=VALUE to the cases (e.g. E2E_THREADS_BYTES=8M, E2E_LOG_LEVEL=debug)
#   --deb DIR     install the daemon as dom0's administrator would: DIR's ioreq-lend_*.deb
#                 (make deb), with dpkg -i; the cases use the package's paths. Without it
#                 the binaries are copied where `make install` puts them
# Environment: E2E_DAEMON (default build/ioreq-lend), E2E_XENSIM (default build/xensim, for
# the fidelity check that follows hvm-basic), E2E_CACHE (default tests/e2e-xen/cache).
#
# Output: progress lines, a summary table, and as the LAST line one JSON object:
#   {"ok":..,"failures":[..],"elapsed_s":..,"cases":{..},"ioreqs":{..},"guest":{..},"dm":{..},"leaks":{..},..}
# Exit status 0 only if every requested case ran and none failed (skips allowed).
# Files of the last run: tests/e2e-xen/cache/run/ (console.log, results/, summary.json).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${E2E_CACHE:-$HERE/cache}
OUT=$CACHE/run
DAEMON=${E2E_DAEMON:-$ROOT/build/ioreq-lend}
XENSIM=${E2E_XENSIM:-$ROOT/build/xensim}
export E2E_T0=${EPOCHREALTIME/,/.}

# The case list: extend by adding cases/NAME.sh (and its name here to fix its order).
ALL_CASES=(lend-ioctl lend-events lend-mm lend-copy hvm-basic xl-create hvm-large-bar destroy-mid-traffic pvh pvh-xl-create libvirt xen-lend)

CASES="" TIMEOUT=590 CASE_TIMEOUT=420 DOM0_VCPUS=1 QEMU_SMP=1 BUILD=1 VERBOSE=0 SETS=() XEN_FLAVOUR=stock
PRIVCMD=lend DEB_DIR=""
while [ $# -gt 0 ]; do
    case $1 in
    --case|--cases) CASES=$2; shift ;;
    --timeout) TIMEOUT=$2; shift ;;
    --case-timeout) CASE_TIMEOUT=$2; shift ;;
    --dom0-vcpus) DOM0_VCPUS=$2; shift ;;
    --qemu-smp) QEMU_SMP=$2; shift ;;
    --no-build) BUILD=0 ;;
    --xen) XEN_FLAVOUR=$2; shift ;;
    --privcmd)
        case $2 in lend|stock|fake) PRIVCMD=$2 ;; *) echo "run.sh: --privcmd lend|stock|fake" >&2; exit 2 ;; esac
        shift ;;
    --verbose|-v) VERBOSE=1 ;;
    --set) SETS+=("$2"); shift ;;
    --deb) DEB_DIR=$2; shift ;;
    --list)
        for c in "${ALL_CASES[@]}"; do echo "$c"; done
        for f in "$HERE"/cases/*.sh; do
            c=$(basename "$f" .sh)
            [[ " ${ALL_CASES[*]} " == *" $c "* ]] || echo "$c"
        done
        exit 0 ;;
    -h|--help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
if [ -z "$CASES" ]; then
    CASES=$("$0" --list | tr '\n' ' ')
fi
CASES=$(echo "${CASES//,/ }" | xargs)
XEN_IMAGE=""
case $XEN_FLAVOUR in
stock|lend) ;;
*)  [ -f "$XEN_FLAVOUR" ] || { echo "run.sh: --xen stock|lend|FILE, not '$XEN_FLAVOUR'" >&2; exit 2; }
    XEN_IMAGE=$(realpath "$XEN_FLAVOUR") XEN_FLAVOUR=lend ;;
esac
for c in $CASES; do
    [ -f "$HERE/cases/$c.sh" ] || { echo "run.sh: no case '$c' (see --list)" >&2; exit 2; }
done

elapsed() { awk -v a="$E2E_T0" -v b="${EPOCHREALTIME/,/.}" 'BEGIN{printf "%.1f", b-a}'; }
say() { printf '[%6.1fs] %s\n' "$(elapsed)" "$*"; }
# Fail before booting anything, still with a JSON last line.
early_fail() {
    echo "run.sh: $1" >&2
    mkdir -p "$OUT/results"; rm -f "$OUT"/results/*.json
    perl "$HERE/report.pl" summary "$OUT" cases="${CASES// /,}" elapsed_s="$(elapsed)" build_s="${BUILD_S:-0}" \
        qemu_rc=-1 timeout_s="$TIMEOUT" daemon="${DAEMON_STATE:-unknown}" xen_flavour="$XEN_FLAVOUR" error="$1"
    exit 1
}
mkdir -p "$OUT"
rm -rf "$OUT/results" "$OUT/console.log" "$OUT/summary.json" "$OUT/results.json"

# ---------------------------------------------------------------- images
say "cases: $CASES (dom0's privcmd: $PRIVCMD)"
if [ $BUILD = 1 ]; then
    say "images: building or reusing the cache ($CACHE)"
    b0=$(elapsed)
    BUILD_ARGS=(); [ "$XEN_FLAVOUR" = lend ] && [ -z "$XEN_IMAGE" ] && BUILD_ARGS=(--xen-lend)
    if ! "$HERE/build-images.sh" "${BUILD_ARGS[@]}" 2> >(tee "$OUT/build.log" | sed -u 's/^/    /' >&2); then
        BUILD_S=$(awk -v a="$b0" -v b="$(elapsed)" 'BEGIN{printf "%.1f", b-a}')
        early_fail "image build failed (see $OUT/build.log)"
    fi
    BUILD_S=$(awk -v a="$b0" -v b="$(elapsed)" 'BEGIN{printf "%.1f", b-a}')
    say "images ready in ${BUILD_S}s"
else
    BUILD_S=0
fi
[ -f "$CACHE/images.env" ] || early_fail "no images in $CACHE (run without --no-build)"
# shellcheck source=/dev/null
. "$CACHE/images.env"
# The hypervisor to boot: Debian's, or the one with the lending series.
if [ -n "$XEN_IMAGE" ]; then
    BOOT_XEN=$XEN_IMAGE
    say "hypervisor: lend, the image given ($BOOT_XEN)"
elif [ "$XEN_FLAVOUR" = lend ]; then
    BOOT_XEN=${E2E_XEN_LEND:-}
    [ -n "$BOOT_XEN" ] || early_fail "no patched hypervisor in $CACHE/images.env (run without --no-build)"
    say "hypervisor: lend ($BOOT_XEN: ${E2E_XEN_LEND_INFO:-})"
else
    BOOT_XEN=$E2E_XEN
fi
for f in "$BOOT_XEN" "$E2E_VMLINUZ" "$E2E_DOM0_CPIO" "$E2E_OVERLAY_CPIO"; do
    [ -s "$f" ] || early_fail "cached image $f missing (rerun without --no-build)"
done

# ---------------------------------------------------------------- the daemon, injected per run
RUNROOT=$(mktemp -d "$CACHE/runroot.XXXXXX")
trap 'rm -rf "$RUNROOT"' EXIT
mkdir -p "$RUNROOT/e2e" "$RUNROOT/usr/local/bin"
DEB_ENV=""
if [ -n "$DEB_DIR" ]; then
    deb=$(ls "$DEB_DIR"/ioreq-lend_*.deb 2>/dev/null | head -1)
    if [ -n "$deb" ]; then
        mkdir -p "$RUNROOT/e2e/debs"
        cp "$deb" "$RUNROOT/e2e/debs/"
        DAEMON_STATE="package $(basename "$deb") $(sha256sum "$deb" | cut -c1-12)"
        # The package's paths (debian/rules), for dom0-init.sh and the cases.
        DEB_ENV="export DAEMON=/usr/libexec/ioreq-lend/ioreq-lend E2E_LIBEXEC=/usr/libexec/ioreq-lend E2E_EXAMPLES=/usr/share/doc/ioreq-lend/examples"
        say "daemon: $(basename "$deb"), installed in dom0 with dpkg -i ($DAEMON_STATE)"
    else
        DAEMON_STATE="missing (no ioreq-lend_*.deb in $DEB_DIR)"
        say "daemon: $DAEMON_STATE: the cases will run their guests and FAIL"
    fi
elif [ -f "$DAEMON" ] && [ -x "$DAEMON" ]; then
    DAEMON_STATE="present $(sha256sum "$DAEMON" | cut -c1-12)"
    cp "$DAEMON" "$RUNROOT/usr/local/bin/ioreq-lend"
    # The xl launchers where `make install` puts them, the daemon beside them, and
    # the xl examples (the xl-create case starts its guest from one).
    for p in "$DAEMON" "$ROOT/build/ioreq-lend-qemu" "$ROOT/build/ioreq-lend-xl-create"; do
        [ -x "$p" ] && install -D -m 0755 "$p" "$RUNROOT/usr/local/libexec/ioreq-lend/$(basename "$p")"
    done
    mkdir -p "$RUNROOT/e2e/examples"
    cp "$ROOT"/xl-cfg-examples/*.cfg "$RUNROOT/e2e/examples/"
    # Every library the daemon needs must be in dom0 (same Debian release as the host).
    # A library dom0 lacks is copied from the host, with a warning: add its package
    # to build-images.sh.
    while read -r soname path; do
        grep -q "/$soname\$" "${E2E_DOM0_CPIO%.cpio}.files" && continue
        if [ -f "$path" ]; then
            say "WARNING: dom0 lacks $soname (needed by $DAEMON): injecting the host's $path"
            mkdir -p "$RUNROOT/$(dirname "$path")"
            cp -L "$path" "$RUNROOT/$path"
        else
            say "WARNING: $DAEMON needs $soname, found neither in dom0 nor on the host"
        fi
    done < <(ldd "$DAEMON" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3} $2 == "=>" && $3 == "not" {print $1, ""}')
    say "daemon: $DAEMON ($DAEMON_STATE)"
else
    if [ -d "$DAEMON" ]; then
        DAEMON_STATE="missing ($DAEMON is a directory, not the daemon binary)"
    else
        DAEMON_STATE="missing"
    fi
    say "daemon: build/ioreq-lend missing ($DAEMON_STATE): the cases will run their guests and FAIL"
fi
{
    echo "E2E_CASES=\"$CASES\""
    echo "E2E_CASE_TIMEOUT=$CASE_TIMEOUT"
    echo "export E2E_XEN_FLAVOUR=$XEN_FLAVOUR"
    echo "export E2E_PRIVCMD=$PRIVCMD"
    [ -n "$DEB_ENV" ] && echo "$DEB_ENV"
    for s in "${SETS[@]}"; do
        [[ $s =~ ^[A-Z_][A-Z0-9_]*=[^\"\$\`]*$ ]] || early_fail "bad --set '$s'"
        echo "export ${s%%=*}=\"${s#*=}\""
    done
} > "$RUNROOT/e2e/run.env"
(cd "$RUNROOT" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet > "$OUT/run.cpio")
# One initramfs: archives concatenate, later files override earlier ones.
cat "$E2E_DOM0_CPIO" "$E2E_OVERLAY_CPIO" "$OUT/run.cpio" > "$OUT/initrd.cpio"

# ---------------------------------------------------------------- boot
# CPU: the EPYC model (AMD -> Xen uses SVM, which TCG emulates with nested paging), minus
# what breaks under TCG (credit: the xen-under-qemu reference recipe):
#   monitor    TCG faults MWAIT with ECX=1 -> Xen panics in its idle loop
#   smap,smep  the PV dom0 kernel dies at its first bounce frame (#PF in create_bounce_frame)
#   the rest   features TCG cannot emulate (silences warnings only)
CPU=EPYC,-monitor,-smap,-smep,-rdseed,-sha-ni,-fxsr-opt,-misalignsse,-3dnowprefetch,-osvw,-topoext,-xsavec,-nrip-save
# One emulated CPU (ours): with -smp 2, Xen 4.17's credit2 scheduler under TCG now and
# then loses a cross-CPU wake-up: a vCPU stays runnable in the run queue while both
# pCPUs idle in HLT, and the run hangs for good (Xen's 'q'/'r' debug keys: dom0's vCPU
# on the RUNQ, "idlers: 2, tickled: 0"). With one pCPU every wake-up is local. It is
# not slower: an ioreq round trip is serial anyway, and TCG does not have to wake a
# second host thread for each one. The guests still get 2 vCPUs.
# spec-ctrl=eager-fpu (ours): on an AMD CPU model Xen switches FPU state lazily (CR0.TS
# and #NM); under TCG that corrupts userspace as soon as several domains share a pCPU
# (seen: ld.so assertions, xl segfaults, jq aborts in dom0). Eager switching fixes it.
XEN_ARGS="console=com1 com1=115200,8n1 dom0_mem=1536M,max:1536M dom0_max_vcpus=$DOM0_VCPUS spec-ctrl=eager-fpu"
XEN_ARGS+=" loglvl=all guest_loglvl=all conring_size=1M serial_tx_buffer=256K${E2E_XEN_EXTRA:+ $E2E_XEN_EXTRA}"
DOM0_ARGS="console=hvc0 earlyprintk=xen quiet"
say "booting Xen under QEMU (TCG, $QEMU_SMP CPU(s), 3 GiB, dom0 $DOM0_VCPUS vCPU), global timeout ${TIMEOUT}s"
# QEMU's serial input is a FIFO we hold open. Shortly before the global timeout a
# watchdog types Xen debug keys into it (Ctrl-A x3 gives Xen the console; then
# q: domains and vCPUs, r: run queues, d: registers and stacks of every CPU), so a
# hung run leaves a diagnosis in console.log.
rm -f "$OUT/serial-in"; mkfifo "$OUT/serial-in"
exec {SERIAL_IN}<>"$OUT/serial-in"
(
    [ "$TIMEOUT" -gt 40 ] || exit 0
    sleep $((TIMEOUT - 25))
    printf '\001\001\001' >&"$SERIAL_IN"; sleep 1
    for k in q r d; do printf '%s' "$k" >&"$SERIAL_IN"; sleep 3; done
) &
WATCHDOG=$!
timeout -k 10 "$TIMEOUT" qemu-system-x86_64 -accel tcg,thread=${E2E_TCG_THREAD:-multi} -cpu "$CPU" -m 3G -smp "$QEMU_SMP" \
    -nographic -nodefaults -serial stdio -no-reboot -monitor none \
    -kernel "$BOOT_XEN" -append "$XEN_ARGS" \
    -initrd "$E2E_VMLINUZ $DOM0_ARGS,$OUT/initrd.cpio" <&"$SERIAL_IN" 2>&1 |
    grep --line-buffered -v "TCG doesn't support" |
    perl "$HERE/report.pl" stream "$OUT" "$VERBOSE"
QEMU_RC=${PIPESTATUS[0]}
kill "$WATCHDOG" 2>/dev/null; wait "$WATCHDOG" 2>/dev/null
exec {SERIAL_IN}>&-; rm -f "$OUT/serial-in"
[ "$QEMU_RC" = 124 ] && say "global timeout (${TIMEOUT}s) hit: QEMU killed"
say "QEMU exited ($QEMU_RC)"
rm -f "$OUT/initrd.cpio"

# The fidelity check (host side): hvm-basic's workload replayed on the simulator.
SUMMARY_CASES=$CASES
if [[ " $CASES " == *" hvm-basic "* ]]; then
    if [ -x "$XENSIM" ]; then
        say "fidelity: replaying hvm-basic's guest workload on the simulator ($XENSIM)"
        perl "$HERE/fidelity.pl" "$OUT" hvm-basic "$XENSIM"
    else
        say "fidelity: $XENSIM missing (make build/xensim): the check fails"
    fi
    SUMMARY_CASES+=" fidelity"
fi
# The differential of lending: lend-copy's lent run replayed on the simulator, lending.
if [[ " $CASES " == *" lend-copy "* ]] && jq -e '.lend_run' "$OUT/results/lend-copy.json" >/dev/null 2>&1; then
    say "fidelity-lend: replaying lend-copy's lent run on the simulator ($XENSIM)"
    perl "$HERE/fidelity.pl" "$OUT" lend-copy "$XENSIM" lend_run lend
    SUMMARY_CASES+=" fidelity-lend"
fi
perl "$HERE/report.pl" summary "$OUT" cases="${SUMMARY_CASES// /,}" elapsed_s="$(elapsed)" build_s="$BUILD_S" \
    qemu_rc="$QEMU_RC" timeout_s="$TIMEOUT" daemon="$DAEMON_STATE" xen_flavour="$XEN_FLAVOUR"
