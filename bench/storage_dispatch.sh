#!/bin/bash
# The cost of storage/sql.h's dispatch (issue 21): the same storage work by
# this suitd and by a REFERENCE suitd built from a tree before the split
# (its storage code called sqlite3_* directly), in the same run.
#
# Usage: REFERENCE=/path/to/suitd bench/storage_dispatch.sh   (about a minute)
#
# The work: `suitd device import` of DEVICES devices (NDJSON, each with a
# group, two tags and attributes) into an empty database (inserts: binds,
# steps, changes), then the same file again (every device exists: reads of
# its row and tags, column by column, and no write). Both binaries run it on
# their own fresh database, alternating, ROUNDS times.
# Reported per binary and phase: the median of user+sys CPU seconds, and the
# instructions executed per device (callgrind's Ir of one import of
# DEVICES_IR devices minus that of an empty import: deterministic, so a load
# on the machine does not move it), each with the ratio split/reference.
# Every import must report all its lines created (first) or unchanged (again).
#
# Knobs (environment): REFERENCE (required) BUILD (the suitd to measure:
# $BUILD/suitd, else build/suitd) DEVICES=20000 DEVICES_IR=2000 ROUNDS=5
# IR=1 (0: no valgrind runs). TMPDIR is honoured.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
ROOT=$PWD
backend_fixed "it compares the statement API's dispatch with a build from before it, which had SQLite only"

DEVICES=${DEVICES:-20000}
DEVICES_IR=${DEVICES_IR:-2000}
ROUNDS=${ROUNDS:-5}
IR=${IR:-1}
REFERENCE=${REFERENCE:-}
if [ -z "$REFERENCE" ] || [ ! -x "$REFERENCE" ]; then
	die "REFERENCE=<a suitd built before the split> is required"
fi

need=()
need_cmds openssl python3:python3-minimal
[ "$IR" = 0 ] || need_cmds valgrind
install_tools "${need[@]}"

tmp=$(mktemp -d)
# shellcheck disable=SC2034 # read by suitd_only_traps' cleanup (no daemon here)
SUITD_PID=
suitd_only_traps

print_machine
if [ -n "${BUILD:-}" ] && [ -x "$ROOT/$BUILD/suitd" ]; then
	SUITD=$ROOT/$BUILD/suitd
else
	build_suitd
fi
cp "$SUITD" "$tmp/suitd-split"
cp "$REFERENCE" "$tmp/suitd-reference"
echo "split:     $("$tmp/suitd-split" -V 2>&1 | head -n1) (${SUITD#"$ROOT"/})"
echo "reference: $("$tmp/suitd-reference" -V 2>&1 | head -n1) ($REFERENCE)"
print_tmpdir
make_server_cert 30

devices_file() { # n file
	python3 - "$1" >"$2" <<'PY'
import json, sys
for i in range(1, int(sys.argv[1]) + 1):
    print(json.dumps({"id": "dev-%06d" % i, "group": "g%d" % (i % 10),
                      "tags": ["t%d" % (i % 7), "line-%d" % (i % 3)],
                      "attributes": {"hw": "rev%d" % (i % 4)}}))
PY
}
devices_file "$DEVICES" "$tmp/devices.ndjson"
devices_file "$DEVICES_IR" "$tmp/devices-ir.ndjson"

# A fresh state for binary B: config and an empty, migrated database.
fresh() { # binary
	rm -rf "$tmp/db"
	mkdir -p "$tmp/db"
	suitd_base_conf 1 "$tmp/db/suitd.db" >"$tmp/suitd.conf"
	"$1" -c "$tmp/suitd.conf" migrate >/dev/null 2>"$tmp/migrate.log" ||
		{ cat "$tmp/migrate.log" >&2; die "migrate failed"; }
}

# The import's summary must count every line as WHAT ("created", "unchanged").
check_import() { # what n
	grep -q "\"$1\": $2," "$tmp/import.out" ||
		{ cat "$tmp/import.out" >&2; die "import: expected $2 $1"; }
}

# user+sys CPU seconds of one import of FILE, whose N lines must all be WHAT.
cpu_import() { # binary file what n
	local t
	t=$( { TIMEFORMAT='%U %S'; time "$1" -c "$tmp/suitd.conf" device import "$2" >"$tmp/import.out" 2>"$tmp/import.log"; } 2>&1) ||
		{ cat "$tmp/import.log" >&2; die "import failed"; }
	check_import "$3" "$4"
	awk -v t="$t" 'BEGIN { split(t, a, " "); printf "%.3f", a[1] + a[2] }'
}

declare -A CPU
for i in $(seq 1 "$ROUNDS"); do
	for b in split reference; do
		fresh "$tmp/suitd-$b"
		c1=$(cpu_import "$tmp/suitd-$b" "$tmp/devices.ndjson" created "$DEVICES")
		c2=$(cpu_import "$tmp/suitd-$b" "$tmp/devices.ndjson" unchanged "$DEVICES")
		CPU[$b,insert]+=" $c1" CPU[$b,again]+=" $c2"
		printf '  round %d %-9s  insert %6.3f s  again %6.3f s  CPU\n' "$i" "$b" "$c1" "$c2"
	done
done

: >"$tmp/empty.ndjson"
# Instructions of one import of FILE under callgrind.
ir_import() { # binary file
	valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" \
		"$1" -c "$tmp/suitd.conf" device import "$2" >"$tmp/import.out" 2>"$tmp/vg.log" ||
		{ cat "$tmp/vg.log" >&2; die "valgrind run failed"; }
	sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$tmp/cg.out"
}

# Per device: minus an import of an empty file (start-up, config, exit).
declare -A IRS
if [ "$IR" != 0 ]; then
	for b in split reference; do
		fresh "$tmp/suitd-$b"
		base=$(ir_import "$tmp/suitd-$b" "$tmp/empty.ndjson")
		i1=$(ir_import "$tmp/suitd-$b" "$tmp/devices-ir.ndjson")
		check_import created "$DEVICES_IR"
		i2=$(ir_import "$tmp/suitd-$b" "$tmp/devices-ir.ndjson")
		check_import unchanged "$DEVICES_IR"
		IRS[$b,insert]=$(((i1 - base) / DEVICES_IR))
		IRS[$b,again]=$(((i2 - base) / DEVICES_IR))
	done
fi

echo
echo "RESULTS ($DEVICES devices per import, median of $ROUNDS CPU runs; instructions: one callgrind run of $DEVICES_IR devices)"
printf '%-34s %14s %14s %8s\n' "" split reference ratio
for phase in insert again; do
	# shellcheck disable=SC2086 # one value per word
	a=$(median ${CPU[split,$phase]}) b=$(median ${CPU[reference,$phase]})
	printf '%-34s %14s %14s %8s\n' "$phase: CPU seconds" "$a" "$b" "$(ratio "$a" "$b")"
	if [ "$IR" != 0 ]; then
		printf '%-34s %14s %14s %8s\n' "$phase: instructions per device" "${IRS[split,$phase]}" \
			"${IRS[reference,$phase]}" \
			"$(awk -v a="${IRS[split,$phase]}" -v b="${IRS[reference,$phase]}" 'BEGIN { printf "%.4f", a / b }')"
	fi
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (client and server: one process, $(nproc) cores shared)"
