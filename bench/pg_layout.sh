#!/bin/sh
# The PostgreSQL facts of issue 21 (bench/pg_layout.c): payload chunk sizes
# with and without TOAST compression, committed small inserts by batching,
# point SELECT round trips; then SQLite's chunk layout probe
# (bench/storage_layout.sh) with the same N in the same run (SQLITE=0 skips
# it). Usage: bench/pg_layout.sh [N [ROUNDS]]   N = random 128 KiB ranges
# (default 2000), ROUNDS = interleaved rounds of the chunk tests (default 3)
# A throwaway server (tests/pg/pg_tmp.sh: fsync on, 127.0.0.1 and a unix
# socket) and a temp dir, both removed at exit.
set -eu

case ${BACKEND:-sqlite} in
sqlite | postgresql) ;; # it measures both, always
*) echo "BACKEND must be sqlite or postgresql" >&2 && exit 1 ;;
esac
cd "$(dirname "$0")/.."

CC=${CC:-cc}
PKG_CONFIG=${PKG_CONFIG:-pkg-config}
n=${1:-2000}
rounds=${2:-3}

model=$(grep -m1 '^model name' /proc/cpuinfo 2>/dev/null | sed 's/^[^:]*:[[:space:]]*//' || true)
echo "machine: nproc=$(nproc), model name: ${model:-unknown}, kernel $(uname -r)"

mkdir -p build/bench
# shellcheck disable=SC2046 # pkg-config output must be word-split
$CC -std=c11 -O2 -Wall -Wextra -o build/bench/pg_layout bench/pg_layout.c \
	$($PKG_CONFIG --cflags --libs libpq sqlite3)

tmp=$(mktemp -d)
pg=$(mktemp -d /tmp/suitd-pg-XXXXXX)
trap 'tests/pg/pg_tmp.sh stop "$pg"; rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

tests/pg/pg_tmp.sh start "$pg" $$
. "$pg/env"
fs=$(df -PT "$pg" 2>/dev/null | awk 'NR==2 { print $2 " on " $1 }' || true)
echo "PostgreSQL: $("$PG_TMP_BIN/postgres" --version), data in $pg (${fs:-unknown fs}), fsync on"
echo

./build/bench/pg_layout "$PG_TMP_URL_SOCKET" "$PG_TMP_URL" "$PG_TMP_PASSWORD_FILE" "$tmp" "$n" "$rounds"

if [ "${SQLITE:-1}" = 1 ]; then
	echo
	echo "== SQLite, the same payload layout (bench/storage_layout.sh $n)"
	bench/storage_layout.sh "$n"
fi
