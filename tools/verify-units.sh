#!/bin/sh
# `make verify-install`: systemd-analyze verify on the units that
# `make install` installed, with the same PREFIX and DESTDIR:
#
#   tools/verify-units.sh DESTDIR UNITDIR BINDIR SYSCONFDIR MANDIR
#
# verify wants every command of the unit to exist (ExecStart=/usr/bin/suitd)
# and looks up its Documentation= man pages. Installed into a DESTDIR (a
# package's staging folder), they are not at those paths yet, and
# `systemd-analyze verify --root=DESTDIR` does not help: it looks for
# /bin/kill and the systemd targets there too. So the installed units are
# copied to a temporary folder with BINDIR and SYSCONFDIR prefixed with
# DESTDIR (nothing else changes), and the man pages are looked up in
# DESTDIR's MANDIR. Without DESTDIR the copies are the installed files.
#
# Prints what verify says about suitd.service and suitd.socket (messages
# about other units of this machine are not ours) and exits 1 when it found
# something.
set -eu
if [ $# -ne 5 ]; then
	echo "usage: tools/verify-units.sh DESTDIR UNITDIR BINDIR SYSCONFDIR MANDIR" >&2
	exit 2
fi
destdir=$1 unitdir=$2 bindir=$3 sysconfdir=$4 mandir=$5
die() {
	echo "tools/verify-units.sh: $*" >&2
	exit 1
}
command -v systemd-analyze >/dev/null || die "systemd-analyze not found (apt-get install systemd)"
for u in suitd.service suitd.socket; do
	[ -f "$destdir$unitdir/$u" ] ||
		die "no $destdir$unitdir/$u: run make install first, with the same PREFIX and DESTDIR"
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/suitd-verify.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP

for u in suitd.service suitd.socket; do
	sed -e "s|$bindir/|$destdir$bindir/|g" -e "s|$sysconfdir/suitd/|$destdir$sysconfdir/suitd/|g" \
		"$destdir$unitdir/$u" >"$tmp/$u"
done
rc=0
(cd "$tmp" && MANPATH=$destdir$mandir SYSTEMD_LOG_COLOR=0 \
	systemd-analyze verify "$tmp/suitd.service" "$tmp/suitd.socket") >"$tmp/log" 2>&1 || rc=$?
grep -E 'suitd\.(service|socket)' "$tmp/log" >"$tmp/ours" || true
if [ $rc -ne 0 ] && [ ! -s "$tmp/ours" ]; then
	cp "$tmp/log" "$tmp/ours"
	echo "systemd-analyze verify exited with status $rc" >>"$tmp/ours"
fi
if [ -s "$tmp/ours" ]; then
	sed "s|$tmp/|$destdir$unitdir/|g" "$tmp/ours" >&2
	exit 1
fi
echo "systemd-analyze verify: $destdir$unitdir/suitd.service and suitd.socket are OK"
