#!/bin/bash
# --syslog: the daemon's messages go to syslog, not to stderr.
#
#   tests/launcher/syslog-check.sh [DAEMON]     (default build/ioreq-lend)
#
# Runs in a private mount namespace whose /dev is a tmpfs holding null, zero,
# random and urandom from the real one, and a /dev/log socket this script
# listens on (glibc's syslog() writes there). The real-Xen daemon on a host
# without Xen fails its set-up: with --syslog that one line must reach the
# socket, tagged ioreq-lend[dom1] with its pid, and stderr must stay empty.
# Exit 0 ok, 1 failed, 77 no mount namespace here (needs root).
set -u
daemon=$(realpath "${1:-build/ioreq-lend}")
if [ "${IOREQ_LEND_SYSLOG_NS:-}" != 1 ]; then
    IOREQ_LEND_SYSLOG_NS=1 exec unshare -m "$0" "$daemon" 2>/dev/null
    exit 77
fi
mount --make-rprivate / 2>/dev/null || exit 77
tmp=$(mktemp -d /tmp/ioreq-lend-syslog-XXXXXX)
mkdir "$tmp/realdev" || exit 1
mount --bind /dev "$tmp/realdev" || exit 77
mount -t tmpfs tmpfs /dev || exit 77
for n in null zero random urandom; do
    touch "/dev/$n" && mount --bind "$tmp/realdev/$n" "/dev/$n" || exit 1
done
ln -s /proc/self/fd /dev/fd
mkfifo "$tmp/bound"
python3 - "$tmp/bound" >"$tmp/syslog" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
with open(sys.argv[1], "w") as f:   # tell the script the socket is there
    f.write("bound\n")
s.settimeout(30)
try:
    print(s.recv(4096).decode(errors="replace"))
except socket.timeout:
    print("nothing received")
PY
listener=$!
read -r _ <"$tmp/bound"
"$daemon" --domid 1 --syslog --state-dir "$tmp/state" >"$tmp/out" 2>"$tmp/err"
rc=$?
wait $listener
msg=$(cat "$tmp/syslog")
err=$(cat "$tmp/out" "$tmp/err")
status=0
if [ $rc -ne 2 ] || [ -n "$err" ] || ! printf '%s' "$msg" | grep -q 'ioreq-lend\[dom1\]\[[0-9]*\]: '; then
    echo "exit $rc, stderr '$err', syslog '$msg'"
    status=1
else
    echo "syslog got: $msg"
fi
umount /dev/null /dev/zero /dev/random /dev/urandom /dev "$tmp/realdev" 2>/dev/null
rm -rf "$tmp"
exit $status
