#!/bin/sh
# Replays every fuzz target over its seed corpus and saved crash inputs
# (tests/fuzz/corpus/T, tests/fuzz/regressions/T) with the normal compiler:
# `make check`. The targets that open a real storage (their source calls
# storage_open) run a second time on PostgreSQL (issue 21): a throwaway
# server (tests/pg/pg_tmp.sh), an empty database per target, its libpq URL
# in SUITD_FUZZ_PG_URL (tests/fuzz/fuzz_api_json.c).
#
# usage: tests/fuzz/replay.sh BUILD TARGET...
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
[ $# -ge 2 ] || { echo "usage: $0 BUILD TARGET..." >&2; exit 2; }
build=$1
shift

pg_targets=
for t in "$@"; do
	echo "== replay $t"
	"$build/tests/replay_$t" "$root/tests/fuzz/corpus/$t" "$root/tests/fuzz/regressions/$t"
	if grep -q 'storage_open(' "$root/tests/fuzz/fuzz_$t.c"; then
		pg_targets="$pg_targets $t"
	fi
done
[ -n "$pg_targets" ] || exit 0

pg=$(mktemp -d "${TMPDIR:-/tmp}/suitd-replay-pg.XXXXXX")
trap '"$root/tests/pg/pg_tmp.sh" stop "$pg"' EXIT
"$root/tests/pg/pg_tmp.sh" start "$pg" $$
for t in $pg_targets; do
	echo "== replay $t (postgresql)"
	db=replay_$t
	psql -X -q -v ON_ERROR_STOP=1 -d "$(cat "$pg/url_admin")" \
		-c "CREATE DATABASE $db OWNER suitd" >/dev/null
	SUITD_FUZZ_PG_URL="postgresql://suitd@127.0.0.1:$(cat "$pg/port")/$db" \
		SUITD_FUZZ_PG_PASSWORD_FILE="$pg/password" \
		"$build/tests/replay_$t" "$root/tests/fuzz/corpus/$t" "$root/tests/fuzz/regressions/$t"
done
