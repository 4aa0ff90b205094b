#!/bin/sh
# `make run`: start suitd on a development configuration.
#
#   DEV_STATE=.dev tools/dev-run.sh BINARY CONFIG
#
# DEV_STATE (default .dev, git-ignored) keeps what this script makes on the
# first start: author.key/author.pub, a development manifest-signing key
# (config/dev.conf trusts author.pub), and admin.key (0600), an admin API key
# of the configuration's database, so that later starts can name it again.
# Never do this in production. One DEV_STATE belongs to one database: give
# a configuration with another database its own DEV_STATE.
#
# suitd itself prints the banner (URL, certificate, database, the file of
# the admin key) once it listens: SUITD_DEV_BANNER names the key's file. A
# start that fails (a port in use, a bad file) prints no banner and exits
# non-zero.
set -eu
if [ $# -ne 2 ]; then
	echo "usage: DEV_STATE=DIR tools/dev-run.sh BINARY CONFIG" >&2
	exit 2
fi
bin=$1
conf=$2
state=${DEV_STATE:-.dev}
[ -f "$conf" ] || { echo "tools/dev-run.sh: no configuration file '$conf'" >&2; exit 1; }
mkdir -p "$state"
chmod 700 "$state"
if [ ! -s "$state/author.pub" ]; then
	# A development manifest-signing key (never use it for a real fleet).
	(umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
		-out "$state/author.key")
	openssl pkey -in "$state/author.key" -pubout -out "$state/author.pub"
fi
"$bin" -c "$conf" migrate >/dev/null

# The admin key: suitd keeps only its hash, so the secret lives in
# $state/admin.key. When that file is gone but the database still has the
# key, the key is revoked and a new one made (the old secret is lost).
active=$("$bin" -c "$conf" key list | awk '$1 == "dev-admin" && $NF == "active" { print "yes" }')
if [ -s "$state/admin.key" ] && [ -z "$active" ]; then
	echo "tools/dev-run.sh: the database of $conf has no active key 'dev-admin':" \
		"$state/admin.key belongs to another one; making a new key" >&2
	rm "$state/admin.key"
fi
if [ ! -s "$state/admin.key" ]; then
	if [ -n "$active" ]; then
		echo "tools/dev-run.sh: $state/admin.key is gone: revoking the key 'dev-admin'" \
			"and making a new one" >&2
		"$bin" -c "$conf" key revoke dev-admin >/dev/null
	fi
	umask 077
	# Its message says the key follows; here the key goes to the file.
	if ! "$bin" -c "$conf" key create --name dev-admin --role admin \
		>"$state/admin.key.new" 2>"$state/admin.key.err"; then
		cat "$state/admin.key.err" >&2
		exit 1
	fi
	rm "$state/admin.key.err"
	mv "$state/admin.key.new" "$state/admin.key"
	echo "tools/dev-run.sh: made the admin key 'dev-admin', kept in $state/admin.key" >&2
fi
export SUITD_DEV_BANNER="$state/admin.key"
exec "$bin" -c "$conf"
