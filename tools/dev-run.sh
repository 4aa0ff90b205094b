#!/bin/sh
# `make run`: start suitd on the development configuration, creating an admin
# key on first start. The key is kept in .dev/admin.key (0600, git-ignored)
# so that later runs can print it again; never do this in production.
set -eu
bin=$1
conf=$2
state=$(dirname "$conf")/../.dev
mkdir -p "$state"
chmod 700 "$state"
if [ ! -s "$state/author.pub" ]; then
	# A development manifest-signing key (never use it for a real fleet).
	(umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
		-out "$state/author.key" 2>/dev/null)
	openssl pkey -in "$state/author.key" -pubout -out "$state/author.pub"
fi
"$bin" -c "$conf" migrate >/dev/null
if [ ! -s "$state/admin.key" ]; then
	umask 077
	"$bin" -c "$conf" key create --name dev-admin --role admin 2>/dev/null | tail -n 1 >"$state/admin.key.tmp"
	mv "$state/admin.key.tmp" "$state/admin.key"
fi
key=$(cat "$state/admin.key")
cat <<MSG

  suitd (development) — https://127.0.0.1:8443
  admin API key: $key
  (kept in .dev/admin.key; the TLS certificate is .dev/tls/cert.pem;
   .dev/author.key signs manifests this server trusts)

  try:
    curl --cacert .dev/tls/cert.pem -H "Authorization: Bearer $key" https://localhost:8443/api/v1/status

  Ctrl-C stops the daemon.

MSG
exec "$bin" -c "$conf"
