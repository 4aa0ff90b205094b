#!/bin/bash
# Software inventory benchmark: GET /api/v1/inventory over a large fleet.
#
# Usage: bench/inventory.sh   (BUILD=build/x to use that build folder)
#
# DEVICES devices are registered straight into SQLite (like
# bench/checkin.sh) with VERSIONS manifests whose facts carry a CoSWID
# ("acme-fw" 1.0 .. VERSIONS.0; migration 0017's trigger fills their
# software columns), one deployment per manifest, and one assignment per
# device (device i runs version i % VERSIONS + 1; every 10th device runs
# "other-os"), inserted as 'confirmed'; then migration 0017's backfill
# statement copies each device's software (what its trigger does when a
# device confirms; the trigger itself cannot run in the sqlite3 shell, the
# event log's trigger on assignments calls a function only suitd defines).
# suitd starts and the script times (curl, median of RUNS):
#   - the per-version counts plus the first page of one version (limit 100),
#   - the same page after the middle of the fleet (a keyset cursor),
#   - all devices of a name (no version), first page,
#   - the fleet-wide summary (no software),
#   - GET /api/v1/devices/{id} (with its "software").
# It prints SQLite's query plan of each statement (each one index range).
#
# Knobs: DEVICES=100000 VERSIONS=5 RUNS=21.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
ROOT=$PWD

DEVICES=${DEVICES:-100000}
VERSIONS=${VERSIONS:-5}
RUNS=${RUNS:-21}

need=()
need_cmds curl openssl sqlite3 python3:python3-minimal
install_tools "${need[@]}"

tmp=$(mktemp -d)
SUITD_PID=
suitd_only_traps

print_machine
build_suitd
# Not yet on PostgreSQL: the fleet is filled by SQLite's migration 0017
# backfill and the figures come with SQLite's query plans.
[ "$BACKEND" = sqlite ] || die "BACKEND=$BACKEND: not supported (SQLite's migration 0017 backfill and query plans); only BACKEND=sqlite"
make_server_cert 2
SUITD_PORT=$(free_port)
DB=$tmp/suitd.db
SUITD_CONF=$tmp/suitd.conf
{
	suitd_base_conf "$SUITD_PORT" "$DB"
	printf '[log]\nlevel = warning\n'
} >"$SUITD_CONF"
KEY=$(admin_key "$SUITD_CONF") || exit 1

t0=$(date +%s.%N)
python3 - "$DEVICES" "$VERSIONS" >"$tmp/fleet.sql" <<'EOF'
import json, sys, time
n, versions = int(sys.argv[1]), int(sys.argv[2])
now = int(time.time())
out = sys.stdout
out.write("PRAGMA journal_mode = WAL;\nBEGIN;\n")
names = [("acme-fw", "%d.0" % (v + 1)) for v in range(versions)] + [("other-os", "9.9")]
for m, (name, ver) in enumerate(names, start=1):
    facts = json.dumps({"coswid": {"tag_id": "t-%d" % m, "software_name": name,
                                   "software_version": ver, "entities": []},
                        "components": [{"index": 0, "id": ["00"]}]})
    out.write("INSERT INTO manifests (id, digest, digest_alg, envelope, sequence_number, facts, "
              "created_at) VALUES (%d, randomblob(32), -16, X'00', %d, '%s', %d);\n"
              % (m, m, facts.replace("'", "''"), now))
    out.write("INSERT INTO deployments (id, manifest_id, target_kind, created_by, created_at) "
              "VALUES (%d, %d, 'devices', 'bench', %d);\n" % (m, m, now))
for i in range(1, n + 1):
    out.write("INSERT INTO devices (num, id, attributes, created_at) "
              "VALUES (%d, 'bench-%d', '{}', %d);\n" % (i, i, now))
    m = len(names) if i % 10 == 0 else i % versions + 1
    out.write("INSERT INTO assignments (deployment_id, device_num, state, created_at, "
              "updated_at) VALUES (%d, %d, 'confirmed', %d, %d);\n" % (m, i, now, now))
out.write("COMMIT;\n")
EOF
sqlite3 "$DB" <"$tmp/fleet.sql" >/dev/null || die "bulk insert failed"
rm -f "$tmp/fleet.sql"
t1=$(date +%s.%N)
sed -n '/^-- Devices that confirmed before this release/,$p' migrations/sqlite/0017_software_inventory.sql |
	sqlite3 "$DB" || die "backfill failed"
t2=$(date +%s.%N)
echo "registered $DEVICES devices with $((VERSIONS + 1)) manifests in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s;" \
	"filled the devices' software (migration 0017's backfill) in $(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.1f", b - a }') s"
running=$(sqlite3 "$DB" "SELECT count(*) FROM devices WHERE software_name IS NOT NULL")
[ "$running" = "$DEVICES" ] || die "$running devices run software, expected $DEVICES"

echo "query plans:"
plan() { sqlite3 "$DB" "EXPLAIN QUERY PLAN $1" | sed 's/^/    /'; }
plan "SELECT d.num, d.id, d.software_version, m.digest, d.running_since FROM devices d LEFT JOIN manifests m ON m.id = d.running_manifest_id WHERE d.software_name = 'acme-fw' AND d.software_version = '3.0' AND d.num > 0 ORDER BY d.num LIMIT 101"
plan "SELECT d.num, d.id, d.software_version, m.digest, d.running_since FROM devices d LEFT JOIN manifests m ON m.id = d.running_manifest_id WHERE d.software_name = 'acme-fw' AND d.num > 0 ORDER BY d.num LIMIT 101"
plan "SELECT software_name, software_version, count(*) FROM devices WHERE software_name = 'acme-fw' AND ('3.0' IS NULL OR software_version = '3.0') GROUP BY software_version ORDER BY software_version"

start_suitd "$SUITD_CONF"
SUITD_BASE=https://127.0.0.1:$SUITD_PORT
wait_up "$SUITD_BASE/readyz" "$SUITD_PID" -k || die "suitd did not start"

# Median milliseconds of RUNS requests of PATH (200 expected).
timed() { # path
	local i code ms all=()
	for ((i = 0; i < RUNS; i++)); do
		read -r code ms < <(curl -sk -o "$tmp/out.json" -w '%{http_code} %{time_total}\n' \
			-H "Authorization: Bearer $KEY" "$SUITD_BASE$1")
		[ "$code" = 200 ] || die "GET $1: $code $(cat "$tmp/out.json")"
		all+=("$(awk -v s="$ms" 'BEGIN { printf "%.2f", s * 1000 }')")
	done
	median "${all[@]}"
}

mid=$((DEVICES / 2))
printf '%-58s %s\n' "request" "median ms (RUNS=$RUNS, curl, new TLS connection each)"
for path in "/api/v1/inventory?software=acme-fw&version=3.0&limit=100" \
	"/api/v1/inventory?software=acme-fw&version=3.0&limit=100&after=$mid" \
	"/api/v1/inventory?software=acme-fw&limit=100" \
	"/api/v1/inventory?software=acme-fw&version=3.0&limit=1000" \
	"/api/v1/inventory" \
	"/api/v1/devices/bench-$mid" \
	"/readyz"; do
	printf '%-58s %s\n' "$(sed "s/after=$mid/after=<middle>/" <<<"$path")" "$(timed "$path")"
done
curl -sk -H "Authorization: Bearer $KEY" "$SUITD_BASE/api/v1/inventory" | head -c 600
echo
