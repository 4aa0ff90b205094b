#!/bin/bash
# A million devices on one node (issue 15): bulk onboarding, memory and
# start-up, a deployment to 900,000 devices while devices poll, and
# check-ins rotating over every token.
#
# Usage: bench/million.sh            (about 6 minutes on 2 cores)
#        DEVICES=200000 bench/million.sh   (a smaller run)
#
# Steps, each reported:
#   1. import: DEVICES lines of NDJSON ({"id":"dev-N","group":G,"token":
#      "suitd_dt_bench-N"}, G = "canary" when N is a multiple of 10, else
#      "fleet") posted to /api/v1/devices/import by curl: time, rows/s.
#   2. restart: time from exec to /readyz 200, RSS idle (the devices and
#      their hashed tokens are in SQLite only; nothing per device is loaded
#      at start).
#   3. check-ins over every token vs over the first 100,000 (the set of
#      bench/checkin.sh), no deployment yet: wrk -t2 -cCONNS -dSECONDS with
#      bench/checkin.lua, mode idle, every answer 204. Ratio all/100k (goal
#      >= 0.9), with each token new to the token cache (an indexed SQLite
#      lookup and an insertion each), then the same tokens again (cached, as
#      a fleet's second and later polls are).
#   4. a deployment to group "fleet" (90 % of the devices) with stages
#      [1, 10, 100]: the POST's answer time, then the preparation (slices
#      of ~50 ms, tracker/fanout.c) while wrk polls with the canary
#      devices' tokens (mode deployed: they have nothing to do, 204), and
#      4 connections post progress reports as 1,000 more devices on a
#      deployment of their own (bench/reports.lua, committed writes): p50/p99 of both during the fan-out; the time to
#      prepared, the longest slice and the 99th percentile of the slices,
#      from suitd's log line.
#   5. RSS with every fleet device's assignment in the check-in index, and
#      the bytes per device of that index ((RSS after - RSS idle) / devices).
#   6. restart with the active assignments: time to ready, RSS.
#   7. list pages at depth: GET /api/v1/devices with each filter (and a
#      deployment's devices), the first page and a page from a cursor in the
#      middle of the filter's order (read from the database with sqlite3):
#      the server's part of the request (curl's time_starttransfer minus
#      time_appconnect), median of 5, limit 100 (goal < 5 ms).
#
# Knobs: DEVICES=1000000 CONNS=16 SECONDS_PER_RUN=10. Everything listens on
# 127.0.0.1; the temp dir (about 1 GB at a million) is removed at exit.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
ROOT=$PWD

DEVICES=${DEVICES:-1000000}
CONNS=${CONNS:-16}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}

need=()
need_cmds wrk curl openssl sqlite3 python3:python3-minimal
install_tools "${need[@]}"

tmp=$(mktemp -d)
SUITD_PID=
suitd_only_traps

rss_mib() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

# Stop suitd, start it again, print the time from exec to /readyz 200.
restart_timed() {
	local t0
	kill -TERM "$SUITD_PID"
	wait "$SUITD_PID" || true
	t0=$(now)
	start_suitd "$tmp/suitd.conf"
	until [ "$(curl -sk -o /dev/null -w '%{http_code}' "$SUITD_BASE/readyz" || true)" = 200 ]; do
		kill -0 "$SUITD_PID" 2>/dev/null || { cat "$tmp/suitd.log" >&2; die "suitd did not start"; }
		sleep 0.01
	done
	echo "   exec to /readyz 200: $(since "$t0") s"
}

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
SUITD_PORT=$(free_port) || die "no free port"
{
	suitd_base_conf "$SUITD_PORT" "$tmp/db/suitd.db"
	cat <<EOF
[devices]
auth = token
seen_flush = 60
[manifests]
trust_anchor = $tmp/author.pub
[log]
level = notice
EOF
} >"$tmp/suitd.conf"
KEY=$(admin_key "$tmp/suitd.conf") || exit 1
SUITD_BASE=https://127.0.0.1:$SUITD_PORT

python3 - "$DEVICES" >"$tmp/devices.ndjson" <<'EOF'
import sys
n = int(sys.argv[1])
w = sys.stdout.write
for i in range(1, n + 1):
    w('{"id":"dev-%d","group":"%s","token":"suitd_dt_bench-%d"}\n'
      % (i, "canary" if i % 10 == 0 else "fleet", i))
EOF

start_suitd "$tmp/suitd.conf"
wait_up "$SUITD_BASE/readyz" "$SUITD_PID" || { cat "$tmp/suitd.log" >&2; die "suitd did not start"; }

echo
echo "1. import of $DEVICES devices (POST /api/v1/devices/import, one request)"
t0=$(now)
out=$(api POST /api/v1/devices/import application/x-ndjson "$tmp/devices.ndjson")
took=$(since "$t0")
[ "${out##*$'\n'}" = 200 ] || die "import: $out"
created=$(printf '%s' "$out" | sed -n 's/.*"created": *\([0-9]*\).*/\1/p' | head -n1)
[ "$created" = "$DEVICES" ] || die "import created $created of $DEVICES: $out"
echo "   $created created in $took s: $(awk -v n="$created" -v s="$took" 'BEGIN { printf "%.0f", n / s }') rows/s"

echo
echo "2. restart with $DEVICES devices"
restart_timed
sleep 2
RSS_IDLE=$(rss_mib "$SUITD_PID")
echo "   RSS idle: $RSS_IDLE MiB"

run_wrk() { # label mode set
	wrk -t2 -c"$CONNS" -d"${SECONDS_PER_RUN}s" --latency -s bench/checkin.lua \
		"$SUITD_BASE/device/v1/manifest?seq=0" -- "$2" "$3" 204 0 2 >"$tmp/wrk-$1.txt" 2>&1 ||
		{ cat "$tmp/wrk-$1.txt" >&2; die "wrk $1 failed"; }
	local statuses
	statuses=$(grep '^checkin:' "$tmp/wrk-$1.txt" | grep -o 'status=[0-9]*:[0-9]*' | tr '\n' ' ')
	case $statuses in
	"status=204:"[0-9]*" ") ;;
	*) cat "$tmp/wrk-$1.txt" >&2; die "wrk $1: answers other than 204: $statuses" ;;
	esac
	read -r rps _ _ p50 p99 errs < <(wrk_parse "$tmp/wrk-$1.txt")
	printf '   %-28s %9.0f req/s  p50 %7.3f  p99 %7.3f ms  socket errors %d\n' "$1" "$rps" "$p50" "$p99" "$errs"
}

echo
echo "3. check-ins, keep-alive, a new token per request (wrk -t2 -c$CONNS -d${SECONDS_PER_RUN}s)"
small=$((DEVICES < 100000 ? DEVICES : 100000))
run_wrk "(warm-up, first $small)" idle "$small"
run_wrk "first $small devices" idle "$small"
rps_small=$rps
run_wrk "all $DEVICES devices" idle "$DEVICES"
rps_all=$rps
# The same tokens again: a fleet polling every few minutes finds its tokens
# in the cache from its second poll on (TOKEN_CACHE_MAX is 1,000,000).
run_wrk "all, again (tokens cached)" idle "$DEVICES"
rps_again=$rps
echo "   all/first: $(ratio "$rps_all" "$rps_small") with each token new to the cache," \
	"$(ratio "$rps_again" "$rps_small") once cached (goal >= 0.9)"

# The reporters of step 4: devices DEVICES+1 .. DEVICES+1000.
python3 - "$DEVICES" >"$tmp/reporters.ndjson" <<'EOF'
import sys
n = int(sys.argv[1])
for i in range(n + 1, n + 1001):
    print('{"id":"dev-%d","group":"reporters","token":"suitd_dt_bench-%d"}' % (i, i))
EOF
out=$(api POST /api/v1/devices/import application/x-ndjson "$tmp/reporters.ndjson")
[ "${out##*$'\n'}" = 200 ] || die "reporters' import: $out"

echo
echo "4. deployment to group fleet ($((DEVICES - DEVICES / 10)) devices), stages [1, 10, 100]"
publish_firmware "$tmp/suitd.conf" bench-v1
printf '{"manifest":"%s","target":{"group":"fleet"},"rollout":{"stages":[1,10,100]}}' \
	"$DIGEST" >"$tmp/dep.json"
printf '{"manifest":"%s","target":{"group":"reporters"}}' "$DIGEST" >"$tmp/dep-reporters.json"
t0=$(now)
out=$(api POST /api/v1/deployments application/json "$tmp/dep.json")
echo "   POST answered in $(since "$t0") s: $(printf '%s' "$out" | grep -o '"status":"[a-z]*"' | head -n1)"
[ "${out##*$'\n'}" = 201 ] || die "deployment: $out"
# The canary devices poll meanwhile (nothing to do for them: 204), and
# 1,000 more devices (registered before, group "reporters", a deployment of
# their own) report progress: each report a committed write, so the group
# commit waits for the write lock between the slices.
out=$(api POST /api/v1/deployments application/json "$tmp/dep-reporters.json")
[ "${out##*$'\n'}" = 201 ] || die "reporters' deployment: $out"
# Each reporter fetches its manifest first (a report before the delivery is
# 409): one curl, one connection, a check-in per device.
# (`next` resets the options: each block repeats them.)
for i in $(seq $((DEVICES + 1)) $((DEVICES + 1000))); do
	[ "$i" = $((DEVICES + 1)) ] || echo next
	printf 'url = "%s/device/v1/manifest?seq=0"\nheader = "Authorization: Bearer suitd_dt_bench-%d"\n' \
		"$SUITD_BASE" "$i"
	printf 'insecure\nsilent\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n'
done >"$tmp/deliver.curl"
delivered=$(curl -K "$tmp/deliver.curl" | grep -c '^200$' || true)
[ "$delivered" = 1000 ] || die "reporters' check-ins: $delivered of 1000 got their manifest"
wrk -t1 -c4 -d"$((SECONDS_PER_RUN + 30))s" --latency -s bench/reports.lua \
	"$SUITD_BASE/device/v1/reports" -- timed "$DIGEST" 1000 "$SECONDS_PER_RUN" 1 0 "$DEVICES" \
	>"$tmp/wrk-reports.txt" 2>&1 &
reports_pid=$!
run_wrk "canary check-ins meanwhile" deployed "$DEVICES"
wait "$reports_pid" || { cat "$tmp/wrk-reports.txt" >&2; die "wrk reports failed"; }
read -r _ _ _ p50 p99 _ < <(wrk_parse "$tmp/wrk-reports.txt")
printf '   %-28s %9s          p50 %7.3f  p99 %7.3f ms  (%s)\n' "reports meanwhile (1,000)" "" "$p50" "$p99" \
	"$(grep '^reports:' "$tmp/wrk-reports.txt" | cut -d' ' -f2-3)"
for _ in $(seq 1 1200); do
	grep -q "deployment 1 prepared" "$tmp/suitd.log" && break
	sleep 0.5
done
line=$(grep 'deployment 1 prepared' "$tmp/suitd.log" || true)
[ -n "$line" ] || die "deployment 1 not prepared after 10 minutes"
echo "   ${line#*> }"
echo "   (wrk ran for the first ${SECONDS_PER_RUN} s of the preparation)"

echo
echo "5. memory with $((DEVICES - DEVICES / 10)) active assignments in the check-in index"
sleep 2
RSS_ACTIVE=$(rss_mib "$SUITD_PID")
echo "   RSS: $RSS_ACTIVE MiB; $(awk -v a="$RSS_ACTIVE" -v b="$RSS_IDLE" -v n="$((DEVICES - DEVICES / 10))" \
	'BEGIN { printf "%.0f", (a - b) * 1048576 / n }') bytes per assigned device over idle"

echo
echo "6. restart with $((DEVICES - DEVICES / 10)) active assignments"
restart_timed
sleep 2
echo "   RSS: $(rss_mib "$SUITD_PID") MiB"

echo
echo "7. list pages at depth (limit 100; server time = starttransfer - appconnect, median of 5)"
db() { DB=$tmp/db/suitd.db db_query "$1"; }
half=$((DEVICES / 2))
# The cursor in the middle of each order, as the list would print it.
mid_num=$(db "SELECT num FROM devices ORDER BY num LIMIT 1 OFFSET $half")
mid_canary=$(db "SELECT num FROM devices WHERE grp = 'canary' ORDER BY num LIMIT 1 OFFSET $((half / 10))")
mid_seen=$(db "SELECT coalesce(last_seen_at, -1) || '.' || num FROM devices ORDER BY coalesce(last_seen_at, -1), num LIMIT 1 OFFSET $half")
mid_seq=$(db "SELECT coalesce(reported_sequence, -1) || '.' || num FROM devices ORDER BY coalesce(reported_sequence, -1), num LIMIT 1 OFFSET $half")
mid_state=$(db "SELECT updated_at || '.' || id FROM assignments WHERE state = 'pending' ORDER BY updated_at, id LIMIT 1 OFFSET $((half * 9 / 10))")
mid_dep=$(db "SELECT id FROM assignments WHERE deployment_id = 1 ORDER BY id LIMIT 1 OFFSET $((half * 9 / 10))")
future=$(($(date +%s) + 3600))
list_time() { # label path
	local t=() i out
	for i in 1 2 3 4 5; do
		out=$(curl -sk -o "$tmp/list.json" -H "Authorization: Bearer $KEY" \
			-w '%{http_code} %{time_appconnect} %{time_starttransfer}' "$SUITD_BASE$2")
		[ "${out%% *}" = 200 ] || { cat "$tmp/list.json" >&2; die "list $2: $out"; }
		t+=("$(awk -v a="${out#* }" 'BEGIN { split(a, x, " "); printf "%.3f", (x[2] - x[1]) * 1000 }')")
	done
	printf '   %-44s %7s ms  (%s items)\n' "$1" "$(median "${t[@]}")" \
		"$(python3 -c 'import json, sys; print(len(json.load(sys.stdin)["items"]))' <"$tmp/list.json")"
}
list_time "no filter, first page" "/api/v1/devices?limit=100"
list_time "no filter, middle" "/api/v1/devices?limit=100&after=$mid_num"
list_time "group=canary, middle" "/api/v1/devices?limit=100&group=canary&after=$mid_canary"
list_time "not_seen_since=+1h (all), middle" "/api/v1/devices?limit=100&not_seen_since=$future&after=$mid_seen"
list_time "seen_since=+1h (none)" "/api/v1/devices?limit=100&seen_since=$future"
list_time "sequence_below=1, middle" "/api/v1/devices?limit=100&sequence_below=1&after=$mid_seq"
list_time "sequence=0, middle" "/api/v1/devices?limit=100&sequence=0&after=$mid_seq"
list_time "assignment_state=pending, middle" "/api/v1/devices?limit=100&assignment_state=pending&after=$mid_state"
list_time "assignment_state=failed (none)" "/api/v1/devices?limit=100&assignment_state=failed"
list_time "deployment 1's devices, middle" "/api/v1/deployments/1/devices?limit=100&after=$mid_dep"
list_time "deployment 1's devices, pending, middle" "/api/v1/deployments/1/devices?limit=100&state=pending&after=$mid_dep"
