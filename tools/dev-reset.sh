#!/bin/sh
# `make dev-reset`: remove the state of `make run` (DEV_STATE, default .dev):
# its database, admin key, TLS certificate, manifest-signing key and the
# tour's files (device tokens included). Nothing else is touched. It refuses
# a folder that tools/dev-run.sh did not make, and one that a running process
# (the suitd of make run) still has files open in.
set -eu
state=${DEV_STATE:-.dev}
die() {
	echo "tools/dev-reset.sh: $*" >&2
	exit 1
}
if [ ! -e "$state" ]; then
	echo "nothing to remove: there is no $state"
	exit 0
fi
[ -d "$state" ] || die "$state is not a folder"
abs=$(cd "$state" && pwd -P)
case $abs in
/ | "$(pwd -P)" | "$HOME") die "refusing to remove $abs" ;;
esac
[ -f "$state/author.pub" ] || [ -f "$state/admin.key" ] ||
	die "$state has neither author.pub nor admin.key: not a folder of make run; remove it yourself"
# Files under it open in a process of this user (the daemon, a backup).
pids=$(find /proc/[0-9]*/fd -lname "$abs/*" 2>/dev/null | cut -d/ -f3 | sort -u | tr '\n' ' ') || true
[ -z "$pids" ] || die "process ${pids% } has files in $state open (make run?): stop it first"
echo "removing $state: the development database, admin key, TLS certificate," \
	"manifest-signing key and the tour's files (device tokens)"
rm -rf -- "$abs"
