#!/bin/bash
# The Debian packages (debian/, make deb) as an administrator meets them: build,
# lintian with no error and no warning, then on this machine (root only: CI is a
# throwaway Debian 12) dpkg -i, an upgrade to a rebuilt package with a bumped
# version, and dpkg --purge leaving no file of the package behind.
#
#   tests/deb-check.sh      prints "ok    NAME" / "FAIL  NAME" / "skip  NAME" lines;
#                           exit 0 all passed, 1 a failure, 77 nothing could run
#
# Install, upgrade and purge hold a lock, so two `make check` on one machine
# take turns; a package installed by someone else is left alone (skipped).
set -u
cd "$(dirname "$0")/.."

fail=0
ok() { echo "ok    deb $1"; }
bad() {
    echo "FAIL  deb $1"
    [ -n "${2:-}" ] && printf '%s\n' "$2" | head -30 | sed 's/^/      /'
    fail=1
}

for tool in dpkg-buildpackage dh lintian; do
    command -v "$tool" >/dev/null || {
        echo "skip  deb: no $tool (scripts/ensure-deps.sh deb installs it)"
        exit 77
    }
done

tmp=$(mktemp -d /tmp/ioreq-lend-deb-XXXXXX)
PKGS=(ioreq-lend ioreq-lend-dev)
installed_by_us=0
cleanup() {
    if [ "$installed_by_us" -eq 1 ]; then
        dpkg --purge "${PKGS[@]}" >/dev/null 2>&1
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

# 1. The package as the tree builds it, with its own test step.
t0=$(date +%s)
touch "$tmp/stamp"
if out=$(make -s deb DEB_DIR="$tmp/v1" 2>&1); then
    ok "make deb ($(($(date +%s) - t0)) s)"
else
    bad "make deb" "$out"
    exit 1
fi
# The scenario's summary line (the log has no command lines under make -s).
if grep -qE '^expects +[0-9]+ checked, 0 failed' "$tmp/v1/build.log"; then
    ok "the package's test step ran"
else
    bad "the package's test step ran" "$(tail -20 "$tmp/v1/build.log")"
fi
# Nothing created or changed in the source tree outside build/.
touched=$(find . \( -path ./build -o -path ./.git -o -path ./tests/e2e-xen/cache \) -prune -o \
    -newer "$tmp/stamp" -print | head -20)
[ -z "$touched" ] && ok "the build left the source tree alone" ||
    bad "the build left the source tree alone" "$touched"

out=$(lintian --fail-on none "$tmp"/v1/*.changes 2>&1)
if printf '%s\n' "$out" | grep -qE '^[EW]: '; then
    bad "lintian: no errors, no warnings" "$out"
else
    ok "lintian: no errors, no warnings"
fi

# 2. The same tree with a bumped version, built under nocheck (its test step must not run).
mkdir -p "$tmp/src"
tar -cf - --exclude=./build --exclude=./.git --exclude=./tests/e2e-xen/cache \
    --exclude=./bench/results . | tar -C "$tmp/src" -xf -
v1=$(dpkg-parsechangelog -l debian/changelog -S Version)
v2="$v1+upgradetest1"
{
    printf 'ioreq-lend (%s) unstable; urgency=medium\n\n  * Upgrade test.\n\n' "$v2"
    printf ' -- %s  %s\n\n' "$(dpkg-parsechangelog -l debian/changelog -S Maintainer)" "$(date -R)"
    cat debian/changelog
} >"$tmp/src/debian/changelog"
if out=$(DEB_BUILD_OPTIONS=nocheck make -s -C "$tmp/src" deb DEB_DIR="$tmp/v2" 2>&1); then
    ok "make deb, version $v2, nocheck"
else
    bad "make deb, version $v2, nocheck" "$out"
    exit 1
fi
grep -qE '^expects +[0-9]+ checked|xensim tests/scenarios' "$tmp/v2/build.log" &&
    bad "nocheck skips the package's test step" "$(grep -nE 'expects|xensim' "$tmp/v2/build.log")" ||
    ok "nocheck skips the package's test step"

if [ "$(id -u)" -ne 0 ]; then
    echo "skip  deb install, upgrade, purge (dpkg -i needs root)"
    exit $fail
fi

exec 9>/run/ioreq-lend-deb-check.lock
flock 9
for p in "${PKGS[@]}"; do
    st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)
    if [ -n "$st" ] && [ "$st" != not-installed ] && [ "$st" != config-files ]; then
        echo "skip  deb install, upgrade, purge ($p is installed on this machine: left alone)"
        exit $fail
    fi
done
# Leftover configuration of an earlier run: purge it, then start from nothing.
dpkg --purge "${PKGS[@]}" >/dev/null 2>&1

deb() { ls "$tmp/$1/$2_"*_*.deb; }
installed_by_us=1
if out=$(dpkg -i "$(deb v1 ioreq-lend)" "$(deb v1 ioreq-lend-dev)" 2>&1); then
    ok "dpkg -i $v1"
else
    bad "dpkg -i $v1" "$out"
    exit 1
fi

# The files where an administrator looks for them, and the programs run.
installed_check() { # label
    local missing="" f
    for f in /usr/libexec/ioreq-lend/ioreq-lend /usr/libexec/ioreq-lend/ioreq-lend-qemu \
        /usr/libexec/ioreq-lend/ioreq-lend-xl-create /usr/sbin/ioreq-lend \
        /usr/sbin/ioreq-lend-xl-create /usr/bin/ioreq-lend-ctl /usr/bin/ioreq-lend-top \
        /lib/systemd/system/ioreq-lend@.service /usr/share/man/man8/ioreq-lend.8.gz \
        /usr/share/man/man8/ioreq-lend-ctl.8.gz /usr/share/man/man8/ioreq-lend-qemu.8.gz \
        /usr/share/man/man8/ioreq-lend-top.8.gz \
        /usr/share/doc/ioreq-lend/copyright /usr/share/doc/ioreq-lend/examples/README.md \
        /usr/share/doc/ioreq-lend/examples/pvh-lend.cfg \
        /usr/share/doc/ioreq-lend-dev/examples/ctl-example.c \
        /usr/include/ioreq-lend/control_client.h; do
        [ -e "$f" ] || missing+=" $f"
    done
    [ -z "$missing" ] && ok "$1: files in place" || bad "$1: files in place" "missing:$missing"

    local out rc=0
    out=$(/usr/libexec/ioreq-lend/ioreq-lend --help 2>&1) || rc=1
    printf '%s' "$out" | grep -q 'Usage: ioreq-lend --domid N' || rc=1
    out+=$(/usr/bin/ioreq-lend-ctl --help 2>&1) || rc=1
    out+=$(/usr/libexec/ioreq-lend/ioreq-lend-qemu --version 2>&1) || rc=1
    out+=$(/usr/bin/ioreq-lend-top --once --state-dir "$tmp" 2>&1) || rc=1
    [ $rc -eq 0 ] && ok "$1: ioreq-lend --help from /usr/libexec/ioreq-lend/" ||
        bad "$1: ioreq-lend --help from /usr/libexec/ioreq-lend/" "$out"

    rc=0
    grep -q '^ExecStart=/usr/sbin/ioreq-lend-xl-create ' /lib/systemd/system/ioreq-lend@.service || rc=1
    grep -q 'device_model_override = "/usr/libexec/ioreq-lend/ioreq-lend-qemu"' \
        /usr/share/doc/ioreq-lend/examples/hvm-vram-8g-lend.cfg || rc=1
    zcat /usr/share/man/man8/ioreq-lend.8.gz | grep -q /usr/local/ && rc=1
    zcat /usr/share/man/man8/ioreq-lend.8.gz | grep -q 'doc/ioreq\\-lend\\-dev/examples/ctl' || rc=1
    [ $rc -eq 0 ] && ok "$1: installed paths in the unit, examples and man page" ||
        bad "$1: installed paths in the unit, examples and man page"

    # The -dev package: the example client builds against it with pkg-config alone.
    out=$(cc -std=c11 -Wall -Werror -o "$tmp/ctl-example" /usr/share/doc/ioreq-lend-dev/examples/ctl-example.c \
        $(pkg-config --cflags --libs ioreq-lend-control) 2>&1)
    [ $? -eq 0 ] && ok "$1: ctl-example builds with pkg-config ioreq-lend-control" ||
        bad "$1: ctl-example builds with pkg-config ioreq-lend-control" "$out"
}
installed_check "$v1"
dpkg-query -W -f='${Conffiles}\n' "${PKGS[@]}" >"$tmp/conffiles"
dpkg -L "${PKGS[@]}" | sort -u >"$tmp/files-v1"

if out=$(dpkg -i "$(deb v2 ioreq-lend)" "$(deb v2 ioreq-lend-dev)" 2>&1) &&
    [ "$(dpkg-query -W -f='${Version}' ioreq-lend)" = "$v2" ]; then
    ok "upgrade $v1 -> $v2"
else
    bad "upgrade $v1 -> $v2" "$out"
fi
installed_check "$v2"
dpkg -L "${PKGS[@]}" | sort -u >"$tmp/files-v2"

if out=$(dpkg --purge "${PKGS[@]}" 2>&1); then
    installed_by_us=0
    ok "dpkg --purge"
else
    bad "dpkg --purge" "$out"
fi
# Nothing of either version is left: no file, no symlink, no directory of the
# package's own (shared ones like /usr/bin stay), no dpkg record.
left=""
while read -r f; do
    [ -n "$f" ] || continue
    if [ -d "$f" ]; then # /lib is a symlink to a directory on a merged /usr
        [[ "$f" == */ioreq-lend* ]] && left+=" $f/"
    elif [ -L "$f" ] || [ -e "$f" ]; then
        left+=" $f"
    fi
done < <(sort -u "$tmp/files-v1" "$tmp/files-v2")
for p in "${PKGS[@]}"; do
    [ -z "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -v not-installed)" ] ||
        left+=" (dpkg still knows $p)"
done
[ -z "$left" ] && ok "nothing left after purge" || bad "nothing left after purge" "left:$left"

exit $fail
