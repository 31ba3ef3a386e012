#!/bin/bash
# Install the Debian packages a make target needs, but only those missing.
# usage: ensure-deps.sh GROUP...   (groups: build check deb demo fuzz bench e2e)
# Run as root on a fresh Debian 12 machine it apt-get installs what is missing;
# as another user it names the missing packages and fails.
set -u

have_pc()  { pkg-config --exists "$1" 2>/dev/null; }
have_cmd() { command -v "$1" >/dev/null 2>&1; }
have_hdr() { [ -e "/usr/include/$1" ]; }
have_deb() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]; }
have_clang_rt() { compgen -G "/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.$1-x86_64.a" >/dev/null; }

missing=()
need() { # need PACKAGE TEST...
    local pkg=$1; shift
    "$@" || missing+=("$pkg")
}

for group in "${@:-build}"; do
    case $group in
    build)
        need build-essential have_cmd gcc
        need make have_cmd make
        need pkg-config have_cmd pkg-config
        need libxen-dev have_pc xendevicemodel
        need libpci-dev have_pc libpci
        need libev-dev have_hdr ev.h
        ;;
    check)
        need libcmocka-dev have_pc cmocka
        need pciutils have_cmd lspci
        need clang have_cmd clang
        need libclang-rt-14-dev have_clang_rt asan
        need valgrind have_cmd valgrind
        need spin have_cmd spin
        need python3 have_cmd python3
        need groff-base have_cmd groff
        need man-db have_cmd man
        need util-linux have_cmd setpriv
        ;;
    deb) # make deb (dpkg-buildpackage with debhelper), lintian
        need dpkg-dev have_cmd dpkg-buildpackage
        need debhelper have_cmd dh
        need lintian have_cmd lintian
        ;;
    demo) ;;
    fuzz)
        need clang have_cmd clang
        need libclang-rt-14-dev have_clang_rt fuzzer
        ;;
    bench)
        need gnuplot-nox have_cmd gnuplot
        need python3 have_cmd python3
        ;;
    e2e)
        need qemu-system-x86 have_cmd qemu-system-x86_64
        need debootstrap have_cmd debootstrap
        need busybox-static have_cmd busybox
        need cpio have_cmd cpio
        need perl have_cmd perl
        # run.sh --xen lend: the hypervisor built from Debian's source (upstream/xen/build.sh)
        need flex have_cmd flex
        need bison have_cmd bison
        need dpkg-dev have_cmd dpkg-source
        need patch have_cmd patch
        # upstream/linux/build.sh: Debian's kernel headers (it installs the exact
        # linux-headers-KVER of the dom0 kernel itself), patch, xz for linux-source.
        need linux-headers-amd64 have_deb linux-headers-amd64
        need xz-utils have_cmd xz
        # upstream/xen/build.sh --libxl: what tools/configure checks for, and iasl.
        need autoconf have_cmd autoconf
        need acpica-tools have_cmd iasl
        need pkg-config have_cmd pkg-config
        need uuid-dev have_hdr uuid/uuid.h
        need libyajl-dev have_hdr yajl/yajl_gen.h
        need zlib1g-dev have_hdr zlib.h
        need libncurses-dev have_hdr ncurses.h
        need python3-dev have_cmd python3-config
        ;;
    *) echo "ensure-deps: unknown group '$group'" >&2; exit 2 ;;
    esac
done

[ ${#missing[@]} -eq 0 ] && exit 0
# Sort and de-duplicate (clang appears in two groups).
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
    exit 1
fi
echo "installing missing Debian packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists only if they are absent or the install fails on stale ones.
if ! ls /var/lib/apt/lists/*_Packages >/dev/null 2>&1; then
    apt-get update -q >/dev/null || { echo "apt-get update failed" >&2; exit 1; }
fi
if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; then
    apt-get update -q >/dev/null &&
        apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null ||
        { echo "apt-get install ${missing[*]} failed" >&2; exit 1; }
fi
