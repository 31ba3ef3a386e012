#!/bin/bash
# Build (or reuse) the images the real-Xen end-to-end harness boots under QEMU:
#
#   cache/host-KEY/      xen (multiboot ELF), vmlinuz, the dom0 kernel modules we need
#   cache/lendmod-KEY/   xen-privcmd.ko with the lending ioctls (upstream/linux/build.sh),
#                        and fake-xen/xen-privcmd.ko, its test build that needs no lending Xen
#   cache/dom0-KEY/      dom0.cpio: Debian bookworm minbase + Xen 4.17 tools + qemu-system-xen,
#                        libvirtd with its libxl driver and virsh
#   cache/guest-KEY/     guest.cpio.gz (busybox + the static test program), e2e-guest
#   cache/libxl-KEY/     libxenlight.so.4.17.0 with upstream/xen's PVH PCI root (patch 8),
#                        built by upstream/xen/build.sh --libxl
#   cache/overlay-KEY.cpio   dom0's /init, the cases, lendtest, the guest kernel and initramfs,
#                        the patched libxenlight under /e2e/libxl
#   cache/xenlend-KEY/   (--xen-lend only) the hypervisor with the lending series,
#                        built by upstream/xen/build.sh: xen, xen-syms, xen.config, info
#   cache/images.env     paths and keys of the current images, sourced by run.sh
#
# Each layer has its own cache key (package versions, hashes of the files it is built
# from) and is rebuilt only when its key changes. The daemon is NOT part of any layer:
# run.sh appends it on every run as a small extra cpio archive.
#
# usage: build-images.sh [--force] [--xen-lend]      (E2E_CACHE=DIR to move the cache)
#   --xen-lend   also build (or reuse) the patched hypervisor (layer xenlend, ~6 min
#                cold on 2 cores); without it images.env has no E2E_XEN_LEND
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${E2E_CACHE:-$HERE/cache}
FORCE=0 XENLEND=0
for a in "$@"; do
    case $a in
    --force) FORCE=1 ;;
    --xen-lend) XENLEND=1 ;;
    *) echo "build-images: unknown argument $a" >&2; exit 2 ;;
    esac
done
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)
export DEBIAN_FRONTEND=noninteractive LC_ALL=C

T0=${EPOCHREALTIME/[.,]/}
say() { local t=${EPOCHREALTIME/[.,]/}; printf '[build %4d.%01ds] %s\n' $(((t - T0) / 1000000)) $(((t - T0) / 100000 % 10)) "$*" >&2; }
die() { echo "build-images: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, chroot)"
for c in debootstrap cpio gzip dpkg-deb apt-get gcc sha256sum; do
    command -v $c >/dev/null || die "missing command $c (scripts/ensure-deps.sh e2e)"
done

# ---------------------------------------------------------------- versions
candidate() { apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/{print $2; exit}'; }
installed() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || true; }
if [ -z "$(candidate xen-hypervisor-4.17-amd64)" ] || [ "$(candidate xen-hypervisor-4.17-amd64)" = "(none)" ]; then
    say "apt-get update (no package lists)"
    apt-get update -q >/dev/null
fi
# The Xen tools in dom0 and the hypervisor must be the version the daemon was built
# against (the host's libxen-dev): the dm_op/foreignmemory ABIs are checked by version.
XENVER=$(installed libxen-dev)
[ -n "$XENVER" ] || die "libxen-dev is not installed on the host (scripts/ensure-deps.sh build)"
KPKG=$(apt-cache depends linux-image-amd64 | sed -n 's/.*Depends: \(linux-image-[0-9][^ ]*\)/\1/p' | head -1)
[ -n "$KPKG" ] || die "cannot resolve linux-image-amd64"
KVER=${KPKG#linux-image-}
KPKGVER=$(candidate "$KPKG")
QEMUXENVER=$(candidate qemu-system-xen)
BUSYBOXVER=$(installed busybox-static)
[ -n "$BUSYBOXVER" ] || die "busybox-static is not installed (scripts/ensure-deps.sh e2e)"
LIBEVVER=$(candidate libev4); LIBPCIVER=$(candidate libpci3); JQVER=$(candidate jq)
LIBVIRTVER=$(candidate libvirt-daemon-driver-xen)
GCCVER=$(gcc -dumpfullversion)

hash_files() { (cd "$HERE" && sha256sum "$@" | sha256sum | cut -c1-16); }
hash_str() { printf '%s\n' "$@" | sha256sum | cut -c1-16; }
# The hash of this script's own section for layer N (so editing one layer's recipe
# rebuilds that layer only).
layer_hash() { sed -n "/^# -\{10,\} layer $1:/,/^# -\{10,\} layer/p" "$HERE/build-images.sh" | sha256sum | cut -c1-16; }

HOST_KEY=$(hash_str "xen=$XENVER" "kernel=$KPKG=$KPKGVER" "$(layer_hash 1)")
DOM0_KEY=$(hash_str "$HOST_KEY" "xen-utils=$XENVER" "qemu-system-xen=$QEMUXENVER" \
    "libev4=$LIBEVVER" "libpci3=$LIBPCIVER" "jq=$JQVER" "libvirt=$LIBVIRTVER" "$(layer_hash 2)")
GUEST_SRCS=(guest/e2e-guest.c guest/lend-guest.c guest/pattern.h ../sim/harness/pattern.h guest/init)
GUEST_KEY=$(hash_str "busybox=$BUSYBOXVER" "gcc=$GCCVER" "$(hash_files "${GUEST_SRCS[@]}")" "$(layer_hash 3)")
LENDMOD_SRCS=(../../upstream/linux/{build.sh,Kbuild,privcmd-glue.patch,privcmd-lend.c,privcmd-lend-uapi.h,check-abi.c}
              ../../ioreq-lend/lend_abi.h)
LENDMOD_KEY=$(hash_str "kernel=$KPKG=$KPKGVER" "gcc=$GCCVER" "$(hash_files "${LENDMOD_SRCS[@]}")" "$(layer_hash lendmod)")
# The Xen source versions apt offers (the libxl layer, and the xenlend layer below):
# private deb-src lists, refreshed once a day (a mirror drops old sources).
XL=$HERE/../../upstream/xen
APTD=$CACHE/xen-src-apt
find "$APTD/lists" -maxdepth 1 -name '*_Sources*' -mtime +0 -delete 2>/dev/null || true
SRCVERS=$("$XL/build.sh" --apt-dir "$APTD" --source-versions | tr '\n' ' ')
[ -n "$SRCVERS" ] || die "apt offers no xen source package (private deb-src lists in $APTD)"
XLPATCHES=$(cd "$XL" && sha256sum build.sh patches/series patches/*.patch | sha256sum)
LIBXL_KEY=$(hash_str "sources=$SRCVERS" "gcc=$GCCVER" "$XLPATCHES" "$(layer_hash libxl)")
mapfile -t OVERLAY_SRCS < <(cd "$HERE" && ls dom0-init.sh lib.sh cases/*.sh dom0/*.c ../../bench/uffd_anchor.c)
OVERLAY_KEY=$(hash_str "$HOST_KEY" "$GUEST_KEY" "$LENDMOD_KEY" "$LIBXL_KEY" "gcc=$GCCVER" "$(hash_files "${OVERLAY_SRCS[@]}")" \
    "$(layer_hash 4)")

HOSTD=$CACHE/host-$HOST_KEY
DOM0D=$CACHE/dom0-$DOM0_KEY
GUESTD=$CACHE/guest-$GUEST_KEY
LENDD=$CACHE/lendmod-$LENDMOD_KEY
LIBXLD=$CACHE/libxl-$LIBXL_KEY
OVERLAY=$CACHE/overlay-$OVERLAY_KEY.cpio

if [ $FORCE = 1 ]; then rm -rf "$HOSTD" "$DOM0D" "$GUESTD" "$LENDD" "$LIBXLD" "$OVERLAY"; fi

# Remove stale layers of the same kind so the cache does not grow without bound.
prune() { # prune PREFIX KEEP
    local p
    for p in "$CACHE"/$1-*; do
        [ -e "$p" ] && [ "$p" != "$2" ] && { say "pruning stale $(basename "$p")"; rm -rf "$p"; }
    done
    return 0
}

# ---------------------------------------------------------------- layer 1: hypervisor + kernel
if [ ! -f "$HOSTD/.done" ]; then
    say "layer host ($HOST_KEY): xen-hypervisor-4.17-amd64=$XENVER, $KPKG=$KPKGVER"
    rm -rf "$HOSTD" && mkdir -p "$HOSTD" "$CACHE/debs"
    (cd "$CACHE/debs" &&
        { ls xen-hypervisor-4.17-amd64_"${XENVER//:/%3a}"_*.deb >/dev/null 2>&1 ||
            apt-get download -q -o APT::Sandbox::User=root "xen-hypervisor-4.17-amd64=$XENVER" >/dev/null; } &&
        { ls "${KPKG}_${KPKGVER//:/%3a}"_*.deb >/dev/null 2>&1 ||
            apt-get download -q -o APT::Sandbox::User=root "$KPKG=$KPKGVER" >/dev/null; }) ||
        die "apt-get download of the hypervisor or kernel failed"
    X=$HOSTD/x; K=$HOSTD/k
    dpkg-deb -x "$CACHE"/debs/xen-hypervisor-4.17-amd64_"${XENVER//:/%3a}"_*.deb "$X"
    dpkg-deb -x "$CACHE"/debs/"${KPKG}_${KPKGVER//:/%3a}"_*.deb "$K"
    # The .gz is an ELF32 multiboot1 image once gunzipped: QEMU -kernel loads it.
    gunzip -c "$X"/boot/xen-4.17-amd64.gz > "$HOSTD/xen"
    cp "$K/boot/vmlinuz-$KVER" "$HOSTD/vmlinuz"
    # dom0 needs only Xen's backend/frontend modules; keep just those.
    M=$HOSTD/modules/lib/modules/$KVER
    mkdir -p "$M/kernel/drivers/block" "$M/kernel/drivers/net"
    cp -a "$K/lib/modules/$KVER/kernel/drivers/xen" "$M/kernel/drivers/"
    cp -a "$K/lib/modules/$KVER/kernel/drivers/block/xen-blkback" "$M/kernel/drivers/block/"
    cp -a "$K/lib/modules/$KVER/kernel/drivers/net/xen-netback" "$M/kernel/drivers/net/"
    # zram swap for lending's page-out tests (zram.ko needs zsmalloc.ko): 140 KB.
    mkdir -p "$M/kernel/mm"
    cp -a "$K/lib/modules/$KVER/kernel/drivers/block/zram" "$M/kernel/drivers/block/"
    cp "$K/lib/modules/$KVER/kernel/mm/zsmalloc.ko" "$M/kernel/mm/"
    cp "$K/lib/modules/$KVER"/modules.builtin* "$K/lib/modules/$KVER/modules.order" "$M/"
    rm -rf "$X" "$K"
    printf 'xen=%s\nkernel=%s=%s\n' "$XENVER" "$KPKG" "$KPKGVER" > "$HOSTD/versions"
    touch "$HOSTD/.done"
    prune host "$HOSTD"
    rm -f "$CACHE"/debs/*.deb.tmp
    # Keep only the debs of the current versions.
    find "$CACHE/debs" -name '*.deb' ! -name "xen-hypervisor-4.17-amd64_${XENVER//:/%3a}_*" \
        ! -name "${KPKG}_${KPKGVER//:/%3a}_*" -delete
    say "layer host done"
else
    say "layer host ($HOST_KEY) cached"
fi

# ---------------------------------------------------------------- layer 2: dom0 root
if [ ! -f "$DOM0D/.done" ]; then
    say "layer dom0 ($DOM0_KEY): debootstrap bookworm minbase + xen-utils-4.17=$XENVER qemu-system-xen=$QEMUXENVER"
    rm -rf "$DOM0D" && mkdir -p "$DOM0D"
    R=$DOM0D/root
    # The host's own Debian mirror (no host names in this script).
    MIRROR=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    [ -n "$MIRROR" ] || MIRROR=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
    [ -n "$MIRROR" ] || die "cannot find the host's Debian mirror"
    debootstrap --variant=minbase --include=busybox,kmod,procps bookworm "$R" "$MIRROR" \
        > "$DOM0D/debootstrap.log" 2>&1 || { tail -20 "$DOM0D/debootstrap.log" >&2; die "debootstrap failed"; }
    say "debootstrap done"
    rm -f "$R/etc/apt/sources.list"
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
        cp /etc/apt/sources.list.d/debian.sources "$R/etc/apt/sources.list.d/"
    else
        cp /etc/apt/sources.list "$R/etc/apt/sources.list"
    fi
    # Never start services inside the chroot.
    printf '#!/bin/sh\nexit 101\n' > "$R/usr/sbin/policy-rc.d"; chmod +x "$R/usr/sbin/policy-rc.d"
    # Exact versions: the tools and libraries the host's daemon was linked against.
    PKGS=(xen-utils-4.17="$XENVER" xenstore-utils="$XENVER" qemu-system-xen
          libxendevicemodel1="$XENVER" libxenevtchn1="$XENVER" libxenforeignmemory1="$XENVER"
          libxentoolcore1="$XENVER" libxencall1="$XENVER" libxengnttab1="$XENVER"
          libev4 libpci3 jq
          # The libvirt case: libvirtd with its libxl driver, and virsh.
          libvirt-daemon libvirt-daemon-driver-xen libvirt-clients)
    chroot "$R" sh -c "apt-get update -q && apt-get install -y -q --no-install-recommends ${PKGS[*]} && apt-get clean" \
        > "$DOM0D/apt.log" 2>&1 || { tail -20 "$DOM0D/apt.log" >&2; die "apt-get install in the dom0 root failed"; }
    rm -f "$R/usr/sbin/policy-rc.d"
    got=$(chroot "$R" dpkg-query -W -f='${Version}' libxendevicemodel1)
    [ "$got" = "$XENVER" ] || die "dom0 got libxendevicemodel1 $got, host has libxen-dev $XENVER"
    chroot "$R" dpkg-query -W -f='${Package} ${Version}\n' xen-utils-4.17 xenstore-utils qemu-system-xen \
        libxendevicemodel1 libev4 libpci3 jq libvirt-daemon-driver-xen > "$DOM0D/versions"
    # Slim it: nothing here is needed to run Xen's tools.
    rm -rf "$R"/usr/share/{doc,man,info,locale,lintian,bash-completion} "$R"/var/lib/apt/lists/* \
        "$R"/var/cache/apt/*.bin "$R"/var/cache/debconf/*-old "$R"/var/log/*.log
    # Kernel modules: Xen's drivers only (the kernel image is shared with the guest).
    mkdir -p "$R/usr/lib/modules" && cp -a "$HOSTD/modules/lib/modules/$KVER" "$R/usr/lib/modules/"
    chroot "$R" depmod "$KVER"
    # debootstrap or a package script may leave the host's /proc mounted in the root
    # (its umount fails while anything reads there): never pack the host's /proc.
    for m in proc sys dev/pts; do
        mountpoint -q "$R/$m" && umount -l "$R/$m"
    done
    (cd "$R" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet > "$DOM0D/dom0.cpio")
    (cd "$R" && find . -mindepth 1 | sed 's|^\.||' > "$DOM0D/dom0.files")
    rm -rf "$R"   # the cpio is all we boot; keep the cache small
    touch "$DOM0D/.done"
    prune dom0 "$DOM0D"
    say "layer dom0 done ($(du -m "$DOM0D/dom0.cpio" | cut -f1) MiB)"
else
    say "layer dom0 ($DOM0_KEY) cached"
fi

# ---------------------------------------------------------------- layer 3: guest initramfs
if [ ! -f "$GUESTD/.done" ]; then
    say "layer guest ($GUEST_KEY): busybox $BUSYBOXVER, e2e-guest (gcc $GCCVER -static)"
    rm -rf "$GUESTD" && mkdir -p "$GUESTD/root"/{bin,proc,sys,dev,tmp}
    gcc -static -O2 -g0 -Wall -Wextra -Werror -pthread -I"$HERE/guest" \
        -o "$GUESTD/e2e-guest" "$HERE/guest/e2e-guest.c"
    gcc -static -O2 -g0 -Wall -Wextra -Werror -o "$GUESTD/lend-guest" "$HERE/guest/lend-guest.c"
    cp "$GUESTD/e2e-guest" "$GUESTD/lend-guest" "$GUESTD/root/bin/"
    cp "$(command -v busybox)" "$GUESTD/root/bin/busybox"
    install -m 755 "$HERE/guest/init" "$GUESTD/root/init"
    (cd "$GUESTD/root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1 > "$GUESTD/guest.cpio.gz")
    rm -rf "$GUESTD/root"
    touch "$GUESTD/.done"
    prune guest "$GUESTD"
    say "layer guest done"
else
    say "layer guest ($GUEST_KEY) cached"
fi

# ---------------------------------------------------------------- layer lendmod: privcmd with lending
# Debian's privcmd plus upstream/linux/, built on the host against linux-headers-$KVER
# (installed by build.sh if missing); Debian's sources are cached in cache/linux-src.
if [ ! -f "$LENDD/.done" ]; then
    say "layer lendmod ($LENDMOD_KEY): xen-privcmd.ko with lending for $KVER"
    rm -rf "$LENDD"
    "$HERE/../../upstream/linux/build.sh" "$KVER" "$LENDD" "$CACHE/linux-src" ||
        die "upstream/linux/build.sh failed"
    touch "$LENDD/.done"
    prune lendmod "$LENDD"
    say "layer lendmod done"
else
    say "layer lendmod ($LENDMOD_KEY) cached"
fi

# ---------------------------------------------------------------- layer libxl: the PVH PCI root
# Debian's libxenlight with upstream/xen's patch 8 (a PCI root in the PVH DSDT), from
# the same source and series as the xenlend layer. Only the PVH cases use it
# (lib.sh's pvh_cfg: LD_LIBRARY_PATH=/e2e/libxl); dom0's other tools stay Debian's.
if [ ! -f "$LIBXLD/.done" ]; then
    say "layer libxl ($LIBXL_KEY): libxenlight from Debian's xen source ($SRCVERS) + the series (about a minute)"
    rm -rf "$LIBXLD"
    "$XL/build.sh" --libxl --apt-dir "$APTD" --jobs 2 "$LIBXLD" || die "the libxl build failed (see $LIBXLD/build.log)"
    touch "$LIBXLD/.done"
    prune libxl "$LIBXLD"
    say "layer libxl done: $(tr '\n' ' ' < "$LIBXLD/info")"
else
    say "layer libxl ($LIBXL_KEY) cached"
fi

# ---------------------------------------------------------------- layer 4: harness overlay
if [ ! -f "$OVERLAY" ]; then
    say "layer overlay ($OVERLAY_KEY): dom0 /init, cases, guest images"
    O=$(mktemp -d "$CACHE/overlay.XXXXXX")
    mkdir -p "$O/e2e/cases" "$O/e2e/guest" "$O/e2e/modules" "$O/e2e/bin"
    install -m 755 "$HERE/dom0-init.sh" "$O/init"
    install -m 644 "$HERE/lib.sh" "$O/e2e/lib.sh"
    install -m 755 "$HERE"/cases/*.sh "$O/e2e/cases/"
    # dom0-init.sh loads it instead of Debian's privcmd unless run.sh --privcmd stock.
    install -m 644 "$LENDD/xen-privcmd.ko" "$O/e2e/modules/xen-privcmd.ko"
    install -D -m 644 "$LENDD/fake-xen/xen-privcmd.ko" "$O/e2e/modules/fake-xen/xen-privcmd.ko"
    # Under its soname: the PVH cases' xl finds it through LD_LIBRARY_PATH.
    install -D -m 644 "$LIBXLD/libxenlight.so.4.17.0" "$O/e2e/libxl/libxenlight.so.4.17"
    # dom0's test programs: static, against the host's libxen-dev (= dom0's tools).
    gcc -static -O2 -g0 -Wall -Wextra -Werror -o "$O/e2e/bin/lendtest" "$HERE/dom0/lendtest.c" \
        -lxenctrl -lxenforeignmemory -lxendevicemodel -lxenevtchn -lxencall -lxengnttab \
        -lxentoolcore -lxentoollog
    gcc -static -O2 -g0 -Wall -Wextra -Werror -I"$HERE/../../upstream/linux" \
        -o "$O/e2e/bin/lend-test" "$HERE/dom0/lend-test.c"
    # libvirtd's preload under TCG (the libvirt case; the file says why).
    gcc -shared -fPIC -O2 -g0 -Wall -Wextra -Werror -o "$O/e2e/bin/libvirt-physinfo-shim.so" \
        "$HERE/dom0/libvirt-physinfo-shim.c" -ldl
    # The benchmarks' userfaultfd anchor, for lend-mm's same-boot comparison.
    gcc -static -O2 -g0 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror \
        -o "$O/e2e/bin/uffd-anchor" "$HERE/../../bench/uffd_anchor.c" -lpthread
    cp "$HOSTD/vmlinuz" "$O/e2e/guest/vmlinuz"
    cp "$GUESTD/guest.cpio.gz" "$O/e2e/guest/guest.cpio.gz"
    printf 'host=%s dom0=%s guest=%s lendmod=%s overlay=%s\n' "$HOST_KEY" "$DOM0_KEY" "$GUEST_KEY" \
        "$LENDMOD_KEY" "$OVERLAY_KEY" \
        > "$O/e2e/image-keys"
    (cd "$O" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet > "$OVERLAY.tmp")
    rm -rf "$O"
    mv "$OVERLAY.tmp" "$OVERLAY"
    for p in "$CACHE"/overlay-*.cpio; do [ "$p" != "$OVERLAY" ] && rm -f "$p"; done
    say "layer overlay done"
else
    say "layer overlay ($OVERLAY_KEY) cached"
fi

# ---------------------------------------------------------------- layer 5: xenlend
# The hypervisor with upstream/xen/patches, from Debian's source package (the version
# apt offers that downloads: build.sh --source-versions lists them) and Debian's own
# config of the hypervisor package layer 1 unpacked. Built only for --xen-lend.
XENLEND_ENV=""
if [ $XENLEND = 1 ]; then
    for c in flex bison dpkg-source patch python3; do
        command -v $c >/dev/null || die "missing command $c (scripts/ensure-deps.sh e2e)"
    done
    XCONF=$CACHE/xen-4.17-amd64.config
    dpkg-deb --fsys-tarfile "$CACHE"/debs/xen-hypervisor-4.17-amd64_"${XENVER//:/%3a}"_*.deb |
        tar -xO ./boot/xen-4.17-amd64.config > "$XCONF" || die "no hypervisor config in the layer 1 deb"
    XENLEND_KEY=$(hash_str "sources=$SRCVERS" "config=$(sha256sum < "$XCONF")" "gcc=$GCCVER" \
        "$XLPATCHES" "$(layer_hash 5)")
    XLD=$CACHE/xenlend-$XENLEND_KEY
    [ $FORCE = 1 ] && rm -rf "$XLD"
    if [ ! -f "$XLD/.done" ]; then
        say "layer xenlend ($XENLEND_KEY): Debian's xen source ($SRCVERS) + $(grep -c '\.patch$' "$XL/patches/series") patches (a few minutes)"
        rm -rf "$XLD"
        "$XL/build.sh" --apt-dir "$APTD" --config "$XCONF" --jobs 2 "$XLD" || die "the hypervisor build failed (see $XLD/build.log)"
        touch "$XLD/.done"
        prune xenlend "$XLD"
        say "layer xenlend done: $(tr '\n' ' ' < "$XLD/info")"
    else
        say "layer xenlend ($XENLEND_KEY) cached: $(tr '\n' ' ' < "$XLD/info")"
    fi
    XENLEND_ENV="E2E_XEN_LEND=$XLD/xen
E2E_XEN_LEND_INFO=\"$(tr '\n' ' ' < "$XLD/info" | sed 's/ $//')\""
fi

# ---------------------------------------------------------------- layer end: images.env
cat > "$CACHE/images.env.tmp" <<EOF
# written by build-images.sh
E2E_XEN=$HOSTD/xen
E2E_VMLINUZ=$HOSTD/vmlinuz
E2E_DOM0_CPIO=$DOM0D/dom0.cpio
E2E_OVERLAY_CPIO=$OVERLAY
E2E_GUEST_BIN=$GUESTD/e2e-guest
E2E_LENDMOD=$LENDD/xen-privcmd.ko
E2E_KEYS="host=$HOST_KEY dom0=$DOM0_KEY guest=$GUEST_KEY lendmod=$LENDMOD_KEY overlay=$OVERLAY_KEY"
E2E_VERSIONS="xen=$XENVER kernel=$KPKGVER($KVER) qemu-system-xen=$QEMUXENVER busybox=$BUSYBOXVER"
$XENLEND_ENV
EOF
mv "$CACHE/images.env.tmp" "$CACHE/images.env"
say "images ready"
