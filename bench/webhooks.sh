#!/bin/bash
# Webhook benchmark: deliveries per second to a local HTTPS receiver.
#
# Usage: bench/webhooks.sh         (under a minute; EVENTS=20000 WEBHOOKS=1
#                                   SYNC=full by default)
#
# suitd runs with [storage] synchronous = $SYNC and one (or WEBHOOKS)
# webhook(s) for every event type to bench/webhook_receiver.c (libmicrohttpd
# + GnuTLS, 2 threads, answers 204 at once) on 127.0.0.1, its certificate
# given as [events] webhook_cacert, allow_private_webhooks = on. EVENTS
# events are appended to the log in one sqlite3 transaction while suitd
# runs (type bench.event, as the log's own writers would; the delivery
# thread finds them at its next look at the log, within a second). The
# clock runs from that commit until suitd_webhook_deliveries_total{result="ok"}
# reaches EVENTS x WEBHOOKS. Reported: deliveries/s, suitd's CPU-seconds
# per 1000 deliveries, the receiver's count (it must match).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/lib.sh"
EVENTS=${EVENTS:-20000}
WEBHOOKS=${WEBHOOKS:-1}
SYNC=${SYNC:-full}

need=()
need_cmds curl openssl sqlite3 ss:iproute2 cc:gcc pkg-config
install_tools "${need[@]}"

tmp=$(mktemp -d)
SUITD_PID='' RX_PID=''
cleanup() {
	[ -n "$SUITD_PID" ] && kill "$SUITD_PID" 2>/dev/null && kill_after 100 "$SUITD_PID"
	[ -n "$RX_PID" ] && kill "$RX_PID" 2>/dev/null && kill_after 50 "$RX_PID"
	backend_stop
	rm -rf "$tmp"
}
install_traps

print_machine
build_suitd
RX=$ROOT/${BUILD:-build}/bench/webhook_receiver
mkdir -p "${RX%/*}"
# shellcheck disable=SC2046 # pkg-config prints several words
cc -O2 -o "$RX" "$ROOT/bench/webhook_receiver.c" $(pkg-config --cflags --libs libmicrohttpd) -lpthread \
	2>"$tmp/cc.log" || { cat "$tmp/cc.log" >&2; die "building the receiver failed"; }
make_server_cert 2
print_tmpdir
backend_start

port=$(free_port) || die "no free port"
rx_port=$(free_port "$port") || die "no free port"
"$RX" "$rx_port" "$tmp/cert.pem" "$tmp/key.pem" >"$tmp/rx.out" 2>&1 &
RX_PID=$!
for _ in $(seq 1 50); do grep -q ready "$tmp/rx.out" && break; sleep 0.1; done
grep -q ready "$tmp/rx.out" || die "the receiver did not start"

{
	suitd_base_conf "$port" "$tmp/suitd.db" | sed "s/^synchronous = normal$/synchronous = $SYNC/"
	cat <<CONF
[events]
allow_private_webhooks = on
webhook_cacert = $tmp/cert.pem
[log]
level = notice
CONF
} >"$tmp/suitd.conf"
# shellcheck disable=SC2034 # read by api() in lib.sh
KEY=$(admin_key "$tmp/suitd.conf") || exit 1
start_suitd "$tmp/suitd.conf"
SUITD_BASE=https://127.0.0.1:$port
wait_up "$SUITD_BASE/readyz" "$SUITD_PID" || die "suitd did not start: $(tail -n5 "$tmp/suitd.log")"
for i in $(seq 1 "$WEBHOOKS"); do
	printf '{"url": "https://127.0.0.1:%s/hook/%s"}' "$rx_port" "$i" >"$tmp/wh.json"
	out=$(api POST /api/v1/webhooks application/json "$tmp/wh.json")
	[ "$(tail -n1 <<<"$out")" = 201 ] || die "webhook create: $out"
done

ok_count() {
	curl -sk "$SUITD_BASE/metrics" | awk '$1 == "suitd_webhook_deliveries_total{result=\"ok\"}" { print $2 }'
}
base=$(ok_count)
want=$((EVENTS * WEBHOOKS))
cpu0=$(cpu_ticks "$SUITD_PID")
if [ "$BACKEND" = postgresql ]; then
	# The writer lock of suitd's transactions (storage/postgresql/pg_events.c)
	# keeps event ids in commit order.
	pg_psql <<SQL >/dev/null
BEGIN;
SELECT pg_advisory_xact_lock(8319671835259531881);
INSERT INTO events (at, type, actor, subject, data)
	SELECT (extract(epoch FROM now()) * 1000)::bigint, 'bench.event', 'system',
		'bench:' || i, json_build_object('i', i)::text FROM generate_series(1, $EVENTS) i;
COMMIT;
SQL
else
sqlite3 "$tmp/suitd.db" <<SQL
.timeout 10000
BEGIN IMMEDIATE;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $EVENTS)
INSERT INTO events (at, type, actor, subject, data)
	SELECT CAST(strftime('%s', 'now') AS INTEGER) * 1000, 'bench.event', 'system',
		'bench:' || i, json_object('i', i) FROM n;
COMMIT;
SQL
fi
t0=$(date +%s.%N)
done_n=0
for _ in $(seq 1 6000); do
	done_n=$(( $(ok_count) - base ))
	[ "$done_n" -ge "$want" ] && break
	sleep 0.05
done
t1=$(date +%s.%N)
cpu1=$(cpu_ticks "$SUITD_PID")
kill -USR1 "$RX_PID"
sleep 0.2
received=$(tail -n1 "$tmp/rx.out")
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
echo "events: $EVENTS, webhooks: $WEBHOOKS, synchronous = $SYNC"
echo "delivered: $done_n of $want in ${secs}s (the receiver counted $received)"
echo "deliveries/s: $(awk -v n="$done_n" -v s="$secs" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }')"
echo "suitd CPU-s per 1000 deliveries: $(awk -v c=$((cpu1 - cpu0)) -v hz="$HZ" -v n="$done_n" \
	'BEGIN { printf "%.3f", (n > 0 ? c / hz / n * 1000 : 0) }')"
echo "retries: $(curl -sk "$SUITD_BASE/metrics" | awk '$1 == "suitd_webhook_deliveries_total{result=\"retry\"}" { print $2 }')"
[ "$done_n" -ge "$want" ] || die "not every event was delivered"
