#!/bin/bash
# `suitd migrate-data` on a fleet's database (issue 21): the round trip
# SQLite -> PostgreSQL -> SQLite, rows per second each way.
#
# Usage: bench/migrate_data.sh                 (runs bench/fleet.sh first)
#        DB=FILE bench/migrate_data.sh         (a database of this suitd's
#                                               schema version, e.g. from
#                                               KEEP_DB=FILE bench/fleet.sh)
# Knobs for the fleet run: DEVICES=100000 SIMULATED=2000 PAYLOAD_SIZE=16777216
# (256 chunks of 64 KiB), passed to bench/fleet.sh.
#
# Printed: the database (size, rows), then each direction's time and rows/s
# from migrate-data's own lines, and as the reference in the same run
# `sqlite3 SRC .dump | sqlite3 NEW` (SQLite's own logical copy of the same
# rows into a new file): the ratio of its time to each direction's. The
# copies' per-table digests must equal the source's (else it fails), and
# the file copied back must hold the same rows as the source (EXCEPT, both
# ways, every table).
# A throwaway PostgreSQL 15 (tests/pg/pg_tmp.sh: fsync on, 127.0.0.1);
# the temp dirs are removed at exit.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
# shellcheck disable=SC2034 # lib.sh reads it
ROOT=$PWD

need=()
need_cmds sqlite3 python3:python3-minimal
install_tools "${need[@]}"

tmp=$(mktemp -d)
pg=$(mktemp -d /tmp/suitd-pg-XXXXXX)
cleanup() {
	tests/pg/pg_tmp.sh stop "$pg" >/dev/null 2>&1 || true
	rm -rf "$tmp" "$pg"
}
install_traps

print_machine
build_suitd
if [ -z "${DB:-}" ]; then
	echo "== bench/fleet.sh (its database is the source)"
	DEVICES=${DEVICES:-100000} SIMULATED=${SIMULATED:-2000} \
		PAYLOAD_SIZE=${PAYLOAD_SIZE:-16777216} KEEP_DB=$tmp/fleet.db \
		bench/fleet.sh | sed 's/^/  /'
	DB=$tmp/fleet.db
fi
[ -f "$DB" ] || die "no database $DB"
echo
echo "source: $DB, $(du -h "$DB" | cut -f1), devices $(sqlite3 "$DB" 'SELECT count(*) FROM devices'), chunks $(sqlite3 "$DB" 'SELECT count(*) FROM chunks'), assignments $(sqlite3 "$DB" 'SELECT count(*) FROM assignments'), reports $(sqlite3 "$DB" 'SELECT count(*) FROM reports'), events $(sqlite3 "$DB" 'SELECT count(*) FROM events')"

tests/pg/pg_tmp.sh start "$pg" $$ >/dev/null
. "$pg/env"
echo "PostgreSQL: $("$PG_TMP_BIN/postgres" --version), fsync on"
rows=$(sqlite3 "$DB" "SELECT $(sqlite3 "$DB" "SELECT group_concat('(SELECT count(*) FROM \"' || name || '\")', '+') FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")")
echo "rows in all tables: $rows"
echo

run() { # name from to out
	local t0 t1
	t0=$(date +%s.%N)
	"$SUITD" migrate-data --from "$2" --to "$3" --password-file "$PG_TMP_PASSWORD_FILE" \
		>"$4" 2>"$4.err" || { cat "$4.err" "$4" >&2; die "$1 failed"; }
	t1=$(date +%s.%N)
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
	printf '%-22s %8s s %12.0f rows/s\n' "$1" "$secs" "$(awk -v r="$rows" -v s="$secs" 'BEGIN { print r / s }')"
	grep -E ' rows/s$' "$4.err" | sort -k4 -n -r | head -n 3 | sed 's/^/    slowest: /'
}

run "sqlite -> postgresql" "sqlite:$DB" "$PG_TMP_URL" "$tmp/to_pg"
to_pg=$secs
run "postgresql -> sqlite" "$PG_TMP_URL" "sqlite:$tmp/back.db" "$tmp/to_sqlite"
to_sqlite=$secs
run "sqlite -> sqlite" "sqlite:$DB" "sqlite:$tmp/same.db" "$tmp/to_same"
t0=$(date +%s.%N)
sqlite3 "$DB" .dump | sqlite3 "$tmp/dump.db"
t1=$(date +%s.%N)
ref=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
printf '%-22s %8s s   (reference: sqlite3 .dump | sqlite3)\n' "sqlite3 .dump" "$ref"
echo "ratio reference/time: to PostgreSQL $(ratio "$ref" "$to_pg"), back to SQLite $(ratio "$ref" "$to_sqlite")"

# The digests of each copy equal the source's, table by table.
digests() { awk 'NR > 1 { print $1, $2, $4 }' "$1"; }
cmp <(digests "$tmp/to_pg") <(digests "$tmp/to_sqlite") || die "digests differ after the round trip"
# And the file copied back holds the source's rows, every table, both ways.
python3 - "$DB" "$tmp/back.db" <<'PY'
import sqlite3, sys
a = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
a.execute("ATTACH ? AS b", (sys.argv[2],))
for (t,) in a.execute("SELECT name FROM main.sqlite_schema WHERE type = 'table'").fetchall():
    q = f'SELECT count(*) FROM (SELECT * FROM main."{t}" EXCEPT SELECT * FROM b."{t}")'
    r = f'SELECT count(*) FROM (SELECT * FROM b."{t}" EXCEPT SELECT * FROM main."{t}")'
    if a.execute(q).fetchone()[0] or a.execute(r).fetchone()[0]:
        sys.exit(f"table {t} differs after the round trip")
print("round trip: every table of the copy back equals the source's")
PY
