#!/bin/bash
# Build xen-privcmd.ko with the lending ioctls for Debian's kernel KVER:
# Debian's drivers/xen/privcmd.c, privcmd-buf.c and privcmd.h (from the
# linux-source package of the same version as linux-headers-KVER), patched
# with privcmd-glue.patch, plus privcmd-lend.c, built out of tree against
# linux-headers-KVER. Also checks that privcmd-lend-uapi.h agrees with
# ioreq-lend/lend_abi.h, and runs the kernel's checkpatch on our files.
#
# usage: build.sh KVER OUTDIR [SRCDIR]
#   KVER    e.g. 6.1.0-57-amd64 (the dom0 kernel)
#   OUTDIR  receives xen-privcmd.ko, build.log, and fake-xen/xen-privcmd.ko: a
#           test build whose hypercalls never reach Xen (see privcmd-lend.c)
#   SRCDIR  cache for the Debian sources (default OUTDIR/src): the 139 MB
#           linux-source deb is downloaded once per version, only three
#           files and checkpatch are kept
# Needs: linux-headers-KVER (installed here if missing and root), apt-get,
# dpkg-deb, xz, patch, gcc, make.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
[ $# -ge 2 ] || { sed -n '2,/^set/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
KVER=$1
mkdir -p "$2"
OUT=$(cd "$2" && pwd)
SRCDIR=${3:-$OUT/src}
die() { echo "build.sh: $*" >&2; exit 1; }

HDR=/usr/src/linux-headers-$KVER
if [ ! -f "$HDR/Module.symvers" ]; then
    [ "$(id -u)" = 0 ] || die "linux-headers-$KVER is not installed (run as root, or apt-get install it)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        "linux-headers-$KVER" > "$OUT/apt.log" 2>&1 || die "apt-get install linux-headers-$KVER failed (see $OUT/apt.log)"
fi
VER=$(dpkg-query -W -f='${Version}' "linux-headers-$KVER")
SER=$(echo "$KVER" | cut -d. -f1,2)     # 6.1
SRC=$SRCDIR/linux-$VER
FILES=(drivers/xen/privcmd.c drivers/xen/privcmd-buf.c drivers/xen/privcmd.h
       scripts/checkpatch.pl scripts/spelling.txt scripts/const_structs.checkpatch)

if [ ! -f "$SRC/.done" ]; then
    echo "build.sh: fetching linux-source-$SER=$VER (once per kernel version)" >&2
    rm -rf "$SRC" && mkdir -p "$SRC"
    T=$(mktemp -d "$SRCDIR/dl.XXXXXX")
    (cd "$T" && apt-get download -q -o APT::Sandbox::User=root "linux-source-$SER=$VER" > /dev/null) ||
        { rm -rf "$T"; die "apt-get download linux-source-$SER=$VER failed"; }
    dpkg-deb --fsys-tarfile "$T"/linux-source-"$SER"_*.deb |
        tar -xO "./usr/src/linux-source-$SER.tar.xz" |
        tar -xJ -C "$SRC" --strip-components=1 "${FILES[@]/#/linux-source-$SER/}"
    rm -rf "$T"
    printf '%s\n' "$VER" > "$SRC/.done"
fi

B=$(mktemp -d "$OUT/build.XXXXXX")
trap 'rm -rf "$B"' EXIT
cp "$SRC"/drivers/xen/privcmd.c "$SRC"/drivers/xen/privcmd-buf.c "$SRC"/drivers/xen/privcmd.h "$B/"
(cd "$B" && patch -s -p3 < "$HERE/privcmd-glue.patch") || die "privcmd-glue.patch does not apply to Debian's $VER"
cp "$HERE"/privcmd-lend.c "$HERE"/privcmd-lend-uapi.h "$HERE"/Kbuild "$B/"

# The uapi must match the daemon's header, field for field.
gcc -Wall -Werror -I"$HERE" -o "$B/abi-uapi" "$HERE/check-abi.c"
gcc -Wall -Werror -DABI -I"$ROOT/ioreq-lend" -o "$B/abi-daemon" "$HERE/check-abi.c"
if ! diff <("$B/abi-uapi") <("$B/abi-daemon") > "$B/abi.diff"; then
    cat "$B/abi.diff" >&2
    die "privcmd-lend-uapi.h and ioreq-lend/lend_abi.h disagree (< uapi, > daemon)"
fi

# checkpatch, but for its two known false positives: comparing a Xen
# hypercall's answer with -ENOSYS, and GUEST_HANDLE() read as a statement.
perl "$SRC/scripts/checkpatch.pl" --no-tree --quiet --show-types --ignore ENOSYS,LINE_SPACING \
    -f "$HERE/privcmd-lend.c" "$HERE/privcmd-lend-uapi.h" > "$B/checkpatch.log" 2>&1 ||
    { cat "$B/checkpatch.log" >&2; die "checkpatch found problems"; }

# The module, and a test build whose hypercalls never reach Xen (fake-xen/):
# the same sources with PRIVCMD_LEND_FAKE_XEN, for tests on a stock hypervisor.
cp -a "$B" "$B.fake"
trap 'rm -rf "$B" "$B.fake"' EXIT
mkdir -p "$OUT/fake-xen"
for v in "" fake; do
    dir=$B${v:+.$v} ko=$OUT/${v:+fake-xen/}xen-privcmd.ko log=$OUT/build${v:+-$v}.log
    make -C "$HDR" M="$dir" W=1 ${v:+PRIVCMD_LEND_FAKE_XEN=y} modules > "$log" 2>&1 ||
        { tail -30 "$log" >&2; die "module build failed (see $log)"; }
    if grep -n 'privcmd-lend.*warning:' "$log" >&2; then die "warnings in privcmd-lend.c"; fi
    strip --strip-debug -o "$ko" "$dir/xen-privcmd.ko"
    grep -aq "vermagic=$KVER " "$ko" || die "$ko lacks vermagic $KVER"
done
grep -aq fake_lent "$OUT/fake-xen/xen-privcmd.ko" && ! grep -aq fake_lent "$OUT/xen-privcmd.ko" ||
    die "the fake-xen switch did not take"
echo "build.sh: $OUT/xen-privcmd.ko (and fake-xen/) for $KVER (Debian $VER)" >&2
