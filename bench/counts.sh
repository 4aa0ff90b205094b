#!/bin/bash
# Deployment counts at fleet scale: is GET /api/v1/deployments/{id} as cheap
# for a deployment of 100,000 devices as for one of 10?
#
# Usage: bench/counts.sh          (about 1 minute on 2 cores)
#
# 100,000 devices (group "fleet") and 10 (group "small") are registered
# straight into SQLite (like bench/checkin.sh), suitd starts, and two
# deployments of one manifest are created through the API: "fleet" with
# stages [1, 10, 50, 100] and "small". Then:
#   - the creation time of each deployment (one transaction: stage
#     planning by hash rank and 100,000 assignments);
#   - wrk -t1 -cCONNS -dSECONDS on GET /api/v1/deployments/{id} of each:
#     requests/s and p50/p99 (the answer has the counts per stage and per
#     state, read from the trigger-kept assignment_counts table);
#   - for reference, with python3's sqlite3 on a copy-free read-only
#     connection, the time of the query the counts would otherwise take,
#     `SELECT state, count(*) FROM assignments WHERE deployment_id = ?
#     GROUP BY state` (a scan of the deployment's index range), against the
#     counters' query, each the median of REPEAT runs.
# Goal: fleet/small request rate ratio >= 0.9 (counts cost the same).
#
# Knobs: DEVICES=100000 SECONDS_PER_RUN=5 CONNS=4 REPEAT=20. Everything
# listens on 127.0.0.1; the temp dir is removed and suitd stopped at exit.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
ROOT=$PWD

DEVICES=${DEVICES:-100000}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}
CONNS=${CONNS:-4}
REPEAT=${REPEAT:-20}

need=()
need_cmds wrk curl openssl sqlite3 python3:python3-minimal
install_tools "${need[@]}"

tmp=$(mktemp -d)
SUITD_PID=
suitd_only_traps

print_machine
build_suitd
echo "suitd: $("$SUITD" -V 2>&1 | head -n1)"
print_tmpdir
backend_start
make_server_cert 30
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/author.key" 2>/dev/null
openssl pkey -in "$tmp/author.key" -pubout -out "$tmp/author.pub" 2>/dev/null
head -c 65536 /dev/urandom >"$tmp/fw.bin"
mkdir -p "$tmp/db"
DB=$tmp/db/suitd.db
# shellcheck disable=SC2119 # free_port takes an optional port to avoid
SUITD_PORT=$(free_port) || die "no free port"
cat >"$tmp/suitd.conf" <<EOF
[server]
listen = 127.0.0.1:$SUITD_PORT
# The benchmarks measure capacity: no per-client rate limit.
rate_limit = 0
tls_cert = $tmp/cert.pem
tls_key = $tmp/key.pem
[storage]
$(storage_conf "$DB" full)
[devices]
auth = token
[manifests]
trust_anchor = $tmp/author.pub
[log]
level = warning
EOF
KEY=$(admin_key "$tmp/suitd.conf") || exit 1

register_devices "$DB" "$DEVICES" fleet || die "bulk insert failed"
register_devices "$DB" 10 small || die "bulk insert failed"
echo "registered $DEVICES + 10 devices"

start_suitd "$tmp/suitd.conf"
SUITD_BASE=https://127.0.0.1:$SUITD_PORT
wait_up "$SUITD_BASE/readyz" "$SUITD_PID" || { cat "$tmp/suitd.log" >&2; die "suitd did not start"; }
publish_firmware "$tmp/suitd.conf" bench-v1

declare -A ID
for g in fleet small; do
	printf '{"manifest":"%s","target":{"group":"%s"},"rollout":{"stages":[1,10,50,100]}}' \
		"$DIGEST" "$g" >"$tmp/dep.json"
	deploy_and_wait "$tmp/dep.json"
	out=$DEP_OUT
	ID[$g]=$(printf '%s' "$out" | sed -n 's/^{"id":\([0-9]*\).*/\1/p')
	devices=$(printf '%s' "$out" | grep -o '"devices":[0-9]*' | tail -n1 | cut -d: -f2)
	stages=$(printf '%s' "$out" | grep -o '"stage":[0-9]*,"percent":[0-9]*,"open":[a-z]*,"opened_at":[^,]*,"devices":[0-9]*' |
		sed 's/.*"devices":\([0-9]*\)$/\1/' | tr '\n' ' ')
	echo "deployment ${ID[$g]} to group $g: $devices assignments, stages of $stages devices, created and prepared in $DEP_SECONDS s"
done

echo
echo "GET /api/v1/deployments/{id}: wrk -t1 -c$CONNS -d${SECONDS_PER_RUN}s"
declare -A RPS P99
for g in small fleet small fleet; do
	wrk -t1 -c"$CONNS" -d"${SECONDS_PER_RUN}s" --latency -H "Authorization: Bearer $KEY" \
		"$SUITD_BASE/api/v1/deployments/${ID[$g]}" >"$tmp/wrk.txt" 2>&1 || { cat "$tmp/wrk.txt" >&2; die "wrk failed"; }
	grep -q "Non-2xx" "$tmp/wrk.txt" && { cat "$tmp/wrk.txt" >&2; die "non-2xx answers"; }
	rps=$(awk '/^Requests\/sec:/ { print $2 }' "$tmp/wrk.txt")
	p99=$(awk '$1 == "99%" { print $2 }' "$tmp/wrk.txt")
	p50=$(awk '$1 == "50%" { print $2 }' "$tmp/wrk.txt")
	printf '  %-6s (%6s devices) %9s req/s  p50 %8s  p99 %8s\n' "$g" \
		"$([ "$g" = fleet ] && echo "$DEVICES" || echo 10)" "$rps" "$p50" "$p99"
	RPS[$g]="${RPS[$g]:-} $rps"
	P99[$g]="${P99[$g]:-} $p99"
done
# shellcheck disable=SC2086 # one value per word
rf=$(median ${RPS[fleet]})
# shellcheck disable=SC2086
rs=$(median ${RPS[small]})

echo
if [ "$BACKEND" = postgresql ]; then
	echo "the same counts straight from PostgreSQL (psql \\timing, one run each, ms):"
	for q in "SELECT state, count(*) FROM assignments WHERE deployment_id = ${ID[fleet]} GROUP BY state" \
		"SELECT stage, state, n FROM assignment_counts WHERE deployment_id = ${ID[fleet]}"; do
		printf '  %s: %s\n' "$q" "$(pg_psql -c '\timing on' -c "$q" | sed -n 's/^Time: //p')"
	done
else
echo "the same counts straight from SQLite (median of $REPEAT, ms):"
python3 - "$DB" "${ID[fleet]}" "$REPEAT" <<'EOF'
import sqlite3, statistics, sys, time
db, dep, rep = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
c = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
def t(sql):
    runs = []
    for _ in range(rep):
        a = time.perf_counter()
        rows = c.execute(sql, (dep,)).fetchall()
        runs.append((time.perf_counter() - a) * 1000)
    return statistics.median(runs), rows
scan, rows = t("SELECT state, count(*) FROM assignments WHERE deployment_id = ? GROUP BY state")
kept, rows2 = t("SELECT stage, state, n FROM assignment_counts WHERE deployment_id = ?")
total = sum(n for _, n in rows)
assert total == sum(n for _, _, n in rows2), (rows, rows2)
print("  GROUP BY over the assignments (%d rows): %.3f ms" % (total, scan))
print("  assignment_counts (%d rows):            %.3f ms" % (len(rows2), kept))
EOF
fi
echo
echo "RESULT: GET of a $DEVICES-device deployment at $rf req/s, of a 10-device one at $rs req/s: ratio $(ratio "$rf" "$rs") (goal >= 0.9)"
