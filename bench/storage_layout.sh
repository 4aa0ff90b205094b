#!/bin/sh
# Build and run the SQLite payload storage-layout probe (bench/storage_layout.c).
# Usage: bench/storage_layout.sh [N]    N = random 128 KiB ranges per test (default 10000)
# Creates and removes its own temp dir (mktemp -d; honours TMPDIR).
set -eu

case ${BACKEND:-sqlite} in
sqlite) ;;
postgresql) echo "BACKEND=postgresql: no effect here: this probe is SQLite's chunk layout (bench/pg_layout.sh is PostgreSQL's)" ;;
*) echo "BACKEND must be sqlite or postgresql" >&2 && exit 1 ;;
esac
cd "$(dirname "$0")/.."

CC=${CC:-cc}
PKG_CONFIG=${PKG_CONFIG:-pkg-config}

model=$(grep -m1 '^model name' /proc/cpuinfo 2>/dev/null | sed 's/^[^:]*:[[:space:]]*//' || true)
echo "machine: nproc=$(nproc), model name: ${model:-unknown}, kernel $(uname -r)"

mkdir -p build/bench
# shellcheck disable=SC2046 # pkg-config output must be word-split
$CC -std=c11 -O2 -Wall -Wextra -o build/bench/storage_layout bench/storage_layout.c \
	$($PKG_CONFIG --cflags --libs sqlite3)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fs=$(df -PT "$tmp" 2>/dev/null | awk 'NR==2 { print $2 " on " $1 }' || true)
echo "temp dir: $tmp (${fs:-unknown fs})"
echo

./build/bench/storage_layout "$tmp" ${1+"$1"}
