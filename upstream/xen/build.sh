#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Build Debian's Xen 4.17 hypervisor with the lending series (patches/series).
#
# usage: upstream/xen/build.sh [--config FILE] [--apt-dir DIR] [--jobs N] OUTDIR
#        upstream/xen/build.sh --libxl [--apt-dir DIR] [--jobs N] OUTDIR
#        upstream/xen/build.sh --source-versions [--apt-dir DIR]
#
#   OUTDIR/xen          the multiboot ELF (what QEMU's -kernel or GRUB's multiboot loads)
#   OUTDIR/xen-syms     the same with symbols (addr2line on a crash)
#   OUTDIR/xen.config   the .config it was built with
#   OUTDIR/info         source_version= xen_version= gcc= build_s= patches=
#   OUTDIR/build.log    make's output
#
# --libxl: build the toolstack's libraries instead (tools/libs, with patch 8's PVH
# DSDT) and keep only OUTDIR/libxenlight.so.4.17.0, for a dom0 whose other tools stay
# Debian's (it needs autoconf, iasl and the -dev packages tools/configure checks for).
#
# The source is Debian's `xen` source package, fetched with apt-get source through a
# private apt state (DIR, default OUTDIR/.apt: a deb-src sources file made from the
# host's, and its own lists and cache), so the host's apt configuration and lists are
# never touched. apt's own choice is tried first; if the mirror no longer serves it
# (security uploads are often binary-only on mirrors), the other versions apt lists
# are tried, newest first. Debian's patches are applied (dpkg-source -x), then ours.
#
# --config FILE: the hypervisor .config to start from (default: /boot/xen-4.17-amd64.config
# of the xen-hypervisor-4.17-amd64 package apt offers, downloaded); `make olddefconfig`
# then fills in anything new. The version says -lend (XEN_VENDORVERSION), e.g. 4.17.5-lend.
#
# --source-versions: print the source versions apt offers (newest first) and exit.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CONFIG="" APTDIR="" JOBS=2 OUT="" LIST=0 LIBXL=0
while [ $# -gt 0 ]; do
    case $1 in
    --config) CONFIG=$(realpath "$2"); shift ;;
    --apt-dir) APTDIR=$2; shift ;;
    --jobs) JOBS=$2; shift ;;
    --source-versions) LIST=1 ;;
    --libxl) LIBXL=1 ;;
    -h|--help) sed -n '3,29p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "build.sh: unknown option $1" >&2; exit 2 ;;
    *) OUT=$1 ;;
    esac
    shift
done
die() { echo "upstream/xen/build.sh: $*" >&2; exit 1; }
[ $LIST = 1 ] || [ -n "$OUT" ] || die "usage: build.sh [--config FILE | --libxl] [--apt-dir DIR] [--jobs N] OUTDIR"
if [ -n "$OUT" ]; then
    mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd)
fi
APTDIR=${APTDIR:-$OUT/.apt}
mkdir -p "$APTDIR"; APTDIR=$(cd "$APTDIR" && pwd)
export LC_ALL=C DEBIAN_FRONTEND=noninteractive
for c in apt-get apt-cache dpkg-source dpkg-deb patch make gcc flex bison; do
    command -v $c >/dev/null || die "missing command $c (scripts/ensure-deps.sh e2e)"
done

# ------------------------------------------------------------ private apt state
mkdir -p "$APTDIR"/lists/partial "$APTDIR"/cache/archives/partial
if [ ! -s "$APTDIR/sources" ]; then
    # The host's own mirrors and suites, as deb-src (deb822 or one-line format).
    if compgen -G '/etc/apt/sources.list.d/*.sources' >/dev/null; then
        sed 's/^Types:.*/Types: deb-src/' /etc/apt/sources.list.d/*.sources > "$APTDIR/sources"
    elif [ -f /etc/apt/sources.list ]; then
        sed -n 's/^deb \(.*\)/deb-src \1/p' /etc/apt/sources.list > "$APTDIR/sources.list"
        : > "$APTDIR/sources"
    fi
fi
APT=(-o Dir::Etc::SourceList="$APTDIR/sources.list" -o Dir::Etc::SourceParts=/dev/null
     -o Dir::State::Lists="$APTDIR/lists" -o Dir::Cache="$APTDIR/cache"
     -o APT::Sandbox::User=root)
if [ -s "$APTDIR/sources" ]; then
    # deb822 files are only read from a SourceParts directory.
    mkdir -p "$APTDIR/parts"; cp "$APTDIR/sources" "$APTDIR/parts/debian-src.sources"
    APT=(-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$APTDIR/parts"
         -o Dir::State::Lists="$APTDIR/lists" -o Dir::Cache="$APTDIR/cache"
         -o APT::Sandbox::User=root)
fi
if ! compgen -G "$APTDIR/lists/*_Sources*" >/dev/null; then
    apt-get "${APT[@]}" -q update >/dev/null 2>"$APTDIR/update.err" ||
        { cat "$APTDIR/update.err" >&2; die "apt-get update of the private deb-src lists failed"; }
fi
# Every version of the source apt knows, newest first.
versions() {
    apt-cache "${APT[@]}" showsrc xen 2>/dev/null | awk '$1 == "Package:" {p = $2} $1 == "Version:" && p == "xen" {print $2}' |
        sort -u | sort -r -V
}
if [ $LIST = 1 ]; then versions; exit 0; fi

T0=$(date +%s.%N)
WORK=$OUT/work
rm -rf "$WORK" && mkdir -p "$WORK/dl"
# ------------------------------------------------------------ source
cd "$WORK/dl"
got=""
if apt-get "${APT[@]}" -q source --download-only xen >"$WORK/source.log" 2>&1; then
    got=$(ls xen_*.dsc)
else
    echo "build.sh: apt's choice of the xen source did not download (see below); trying the other versions apt lists" >&2
    grep -E '^E:' "$WORK/source.log" | head -3 >&2
    for v in $(versions); do
        rm -f ./*
        if apt-get "${APT[@]}" -q source --download-only "xen=$v" >>"$WORK/source.log" 2>&1; then
            got=$(ls xen_*.dsc); break
        fi
    done
fi
[ -n "$got" ] || die "no version of the xen source package could be downloaded (see $WORK/source.log)"
SRCVER=$(sed -n 's/^Version: //p' "$got")
echo "build.sh: xen source $SRCVER" >&2
# With Debian's patches: the hypervisor is then Debian's plus ours (see README.md).
dpkg-source -x "$got" "$WORK/src" >"$WORK/dpkg-source.log" 2>&1 ||
    { tail -5 "$WORK/dpkg-source.log" >&2; die "dpkg-source -x failed"; }
cd "$WORK/src"
while read -r p; do
    case $p in ''|'#'*) continue ;; esac
    patch -p1 --batch --forward < "$HERE/patches/$p" > "$WORK/patch.log" 2>&1 ||
        { cat "$WORK/patch.log" >&2; die "patch $p does not apply to xen $SRCVER"; }
done < "$HERE/patches/series"

# The end of either build: OUTDIR/info (with EXTRA lines), the work tree gone.
finish_build() {
    local t1 line
    t1=$(date +%s.%N)
    {
        echo "source_version=$SRCVER"
        for line in "$@"; do echo "$line"; done
        echo "gcc=$(gcc -dumpfullversion)"
        echo "build_s=$(awk -v a="$T0" -v b="$t1" 'BEGIN{printf "%.0f", b - a}')"
        echo "patches=$(grep -c '\.patch$' "$HERE/patches/series")"
    } > "$OUT/info"
    cd "$OUT" && rm -rf "$WORK"
    cat "$OUT/info" >&2
}
# ------------------------------------------------------------ libxl
if [ $LIBXL = 1 ]; then
    for c in autoconf iasl pkg-config; do
        command -v $c >/dev/null || die "missing command $c (scripts/ensure-deps.sh e2e)"
    done
    # Debian's delta removes the generated configure scripts and config.{sub,guess}.
    cp /usr/share/misc/config.sub /usr/share/misc/config.guess .
    ./autogen.sh > "$OUT/build.log" 2>&1 || { tail -5 "$OUT/build.log" >&2; die "autogen.sh failed"; }
    # As Debian's rules configure the tools (the paths libxl compiles in: hvmloader in
    # /usr/lib/xen-4.17/boot, Debian's QEMU, SeaBIOS and OVMF), less what a library
    # build never uses.
    ./configure --prefix=/usr --includedir=/usr/include --libdir=/usr/lib/x86_64-linux-gnu \
        --with-libexec-libdir-suffix=/x86_64-linux-gnu --sysconfdir=/etc --localstatedir=/var \
        --with-libexec-leaf-dir=xen-4.17 --disable-stubdom \
        --disable-qemu-traditional --disable-rombios --disable-ipxe \
        --with-system-qemu=/usr/libexec/xen-qemu-system-i386 \
        --enable-ovmf --with-system-ovmf=/usr/share/ovmf/OVMF.fd \
        --with-system-seabios=/usr/share/seabios/bios-256k.bin \
        --disable-pvshim --disable-docs --disable-ocamltools --disable-xsmpolicy \
        --disable-systemd >> "$OUT/build.log" 2>&1 ||
        { tail -5 "$OUT/build.log" >&2; die "tools/configure failed (see $OUT/build.log)"; }
    for d in tools/include tools/libs; do
        make -C $d -j"$JOBS" XEN_TARGET_ARCH=x86_64 >> "$OUT/build.log" 2>&1 ||
            { grep -E 'error|Error' "$OUT/build.log" | head -20 >&2; die "make -C $d failed (see $OUT/build.log)"; }
    done
    grep -q PNP0A03 tools/libs/light/dsdt_pvh.asl || die "the PVH DSDT has no PCI root: is patch 8 applied?"
    cp tools/libs/light/libxenlight.so.4.17.0 "$OUT/"
    finish_build
    exit 0
fi
# ------------------------------------------------------------ config
if [ -z "$CONFIG" ]; then
    (cd "$WORK/dl" && apt-get -q -o APT::Sandbox::User=root download xen-hypervisor-4.17-amd64 >/dev/null) ||
        die "apt-get download xen-hypervisor-4.17-amd64 failed (or pass --config)"
    dpkg-deb -x "$WORK"/dl/xen-hypervisor-4.17-amd64_*.deb "$WORK/hv"
    CONFIG=$WORK/hv/boot/xen-4.17-amd64.config
fi
[ -s "$CONFIG" ] || die "no config $CONFIG"
cp "$CONFIG" xen/.config
MAKEARGS=(XEN_TARGET_ARCH=x86_64 XEN_VENDORVERSION=-lend
          DEB_VERSION="$SRCVER" DEB_MAINTAINER="$(sed -n 's/^Maintainer: //p' debian/control)")
make -C xen olddefconfig "${MAKEARGS[@]}" > "$OUT/build.log" 2>&1 ||
    { tail -20 "$OUT/build.log" >&2; die "make olddefconfig failed"; }

# ------------------------------------------------------------ build
make -C xen -j"$JOBS" "${MAKEARGS[@]}" >> "$OUT/build.log" 2>&1 ||
    { grep -E 'error|Error' "$OUT/build.log" | head -20 >&2; die "the hypervisor build failed (see $OUT/build.log)"; }
# QEMU -kernel (multiboot) wants the ELF32 image: check its header (\x7fELF, class 1).
[ "$(od -An -c -N5 xen/xen | tr -d ' ')" = '177ELF001' ] || die "xen/xen is not an ELF32 image"
XENVERSION=$(make -s -C xen xenversion "${MAKEARGS[@]}")
cp xen/xen xen/xen-syms "$OUT/"
cp xen/.config "$OUT/xen.config"
finish_build "xen_version=$XENVERSION"
