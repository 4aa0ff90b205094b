#!/bin/bash
# hawkBit DDI benchmark (issue 20): the cost of DDI's "nothing to do" poll
# against the device API's check-in, and a staged rollout to DDI devices.
#
# Usage: bench/ddi.sh        (about 3 minutes on 2 cores with the defaults)
#
# DEVICES devices bench-1..bench-N are registered straight into SQLite
# (like bench/checkin.sh: token "suitd_dt_bench-<n>", only its SHA-256
# stored), group "fleet", attributes {"hw":"bench"} (a DDI device that has
# sent its configData once, so no configData link).
#
# Part 1, polls with nothing to do, ROUNDS rounds of two runs each, in this
# order: `device` (GET /device/v1/manifest?seq=0, Bearer token: 204) and
# `ddi` (GET /DEFAULT/controller/v1/bench-<n>, TargetToken: 200 with
# polling.sleep and no deploymentBase), each wrk -tTHREADS -cCONNS
# -dSECONDS --latency -s bench/ddi.lua, one device per request. Reported:
# median requests/s and p99 of each, and the ratio ddi/device (goal >= 0.9).
# A DDI poll reads one SQLite row set (cancels, installedBase, attributes)
# on top of what the check-in does, and writes a JSON body.
#
# Part 2, a staged rollout to every device over DDI: a PAYLOAD_SIZE payload
# named fw.swu and a signed manifest (test-only key) are uploaded; a
# deployment to group fleet with rollout {stages: [1, 10, 50, 100],
# success_threshold: 95, failure_threshold: 5}; then build/suit-sim
# --protocol ddi plays every device (CONCURRENCY transfers, polling.sleep
# capped at MAX_POLL seconds, FAIL_RATE install failures) until each has
# finished its cycle. Printed: time to completed, the tracker's counts
# (confirmed + failed must be DEVICES; failed must equal suit-sim's failed
# outcomes), requests by kind, unexpected errors (must be 0).
#
# Knobs: DEVICES=10000 ROUNDS=3 SECONDS_PER_RUN=10 CONNS=16 THREADS=2
# PAYLOAD_SIZE=65536 FAIL_RATE=0.01 CONCURRENCY=256 MAX_POLL=5 TIMEOUT=1800
# IDLE_WAIT=120. Everything on 127.0.0.1; the temp dir is removed and suitd
# stopped at exit.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
ROOT=$PWD

DEVICES=${DEVICES:-10000}
ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
CONNS=${CONNS:-16}
THREADS=${THREADS:-2}
PAYLOAD_SIZE=${PAYLOAD_SIZE:-65536}
FAIL_RATE=${FAIL_RATE:-0.01}
CONCURRENCY=${CONCURRENCY:-256}
MAX_POLL=${MAX_POLL:-5}
TIMEOUT=${TIMEOUT:-1800}
IDLE_WAIT=${IDLE_WAIT:-120}

need=()
need_cmds curl openssl sqlite3 wrk python3:python3-minimal
install_tools "${need[@]}"

tmp=$(mktemp -d)
SUITD_PID=
SIM_PID=
cleanup() {
	if [ -n "$SIM_PID" ]; then kill -TERM "$SIM_PID" 2>/dev/null || true; fi
	if [ -n "$SUITD_PID" ]; then kill -TERM "$SUITD_PID" 2>/dev/null || true; fi
	# shellcheck disable=SC2086 # empty PIDs vanish
	kill_after 100 $SIM_PID $SUITD_PID
	backend_stop
	rm -rf "$tmp"
}
install_traps

print_machine
build_suitd
make ${BUILD:+BUILD=$BUILD} "${BUILD:-build}/suit-sim" >"$tmp/make.log" 2>&1 ||
	{ cat "$tmp/make.log" >&2; die "make failed"; }
SIM=$ROOT/${BUILD:-build}/suit-sim
echo "suitd: $("$SUITD" -V 2>&1 | head -n1); $DEVICES devices; wrk -t$THREADS -c$CONNS -d${SECONDS_PER_RUN}s x $ROUNDS rounds"
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
{
	CONNECTION_LIMIT=4096 suitd_base_conf "$SUITD_PORT" "$DB"
	printf '%s\n' "[devices]" "auth = token" "poll_interval = 300" "poll_interval_active = 5" \
		"seen_flush = 60" "[manifests]" "trust_anchor = $tmp/author.pub" "[ddi]" \
		"enabled = on" "[log]" "level = warning"
} >"$tmp/suitd.conf"
KEY=$(admin_key "$tmp/suitd.conf") || exit 1

python3 - "$DEVICES" "$tmp/tokens" >"$tmp/devices.sql" <<'PY'
import hashlib, os, sys, time
n, tokens = int(sys.argv[1]), sys.argv[2]
now = int(time.time())
out = sys.stdout
out.write("BEGIN;\n")
with open(tokens, "w") as t:
    for i in range(1, n + 1):
        tok = "suitd_dt_bench-%d" % i
        h = os.environ["SQL_BLOB"] % hashlib.sha256(tok.encode()).hexdigest()
        out.write("INSERT INTO devices (id, grp, attributes, token_hash, created_at) "
                  "VALUES ('bench-%d', 'fleet', '{\"hw\":\"bench\"}', %s, %d);\n" % (i, h, now))
        t.write("bench-%d %s\n" % (i, tok))
out.write("COMMIT;\n")
PY
db_sql <"$tmp/devices.sql" || die "bulk insert failed"
rm -f "$tmp/devices.sql"

start_suitd "$tmp/suitd.conf"
SUITD_BASE=https://127.0.0.1:$SUITD_PORT
wait_up "$SUITD_BASE/readyz" "$SUITD_PID" || { cat "$tmp/suitd.log" >&2; die "suitd did not start"; }

# --- part 1: polls with nothing to do ------------------------------------
wait_load_below 0.6 "$IDLE_WAIT"
declare -A RPS P99
for round in $(seq 1 "$ROUNDS"); do
	for mode in device ddi; do
		wrk -t"$THREADS" -c"$CONNS" -d"${SECONDS_PER_RUN}s" --latency -s bench/ddi.lua \
			"$SUITD_BASE" -- "$mode" "$DEVICES" "$THREADS" >"$tmp/wrk.$mode.$round" 2>&1 ||
			{ cat "$tmp/wrk.$mode.$round" >&2; die "wrk failed"; }
		read -r rps n _ _ p99 errs <<<"$(wrk_parse "$tmp/wrk.$mode.$round")"
		line=$(grep '^poll:' "$tmp/wrk.$mode.$round")
		want=204
		[ "$mode" = ddi ] && want=200
		case $line in
		"poll: status=$want:$n bad_body=0 "*) ;;
		*) die "$mode round $round: $line (wrk: $n requests)" ;;
		esac
		[ "$errs" = 0 ] || die "$mode round $round: $errs socket errors"
		RPS[$mode]="${RPS[$mode]:-} $rps"
		P99[$mode]="${P99[$mode]:-} $p99"
		printf '  round %d %-6s %9.0f req/s  p99 %6.2f ms\n' "$round" "$mode" "$rps" "$p99"
	done
done
# shellcheck disable=SC2086 # one number per word
dev_rps=$(median ${RPS[device]})
# shellcheck disable=SC2086
ddi_rps=$(median ${RPS[ddi]})
# shellcheck disable=SC2086
dev_p99=$(median ${P99[device]})
# shellcheck disable=SC2086
ddi_p99=$(median ${P99[ddi]})
echo "RESULT polls: device API $dev_rps req/s (p99 $dev_p99 ms), DDI $ddi_rps req/s (p99 $ddi_p99 ms), ratio ddi/device $(ratio "$ddi_rps" "$dev_rps") (goal >= 0.9)"

# --- part 2: a staged rollout to every device over DDI --------------------
out=$(api POST "/api/v1/payloads?name=fw.swu" application/octet-stream "$tmp/fw.bin")
[ "${out##*$'\n'}" = 201 ] || die "payload upload: $out"
SHA=$(printf '%s' "$out" | sed -n 's/.*"sha256":"\([0-9a-f]\{64\}\)".*/\1/p')
"$SUITD" -c "$tmp/suitd.conf" manifest create --key "$tmp/author.key" --payload "$tmp/fw.bin" \
	--vendor-domain example.com --class-info ddi-bench --sequence 1 \
	--uri "$SUITD_BASE/device/v1/payloads/$SHA" -o "$tmp/m.suit" 2>"$tmp/manifest.log" ||
	{ cat "$tmp/manifest.log" >&2; die "manifest create failed"; }
out=$(api POST /api/v1/manifests application/suit-envelope+cose "$tmp/m.suit")
[ "${out##*$'\n'}" = 201 ] || die "manifest upload: $out"
DIGEST=$(manifest_digest "$out")
printf '{"manifest":"%s","target":{"group":"fleet"},"rollout":{"stages":[1,10,50,100],"success_threshold":95,"failure_threshold":5,"device_timeout":600}}' \
	"$DIGEST" >"$tmp/dep.json"
deploy_and_wait "$tmp/dep.json"
out=$DEP_OUT
DEP=$(printf '%s' "$out" | sed -n 's/^{"id":\([0-9]*\).*/\1/p')

start=$(date +%s.%N)
"$SIM" --protocol ddi --url "$SUITD_BASE" --cacert "$tmp/cert.pem" --tokens "$tmp/tokens" \
	--until-done --max-poll "$MAX_POLL" --fail-rate "$FAIL_RATE" --concurrency "$CONCURRENCY" \
	--seed 1 -q --summary "$tmp/summary.json" >"$tmp/sim.log" 2>&1 &
SIM_PID=$!
watch_rollout "$DEP" "$SIM_PID" "$start" "$TIMEOUT"
done_at=$DONE_AT
sim_rc=0
wait "$SIM_PID" || sim_rc=$?
SIM_PID=
out=$(api GET "/api/v1/deployments/$DEP")
check=0
python3 - "$tmp/summary.json" "$out" "$DEVICES" "$done_at" <<'PY' || check=$?
import json, sys
s = json.load(open(sys.argv[1]))
dep = json.loads(sys.argv[2].rsplit("\n", 1)[0])
n, done = int(sys.argv[3]), float(sys.argv[4])
c = dep["counts"]
wall = s["wall_seconds"]
print("RESULT rollout: %d DDI devices, stages [1, 10, 50, 100]: completed in %.1f s" % (n, done))
print("  tracker: confirmed %d, failed %d, timed_out %d" % (c["confirmed"], c["failed"], c["timed_out"]))
print("  suit-sim: confirmed %d, failed (injected) %d, errored cycles %d" % (
    s["cycles_done"], s["failed"], s["errored_cycles"]))
print("  unexpected errors: %d %s" % (s["errors"]["total"], json.dumps(s["errors"])))
for kind, r in s["requests"].items():
    print("  %-14s %8d requests  %8.1f/s  p50 %7.2f  p99 %7.2f ms  statuses %s" % (
        kind, r["count"], r["count"] / wall, r["p50_ms"], r["p99_ms"], json.dumps(r["status"])))
ok = (s["errors"]["total"] == 0 and c["confirmed"] + c["failed"] == n
      and c["failed"] == s["failed"] and c["confirmed"] == s["cycles_done"])
sys.exit(0 if ok else 1)
PY
if [ "$check" != 0 ] || [ "$sim_rc" != 0 ]; then
	die "unexpected errors or counts (see above); suit-sim exit $sim_rc"
fi
