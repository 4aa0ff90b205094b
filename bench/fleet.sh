#!/bin/bash
# Fleet benchmark: a staged rollout driven to the end by simulated devices.
#
# Usage: bench/fleet.sh        (a few minutes on 2 cores with the defaults)
#
# DEVICES devices are registered straight into SQLite (like
# bench/checkin.sh); the first SIMULATED of them form group "sim", the rest
# group "idle". suitd starts, a PAYLOAD_SIZE payload and a signed manifest
# (test-only key) are uploaded, and a deployment to group "sim" is created
# with rollout {stages: [1, 10, 50, 100], success_threshold: 95,
# failure_threshold: 5}. Then build/suit-sim plays the SIMULATED devices
# in one process (one libcurl multi loop, CONCURRENCY transfers in flight,
# Cache-Control capped at MAX_POLL seconds) with FAIL_RATE injected install
# failures, until every device has finished its cycle. Meanwhile the
# script reads the deployment every second and prints when each stage
# opened and when it completed.
#
# Printed: time to completed (every stage open, nothing in progress) and
# the counts (confirmed must be SIMULATED minus the injected failures),
# requests per second by kind and latency from suit-sim's summary,
# unexpected errors (must be 0), suitd's peak RSS (VmHWM) and CPU seconds.
#
# Knobs: DEVICES=100000 SIMULATED=10000 PAYLOAD_SIZE=1048576 FAIL_RATE=0.01
# CONCURRENCY=256 MAX_POLL=5 TIMEOUT=1800 (seconds, then it fails)
# DEVICE_TIMEOUT=600 (the deployment's device_timeout: suit-sim downloads
# CONCURRENCY payloads at a time, so a device delivered in a big stage waits
# its turn without news; 100,000 simulated devices with 1 MiB payloads on 2
# cores need longer than 600 s, or a smaller PAYLOAD_SIZE).
# CONSOLE=1: a headless chromium follows the deployment's page in the web
# console meanwhile (bench/console_watch.mjs; the tools of tests/ui/, from
# `make check`): events it received, reads it made, long tasks.
# KEEP_DB=FILE: the database, once suitd has stopped, is copied to FILE
# (bench/migrate_data.sh starts from it).
# Everything on 127.0.0.1; the temp dir is removed and suitd stopped at exit.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
ROOT=$PWD

DEVICES=${DEVICES:-100000}
SIMULATED=${SIMULATED:-10000}
PAYLOAD_SIZE=${PAYLOAD_SIZE:-1048576}
FAIL_RATE=${FAIL_RATE:-0.01}
CONCURRENCY=${CONCURRENCY:-256}
MAX_POLL=${MAX_POLL:-5}
DEVICE_TIMEOUT=${DEVICE_TIMEOUT:-600}
TIMEOUT=${TIMEOUT:-1800}
[ "$SIMULATED" -le "$DEVICES" ] || die "SIMULATED ($SIMULATED) > DEVICES ($DEVICES)"

need=()
need_cmds curl openssl sqlite3 python3:python3-minimal
install_tools "${need[@]}"

tmp=$(mktemp -d)
SUITD_PID=
SIM_PID=
WATCH_PID=
cleanup() {
	if [ -n "$WATCH_PID" ]; then kill -TERM "$WATCH_PID" 2>/dev/null || true; fi
	if [ -n "$SIM_PID" ]; then kill -TERM "$SIM_PID" 2>/dev/null || true; fi
	if [ -n "$SUITD_PID" ]; then kill -TERM "$SUITD_PID" 2>/dev/null || true; fi
	# shellcheck disable=SC2086 # empty PIDs vanish
	kill_after 100 $SIM_PID $SUITD_PID
	if [ -n "${KEEP_DB:-}" ] && [ -f "${DB:-}" ]; then
		sqlite3 "$DB" ".backup '$KEEP_DB'" && echo "database kept as $KEEP_DB"
	fi
	backend_stop
	rm -rf "$tmp"
}
install_traps

print_machine
build_suitd
SIM=$ROOT/${BUILD:-build}/suit-sim
[ -x "$SIM" ] || die "no $SIM after make"
echo "suitd: $("$SUITD" -V 2>&1 | head -n1); $DEVICES registered, $SIMULATED simulated, payload $PAYLOAD_SIZE bytes, fail rate $FAIL_RATE"
print_tmpdir
backend_start
make_server_cert 30
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/author.key" 2>/dev/null
openssl pkey -in "$tmp/author.key" -pubout -out "$tmp/author.pub" 2>/dev/null
head -c "$PAYLOAD_SIZE" /dev/urandom >"$tmp/fw.bin"
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
connection_limit = 4096
# Every simulated device comes from 127.0.0.1 (CONCURRENCY at once).
per_address_connection_limit = 0
[storage]
$(storage_conf "$DB" full)
[devices]
auth = token
poll_interval = 300
poll_interval_active = 5
[manifests]
trust_anchor = $tmp/author.pub
[log]
level = notice
EOF
KEY=$(admin_key "$tmp/suitd.conf") || exit 1

t0=$(date +%s.%N)
python3 - "$DEVICES" "$SIMULATED" "$tmp/tokens" >"$tmp/devices.sql" <<'EOF'
import hashlib, os, sys, time
n, sim, tokens = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
now = int(time.time())
out = sys.stdout
out.write("BEGIN;\n")
with open(tokens, "w") as t:
    for i in range(1, n + 1):
        tok = "suitd_dt_fleet-%d" % i
        h = os.environ["SQL_BLOB"] % hashlib.sha256(tok.encode()).hexdigest()
        grp = "sim" if i <= sim else "idle"
        out.write("INSERT INTO devices (id, grp, attributes, token_hash, created_at) "
                  "VALUES ('fleet-%d', '%s', '{}', %s, %d);\n" % (i, grp, h, now))
        if i <= sim:
            t.write("fleet-%d %s\n" % (i, tok))
out.write("COMMIT;\n")
EOF
db_sql <"$tmp/devices.sql" || die "bulk insert failed"
rm -f "$tmp/devices.sql"
echo "registered $DEVICES devices in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"

start_suitd "$tmp/suitd.conf"
SUITD_BASE=https://127.0.0.1:$SUITD_PORT
wait_up "$SUITD_BASE/readyz" "$SUITD_PID" || { cat "$tmp/suitd.log" >&2; die "suitd did not start"; }
publish_firmware "$tmp/suitd.conf" fleet-v1
printf '{"manifest":"%s","target":{"group":"sim"},"rollout":{"stages":[1,10,50,100],"success_threshold":95,"failure_threshold":5,"device_timeout":%d}}' \
	"$DIGEST" "$DEVICE_TIMEOUT" >"$tmp/dep.json"
deploy_and_wait "$tmp/dep.json"
out=$DEP_OUT
DEP=$(printf '%s' "$out" | sed -n 's/^{"id":\([0-9]*\).*/\1/p')
echo "deployment $DEP to group sim: stages of $(printf '%s' "$out" | grep -o '"percent":[0-9]*,"open":[a-z]*,"opened_at":[^,]*,"devices":[0-9]*' | sed 's/.*"devices":\([0-9]*\)$/\1/' | tr '\n' ' ')devices"

cpu0=$(cpu_ticks "$SUITD_PID")
HZ=$(getconf CLK_TCK)
start=$(date +%s.%N)
"$SIM" --url "$SUITD_BASE" --cacert "$tmp/cert.pem" --trust-anchor "$tmp/author.pub" --tokens "$tmp/tokens" \
	--until-done --max-poll "$MAX_POLL" --fail-rate "$FAIL_RATE" --concurrency "$CONCURRENCY" \
	--seed 1 -q --summary "$tmp/summary.json" >"$tmp/sim.log" 2>&1 &
SIM_PID=$!
if [ "${CONSOLE:-0}" = 1 ]; then
	[ -d "$ROOT/tests/ui/node_modules/playwright-core" ] || die "CONSOLE=1 needs tests/ui/node_modules (make check)"
	node "$ROOT/bench/console_watch.mjs" "$SUITD_BASE" "$KEY" "$DEP" >"$tmp/console.txt" 2>&1 &
	WATCH_PID=$!
fi

# The deployment once a second: stage openings and completion.
watch_rollout "$DEP" "$SIM_PID" "$start" "$TIMEOUT"
done_at=$DONE_AT
sim_rc=0
wait "$SIM_PID" || sim_rc=$?
SIM_PID=
cpu1=$(cpu_ticks "$SUITD_PID")
hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$SUITD_PID/status")
out=$(api GET "/api/v1/deployments/$DEP")

echo
check=0
python3 - "$tmp/summary.json" "$out" "$SIMULATED" "$done_at" <<'EOF' || check=$?
import json, sys
s = json.load(open(sys.argv[1]))
dep = json.loads(sys.argv[2].rsplit("\n", 1)[0])
sim, done = int(sys.argv[3]), float(sys.argv[4])
c = dep["counts"]
wall = s["wall_seconds"]
print("figure: fleet_seconds %.1f s to completed, %d devices" % (done, sim))
print("figure: fleet_unexpected_errors %d errors" % s["errors"]["total"])
print("RESULT: %d simulated devices, staged [1, 10, 50, 100]: completed in %.1f s" % (sim, done))
print("  tracker: confirmed %d, failed %d, timed_out %d, other active %d" % (
    c["confirmed"], c["failed"], c["timed_out"],
    sum(c[k] for k in ("pending", "delivered", "downloading", "downloaded", "installing", "installed"))))
print("  injected: %s" % json.dumps(s["injected"]))
print("  unexpected errors: %d %s" % (s["errors"]["total"], json.dumps(s["errors"])))
for kind, r in s["requests"].items():
    print("  %-14s %8d requests  %8.1f/s  p50 %7.2f  p99 %7.2f ms  statuses %s" % (
        kind, r["count"], r["count"] / wall, r["p50_ms"], r["p99_ms"], json.dumps(r["status"])))
    if r["transport_errors"]:
        print("  %-14s transport errors by libcurl code: %s" % ("", json.dumps(r["transport_codes"])))
print("  bytes downloaded: %.1f MiB in %.1f s (%.1f MiB/s)" % (
    s["bytes_downloaded"] / 1048576, wall, s["bytes_downloaded"] / 1048576 / wall))
ok = (s["errors"]["total"] == 0 and c["confirmed"] + c["failed"] == sim
      and c["failed"] == s["injected"]["install_failures"])
sys.exit(0 if ok else 1)
EOF
# suitd's own account of trouble: its warnings and errors, counted.
if grep -q '^<[0-4]>' "$tmp/suitd.log"; then
	echo "  suitd warnings and errors (count, line with numbers as N):"
	grep '^<[0-4]>' "$tmp/suitd.log" | sed 's/[0-9][0-9]*/N/g' | sort | uniq -c | sort -rn | head -12
fi
if [ -n "$WATCH_PID" ]; then
	wait "$WATCH_PID" || { cat "$tmp/console.txt" >&2; die "the console watcher failed"; }
	WATCH_PID=
	cat "$tmp/console.txt"
fi
echo "  suitd: peak RSS (VmHWM) $((hwm / 1024)) MiB, CPU $(awk -v t=$((cpu1 - cpu0)) -v hz="$HZ" 'BEGIN { printf "%.1f", t / hz }') s; suit-sim exit $sim_rc"
if [ "$check" != 0 ] || [ "$sim_rc" != 0 ]; then
	die "unexpected errors or counts (see above)"
fi
