#!/bin/bash
# Event stream fan-out: STREAMS (default 1000) GET /api/v1/events streams on
# one deployment, all reading while DEVICES devices report a state change
# each, ROUNDS times. Measures the events/s the streams receive together,
# suitd's CPU and RSS with the streams idle and while they are fed.
#
# Usage: bench/events.sh          (about 1 minute on 2 cores)
#
# Setup as bench/reports.sh: DEVICES (default 1000) devices in group fleet
# inserted straight into SQLite with token hashes of "suitd_dt_bench-<n>",
# a 64 KiB payload and a manifest uploaded, a deployment to the group
# created through the API and marked delivered by one sqlite3 transaction.
# suitd: [events] max_streams = STREAMS + 16, connection_limit 4096, no
# per-address limit, synchronous = normal, threads = 0 (one per core).
#
# Then bench/sse_fanout (built from bench/sse_fanout.c, libcurl multi, one
# thread) opens STREAMS streams of /api/v1/events?deployment=ID over TLS.
# With all of them open and idle for IDLE seconds (default 10): suitd's CPU
# (utime + stime) and RSS. Then ROUNDS (default 3) times: the assignments
# are set back to delivered (sqlite3; a plain sqlite3 connection writes no
# event) and every device sends one "downloading" report (wrk,
# bench/reports.lua "once"), each moving its assignment and writing one
# event, which every stream receives (each round sends other report bodies:
# an exact replay of a device's newest report would move nothing). sse_fanout ends 3 s after the last
# event and prints the events it received (all streams), the time from the
# first to the last, the fewest and most of one stream and the overflows.
# Checked: every stream received exactly the events the log holds for the
# deployment since the streams opened (no overflow, no loss), wrk's answers
# all 204.
#
# Knobs: STREAMS=1000 DEVICES=1000 ROUNDS=3 IDLE=10 CONNS=32. Everything
# listens on 127.0.0.1; the temp dir is removed and suitd stopped at exit.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
ROOT=$PWD

STREAMS=${STREAMS:-1000}
DEVICES=${DEVICES:-1000}
ROUNDS=${ROUNDS:-3}
IDLE=${IDLE:-10}
CONNS=${CONNS:-32}
THREADS=2

need=()
need_cmds wrk curl openssl sqlite3 python3:python3-minimal
install_tools "${need[@]}"

tmp=$(mktemp -d)
SUITD_PID= FAN_PID=
cleanup() {
	[ -z "$FAN_PID" ] || kill "$FAN_PID" 2>/dev/null || true
	if [ -n "$SUITD_PID" ]; then
		kill -TERM "$SUITD_PID" 2>/dev/null || true
		kill_after 100 "$SUITD_PID"
	fi
	backend_stop
	rm -rf "$tmp"
}
install_traps

rss_kib() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$SUITD_PID/status"; }
hwm_kib() { awk '$1 == "VmHWM:" { print $2 }' "/proc/$SUITD_PID/status"; }

print_machine
if [ -n "${BUILD:-}" ] && [ -x "$ROOT/$BUILD/suitd" ]; then
	SUITD=$ROOT/$BUILD/suitd
elif [ -x "$ROOT/build/suitd" ]; then
	SUITD=$ROOT/build/suitd
else
	build_suitd
fi
cp "$SUITD" "$tmp/suitd" || die "cannot copy $SUITD"
SUITD=$tmp/suitd
echo "suitd: $("$SUITD" -V 2>&1 | head -n1), threads = 0 (one per core)"
FAN=$tmp/sse_fanout
# shellcheck disable=SC2046 # pkg-config prints several words
cc -O2 -o "$FAN" "$ROOT/bench/sse_fanout.c" $(pkg-config --cflags --libs libcurl) 2>"$tmp/cc.log" ||
	{ cat "$tmp/cc.log" >&2; die "building sse_fanout failed"; }
print_tmpdir
backend_start

make_server_cert 30
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/author.key" 2>/dev/null &&
	openssl pkey -in "$tmp/author.key" -pubout -out "$tmp/author.pub" 2>/dev/null || die "openssl failed"
head -c 65536 /dev/urandom >"$tmp/fw.bin"
mkdir -p "$tmp/db"
DB=$tmp/db/suitd.db
port=$(free_port) || die "no free port"
SUITD_BASE=https://127.0.0.1:$port
SUITD_CONF=$tmp/suitd.conf
{
	CONNECTION_LIMIT=4096 suitd_base_conf "$port" "$DB"
	cat <<EOF
[devices]
auth = token
[manifests]
trust_anchor = $tmp/author.pub
[events]
max_streams = $((STREAMS + 16))
[log]
level = warning
EOF
} >"$SUITD_CONF"
KEY=$(admin_key "$SUITD_CONF") || exit 1
python3 - "$DEVICES" >"$tmp/devices.sql" <<'EOF'
import hashlib, os, sys, time
n = int(sys.argv[1])
now = int(time.time())
print("PRAGMA journal_mode = WAL;\nBEGIN;")
for i in range(1, n + 1):
    h = os.environ["SQL_BLOB"] % hashlib.sha256(b"suitd_dt_bench-%d" % i).hexdigest()
    print("INSERT INTO devices (id, grp, attributes, token_hash, created_at) "
          "VALUES ('bench-%d', 'fleet', '{}', %s, %d);" % (i, h, now))
print("COMMIT;")
EOF
db_sql <"$tmp/devices.sql" || die "bulk insert failed"
start_suitd "$SUITD_CONF"
wait_up "$SUITD_BASE/readyz" "$SUITD_PID" || { cat "$tmp/suitd.log" >&2; die "suitd did not start"; }
publish_firmware "$SUITD_CONF" bench-v1 "events benchmark"
printf '{"name":"bench events","manifest":"%s","target":{"group":"fleet"}}' "$DIGEST" >"$tmp/dep.json"
deploy_and_wait "$tmp/dep.json"
out=$DEP_OUT
DEP_ID=$(printf '%s' "$out" | sed -n 's/.*"id":\([0-9]*\).*/\1/p')
echo "$DEVICES devices, deployment $DEP_ID to group fleet"

# ---- streams ------------------------------------------------------------------
rss0=$(rss_kib)
t_open=$(date +%s.%N)
"$FAN" -n "$STREAMS" -H "Authorization: Bearer $KEY" --cacert "$tmp/cert.pem" --quiet 3 --max 600 \
	"$SUITD_BASE/api/v1/events?deployment=$DEP_ID" >"$tmp/fan.txt" 2>&1 &
FAN_PID=$!
for _ in $(seq 1 600); do
	grep -qs '^ready' "$tmp/fan.txt" && break
	kill -0 "$FAN_PID" 2>/dev/null || { cat "$tmp/fan.txt" >&2; die "sse_fanout ended"; }
	sleep 0.1
done
grep -q '^ready' "$tmp/fan.txt" || die "the $STREAMS streams did not open in 60 s"
t_ready=$(date +%s.%N)
streams=$(curl -sk "$SUITD_BASE/metrics" | awk '$1 == "suitd_event_streams" { print $2 }')
[ "$streams" = "$STREAMS" ] || die "suitd_event_streams is $streams, expected $STREAMS"
echo "opened $STREAMS streams in $(awk -v a="$t_open" -v b="$t_ready" 'BEGIN { printf "%.1f", b - a }') s; suitd RSS $((rss0 / 1024)) MiB before, $(($(rss_kib) / 1024)) MiB with them"
c0=$(cpu_ticks "$SUITD_PID")
sleep "$IDLE"
c1=$(cpu_ticks "$SUITD_PID")
echo "idle: suitd used $(awk -v t=$((c1 - c0)) -v hz="$HZ" -v s="$IDLE" 'BEGIN { printf "%.3f CPU-s in %d s (%.1f %%)", t / hz, s, t / hz / s * 100 }') with $STREAMS idle streams; RSS $(($(rss_kib) / 1024)) MiB"

# ---- feed -------------------------------------------------------------------------
ev0=$(db_query "SELECT coalesce(max(id), 0) FROM events")
c0=$(cpu_ticks "$SUITD_PID")
for i in $(seq 1 "$ROUNDS"); do
	db_sql_no_events "UPDATE assignments SET state = 'delivered' WHERE deployment_id = $DEP_ID"
	timeout 150 wrk -t"$THREADS" -c"$CONNS" -d120s -s "$ROOT/bench/reports.lua" "$SUITD_BASE/device/v1/reports" \
		-- once "$DIGEST" "$DEVICES" 0 "$THREADS" "$i" >"$tmp/wrk.txt" 2>&1 || { cat "$tmp/wrk.txt" >&2; die "wrk failed"; }
	summary=$(grep '^reports:' "$tmp/wrk.txt") || { cat "$tmp/wrk.txt" >&2; die "round $i: no summary from reports.lua"; }
	# Only 204s; a request wrk sent after its thread was done may go
	# unanswered (seen as sent > answered): the events counted below are
	# the log's, whatever the number of reports.
	[ -z "$(printf '%s' "$summary" | grep -o 'status=[0-9]*' | grep -v 'status=204')" ] ||
		{ cat "$tmp/wrk.txt" >&2; die "round $i: answers other than 204: $summary"; }
	n204=$(printf '%s' "$summary" | sed -n 's/.*status=204:\([0-9]*\).*/\1/p')
	[ "$n204" = "$DEVICES" ] || echo "round $i: $n204 of $DEVICES reports answered ($summary)"
done
wait "$FAN_PID" || die "sse_fanout failed"
FAN_PID=
c1=$(cpu_ticks "$SUITD_PID")
line=$(grep '^streams=' "$tmp/fan.txt")
want=$(db_query "SELECT count(*) FROM events WHERE id > $ev0 AND deployment_id = $DEP_ID")
events=$(field events "$line") secs=$(field seconds "$line")
echo "fed: $ROUNDS rounds of $DEVICES state changes, $want events of the deployment in the log"
[ "$want" -gt 0 ] || die "no events in the log"
echo "sse_fanout: $line"
[ "$(field min "$line")" = "$want" ] && [ "$(field max "$line")" = "$want" ] ||
	die "a stream did not receive exactly the $want events (min $(field min "$line"), max $(field max "$line"))"
[ "$(field overflows "$line")" = 0 ] || die "streams overflowed"
cpu=$(awk -v t=$((c1 - c0)) -v hz="$HZ" 'BEGIN { printf "%.2f", t / hz }')
echo
echo "RESULTS ($STREAMS streams on one deployment, $want events each)"
printf '%-44s %s\n' "events delivered, all streams" "$events"
printf '%-44s %s\n' "seconds, first to last event" "$secs"
printf '%-44s %s\n' "events/s delivered" "$(field eps "$line")"
printf '%-44s %s\n' "suitd CPU-s while fed (with the reports)" "$cpu"
printf '%-44s %s\n' "suitd CPU-s per 100,000 deliveries" "$(awk -v c="$cpu" -v e="$events" 'BEGIN { printf "%.3f", (e > 0 ? c / e * 100000 : 0) }')"
printf '%-44s %s\n' "suitd RSS now / peak, MiB" "$(($(rss_kib) / 1024)) / $(($(hwm_kib) / 1024))"
printf '%-44s %s\n' "sse_fanout CPU-s" "$(field cpu "$line")"
echo "(client and server share the same $(nproc) cores)"
