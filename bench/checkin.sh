#!/bin/bash
# Check-in benchmark: GET /device/v1/manifest over HTTPS keep-alive with a
# device token, 100,000 registered devices, a deployment to 10 % of them,
# against a hand-started nginx answering a static 204 on the same
# certificate, measured alternately in one run.
#
# Usage: bench/checkin.sh            (about 2 minutes on 2 cores, plus the
#                                     wait for an idle machine, at most 5 min)
#
# Contenders, in this order in every round (ROUNDS rounds):
#   suitd-idle     GET /device/v1/manifest?seq=0 with the token of one of the
#                  90,000 devices that have nothing to do (204, Cache-Control)
#   nginx          the same requests (same tokens, ignored) to nginx:
#                  `return 204;` plus a Cache-Control header like suitd's
#   suitd-offered  GET /device/v1/manifest?seq=0 with the token of one of the
#                  10,000 deployed devices (200 + the envelope). No
#                  If-None-Match is sent. A device's first check-in moves its
#                  assignment pending -> delivered (one database write per
#                  device, 10,000 in all, almost all in round 1); every later
#                  check-in of the device gets the same 200 without a write.
# each: wrk -t2 -cCONNS -dSECONDS --latency -s bench/checkin.lua, one token
# per request, rotating through the set (see checkin.lua). Reported: median
# requests/s, wrk's p99 latency (median over the rounds), server CPU-us per
# request (utime+stime from /proc/PID/stat), and for every suitd-idle run
# the size of suitd.db-wal before and after and whether its bytes changed.
# Goals: suitd-idle/nginx >= 0.9, suitd-idle p99 < 5 ms.
#
# The devices are not registered through the API (far too slow for 100,000):
# `suitd key create` creates and migrates the database, then one sqlite3
# transaction inserts devices(id, grp, attributes, token_hash, created_at)
# with token_hash = SHA-256 of "suitd_dt_bench-<n>" (any string works as a
# bearer token; suitd stores only its SHA-256). Device n is in group
# "canary" when n is a multiple of 10, else "fleet". Then suitd starts, a
# payload and a manifest (made with `suitd manifest create`, signed by a
# test-only P-256 key that the config trusts) are uploaded and a deployment
# to group canary is created through the API.
#
# suitd: threads = 0 (one per core), [log] level = warning, [devices]
# seen_flush = 60 (the default is 5): the last-seen times and reported
# sequences of every device that checked in are written in one transaction
# per flush, so a flush that falls inside a run shows in that run's WAL
# figures (it is marked). nginx: Debian's /usr/sbin/nginx with its own
# prefix (-p), config (-c), error log (-e) and pid file, NGINX_WORKERS
# worker processes, access_log off. Never touches the system nginx service
# or /etc/nginx.
#
# Before measuring, the script waits until the 1-minute load average is
# below 0.6 (at most IDLE_WAIT seconds; then it warns and goes on).
#
# Knobs (environment): DEVICES=100000 ROUNDS=3 SECONDS_PER_RUN=10 CONNS=16
# THREADS=2 NGINX_WORKERS=1 IDLE_WAIT=300 WARM_SECONDS=12 PERF=0 (PERF=1: `perf record -g`
# of suitd during the last suitd-idle run, top symbols printed). TMPDIR is honoured (mktemp -d);
# the temp dir is removed and both servers stopped at exit. Everything
# listens on 127.0.0.1 only. Any unexpected status, body length, missing
# Cache-Control or wrk socket error makes the script fail.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
ROOT=$PWD

DEVICES=${DEVICES:-100000}
ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
CONNS=${CONNS:-16}
THREADS=${THREADS:-2}
NGINX_WORKERS=${NGINX_WORKERS:-1}
IDLE_WAIT=${IDLE_WAIT:-300}
WARM_SECONDS=${WARM_SECONDS:-12}
PERF=${PERF:-0}
NGINX=${NGINX:-/usr/sbin/nginx}
CONTENDERS=(suitd-idle nginx suitd-offered)

# ---- tools ----------------------------------------------------------------
need=()
[ -x "$NGINX" ] || need+=(nginx)
need_cmds wrk curl openssl ss:iproute2 sqlite3 python3:python3-minimal
# Debian's nginx package may start its own service on port 80 when
# installed; this script never uses, stops or reconfigures it.
install_tools "${need[@]}"

# ---- helpers ----------------------------------------------------------------
tmp=$(mktemp -d)
SUITD_PID=
NGINX_PID=
cleanup() {
	if [ -n "$SUITD_PID" ]; then kill -TERM "$SUITD_PID" 2>/dev/null || true; fi
	if [ -n "$NGINX_PID" ]; then kill -QUIT "$NGINX_PID" 2>/dev/null || true; fi
	# shellcheck disable=SC2086 # empty PIDs vanish
	kill_after 100 $SUITD_PID $NGINX_PID
	backend_stop
	rm -rf "$tmp"
}
install_traps

wal_size() { wal_bytes; }
# Changes when suitd flushes the last-seen times (read-only query).
flush_mark() { db_query "SELECT coalesce(max(last_seen_at), 0) FROM devices" 2>/dev/null || echo "?"; }
# SQLite: a digest of the WAL file; PostgreSQL: the WAL position.
wal_sum() {
	if [ "$BACKEND" = postgresql ]; then
		wal_bytes
	else
		sha256sum "$DB-wal" 2>/dev/null | cut -c1-16 || echo none
	fi
}

# ---- machine, build ---------------------------------------------------------
print_machine
echo "tools: $("$NGINX" -v 2>&1 | sed 's/^nginx version: //'), $(wrk -v 2>&1 | head -n1 | cut -d' ' -f1-2), curl $(curl -V | head -n1 | cut -d' ' -f2), $(openssl version | cut -d' ' -f1-2), sqlite3 $(sqlite3 --version | cut -d' ' -f1)"
build_suitd
echo "suitd: $("$SUITD" -V 2>&1 | head -n1), threads = 0 (one per core)"
print_tmpdir
backend_start

# ---- files --------------------------------------------------------------------
make_server_cert 30
# Test-only manifest author key, trusted by this suitd only.
if ! openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/author.key" 2>>"$tmp/openssl.log" ||
	! openssl pkey -in "$tmp/author.key" -pubout -out "$tmp/author.pub" 2>>"$tmp/openssl.log"; then
	cat "$tmp/openssl.log" >&2
	die "openssl (author key) failed"
fi
mkdir -p "$tmp/db"
head -c 65536 /dev/urandom >"$tmp/fw.bin"
DB=$tmp/db/suitd.db

# ---- suitd: database ---------------------------------------------------------------
SUITD_PORT=$(free_port) || die "no free port"
SUITD_CONF=$tmp/suitd.conf
cat >"$SUITD_CONF" <<EOF
[server]
listen = 127.0.0.1:$SUITD_PORT
# The benchmarks measure capacity: no per-client rate limit.
rate_limit = 0
tls_cert = $tmp/cert.pem
tls_key = $tmp/key.pem
connection_limit = 1024
[storage]
$(storage_conf "$DB")
[devices]
auth = token
seen_flush = 60
[manifests]
trust_anchor = $tmp/author.pub
[log]
level = warning
EOF
# Creates the database at the current schema version.
KEY=$(admin_key "$SUITD_CONF") || exit 1

t0=$(date +%s.%N)
python3 - "$DEVICES" >"$tmp/devices.sql" <<'EOF'
import hashlib, os, sys, time
n = int(sys.argv[1])
now = int(time.time())
out = sys.stdout
out.write("PRAGMA journal_mode = WAL;\nBEGIN;\n")
for i in range(1, n + 1):
    h = os.environ["SQL_BLOB"] % hashlib.sha256(b"suitd_dt_bench-%d" % i).hexdigest()
    grp = "canary" if i % 10 == 0 else "fleet"
    out.write("INSERT INTO devices (id, grp, attributes, token_hash, created_at) "
              "VALUES ('bench-%d', '%s', '{}', %s, %d);\n" % (i, grp, h, now))
out.write("COMMIT;\n")
EOF
db_sql <"$tmp/devices.sql" || die "bulk insert failed"
rm -f "$tmp/devices.sql"
t1=$(date +%s.%N)
got=$(db_query "SELECT count(*) FROM devices")
[ "$got" = "$DEVICES" ] || die "$got devices in the database, expected $DEVICES"
echo "registered $DEVICES devices (python3 SHA-256 + one $BACKEND transaction) in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s"

start_suitd "$SUITD_CONF"
SUITD_BASE=https://127.0.0.1:$SUITD_PORT
wait_up "$SUITD_BASE/readyz" "$SUITD_PID" || { cat "$tmp/suitd.log" >&2; die "suitd did not start"; }

publish_firmware "$SUITD_CONF" bench-v1 "checkin benchmark"
ENV_LEN=$(stat -c %s "$tmp/m.suit")
printf '{"name":"bench canary","manifest":"%s","target":{"group":"canary"}}' "$DIGEST" >"$tmp/dep.json"
deploy_and_wait "$tmp/dep.json"
out=$DEP_OUT
DEP_ID=$(printf '%s' "$out" | sed -n 's/.*"id":\([0-9]*\).*/\1/p')
pending=$(printf '%s' "$out" | sed -n 's/.*"pending":\([0-9]*\).*/\1/p')
[ "$pending" = $((DEVICES / 10)) ] || die "deployment: $pending pending, expected $((DEVICES / 10)): $out"
echo "deployment $DEP_ID of a $ENV_LEN-byte envelope to group canary: $pending pending assignments, created and prepared in $DEP_SECONDS s"

# ---- nginx ----------------------------------------------------------------------
NGINX_PORT=$(free_port "$SUITD_PORT") || die "no free port"
N=$tmp/nginx
write_nginx_conf "$NGINX_WORKERS" "    keepalive_requests 1000000;" \
	"        location / {
            add_header Cache-Control \"max-age=300\" always;
            return 204;
        }"
start_nginx
NGINX_BASE=https://127.0.0.1:$NGINX_PORT
wait_up "$NGINX_BASE/" "$NGINX_PID" || { cat "$N/logs/error.log" >&2; die "nginx did not start"; }

CHECKIN="/device/v1/manifest?seq=0"
url_of() {
	case $1 in
	nginx) echo "$NGINX_BASE$CHECKIN" ;;
	*) echo "$SUITD_BASE$CHECKIN" ;;
	esac
}

# ---- checks ---------------------------------------------------------------------
check() { # URL TOKEN -> "code size cache-control"
	curl -sk --http1.1 -o "$tmp/check.bin" -D "$tmp/check.h" -w '%{http_code} %{size_download}' \
		-H "Authorization: Bearer $2" "$1"
	printf ' %s' "$(tr -d '\r' <"$tmp/check.h" | sed -n 's/^[Cc]ache-[Cc]ontrol: //p')"
}
r=$(check "$(url_of suitd)" suitd_dt_bench-1)
[ "${r% *}" = "204 0" ] || die "suitd, idle device: $r"
echo "check suitd idle device bench-1: $r"
r=$(check "$(url_of suitd)" suitd_dt_bench-$((DEVICES + 1)))
[ "${r%% *}" = 401 ] || die "suitd, unknown token: $r"
r=$(check "$(url_of nginx)" suitd_dt_bench-1)
[ "${r% *}" = "204 0" ] || die "nginx: $r"
echo "check nginx: $r"
# This delivers device bench-10 (pending -> delivered) before the runs.
r=$(check "$(url_of suitd)" suitd_dt_bench-10)
[ "${r% *}" = "200 $ENV_LEN" ] || die "suitd, deployed device: $r"
cmp -s "$tmp/check.bin" "$tmp/m.suit" || die "suitd, deployed device: other bytes than m.suit"
echo "check suitd deployed device bench-10: $r, the bytes of m.suit"
tls=$(curl -skv --http1.1 -o /dev/null -H "Authorization: Bearer suitd_dt_bench-1" "$(url_of suitd)" 2>&1 |
	sed -n 's/^\* SSL connection using //p' | head -n1)
echo "TLS: $tls"

# ---- wait for an idle machine ----------------------------------------------------------
waited=0
while awk '{ exit !($1 >= 0.6) }' /proc/loadavg; do
	if [ "$waited" -ge "$IDLE_WAIT" ]; then
		echo "WARNING: load average still $(cut -d' ' -f1-3 /proc/loadavg) after ${IDLE_WAIT}s; measuring anyway"
		break
	fi
	sleep 5
	waited=$((waited + 5))
done
echo "load average before the runs: $(cut -d' ' -f1-3 /proc/loadavg) (waited ${waited}s)"

# Warm-up (not measured) on idle devices: nginx 2 s; suitd WARM_SECONDS,
# long enough for every idle token to be seen once (the token cache is
# filled by the first sight of each: a database lookup, a round trip on
# PostgreSQL), since the goal is about the in-memory path.
for c in suitd nginx; do
	warm=2
	[ "$c" = nginx ] || warm=$WARM_SECONDS
	wrk -t"$THREADS" -c"$CONNS" -d"${warm}s" -s "$ROOT/bench/checkin.lua" "$(url_of "$c")" \
		-- idle "$DEVICES" 204 0 "$THREADS" >/dev/null 2>&1 || true
done

delivered() { api GET "/api/v1/deployments/$DEP_ID" | sed -n 's/.*"delivered":\([0-9]*\).*/\1/p'; }

declare -A RPS P99 P50 TICKS REQS
for c in "${CONTENDERS[@]}"; do RPS[$c]='' P99[$c]='' P50[$c]='' TICKS[$c]=0 REQS[$c]=0; done
WAL_LINES=()

echo
echo "runs: wrk -t$THREADS -c$CONNS -d${SECONDS_PER_RUN}s --latency -s bench/checkin.lua (req/s, p50/p99 ms, server CPU-us/req)"
for i in $(seq 1 "$ROUNDS"); do
	for c in "${CONTENDERS[@]}"; do
		mode=idle expect=204 len=0
		if [ "$c" = suitd-offered ]; then mode=deployed expect=200 len=$ENV_LEN; fi
		[ "$c" = suitd-offered ] && d0=$(delivered)
		# shellcheck disable=SC2046
		t0=$(cpu_ticks $(server_pids "$c"))
		w0=$(wal_size) s0=$(wal_sum) f0=$(flush_mark)
		PERF_PID=
		if [ "$PERF" = 1 ] && [ "$c" = suitd-idle ] && [ "$i" = "$ROUNDS" ]; then
			perf record -q -g -p "$SUITD_PID" -o "$tmp/perf.data" -- sleep $((SECONDS_PER_RUN - 1)) \
				>"$tmp/perf.log" 2>&1 &
			PERF_PID=$!
		fi
		timeout $((SECONDS_PER_RUN + 60)) wrk -t"$THREADS" -c"$CONNS" -d"${SECONDS_PER_RUN}s" --latency \
			-s "$ROOT/bench/checkin.lua" "$(url_of "$c")" -- "$mode" "$DEVICES" "$expect" "$len" "$THREADS" \
			>"$tmp/wrk.txt" 2>&1 || { cat "$tmp/wrk.txt" >&2; die "wrk failed for $c"; }
		w1=$(wal_size) s1=$(wal_sum) f1=$(flush_mark)
		if [ -n "$PERF_PID" ]; then wait "$PERF_PID" || true; fi
		# shellcheck disable=SC2046
		t1=$(cpu_ticks $(server_pids "$c"))
		read -r rps n _ p50 p99 err <<<"$(wrk_parse "$tmp/wrk.txt")"
		summary=$(grep '^checkin:' "$tmp/wrk.txt" || true)
		[ -n "$summary" ] || { cat "$tmp/wrk.txt" >&2; die "$c: no summary from checkin.lua"; }
		statuses=$(printf '%s' "$summary" | grep -o 'status=[0-9]*:[0-9]*' | tr '\n' ' ')
		other=$(printf '%s' "$statuses" | tr ' ' '\n' | grep -v "^status=$expect:" | grep -c . || true)
		wl=$(printf '%s' "$summary" | sed -n 's/.*wrong_len=\([0-9]*\).*/\1/p')
		ncc=$(printf '%s' "$summary" | sed -n 's/.*no_cache_control=\([0-9]*\).*/\1/p')
		sent=$(printf '%s' "$summary" | sed -n 's/.*requests=\([0-9]*\).*/\1/p')
		tokens=$(printf '%s' "$summary" | sed -n 's/.*tokens=\([0-9]*\).*/\1/p')
		if [ "$other" != 0 ] || [ "$wl" != 0 ] || [ "$ncc" != 0 ] || [ "$err" != 0 ]; then
			cat "$tmp/wrk.txt" >&2
			die "$c round $i: unexpected answers ($statuses wrong_len=$wl no_cache_control=$ncc socket_errors=$err)"
		fi
		RPS[$c]+=" $rps"
		P50[$c]+=" $p50"
		P99[$c]+=" $p99"
		TICKS[$c]=$((TICKS[$c] + t1 - t0))
		REQS[$c]=$((REQS[$c] + n))
		cpu=$(awk -v t=$((t1 - t0)) -v hz="$HZ" -v n="$n" 'BEGIN { printf "%.0f", (n > 0 ? t / hz / n * 1e6 : 0) }')
		extra=""
		if [ "$c" = suitd-offered ]; then
			d1=$(delivered)
			extra="; first deliveries (pending -> delivered writes) in this run: $((d1 - d0)), delivered now $d1 of $((DEVICES / 10))"
		fi
		if [ "$c" != nginx ]; then
			changed=$([ "$s0" = "$s1" ] && echo "bytes unchanged" || echo "bytes CHANGED")
			why=""
			[ "$f0" != "$f1" ] && why=" (a periodic last-seen flush fell in this run)"
			[ "$c" = suitd-offered ] && [ "$d1" != "$d0" ] && why+=" ($((d1 - d0)) first deliveries)"
			WAL_LINES+=("  round $i $c: WAL ($BACKEND) $w0 -> $w1 bytes, $changed over $n requests$why")
		fi
		printf '  round %d %-13s %9.0f req/s  p50 %6.3f  p99 %6.3f ms  CPU %4s us/req  (%d requests, %s; %d of %d tokens%s)\n' \
			"$i" "$c" "$rps" "$p50" "$p99" "$cpu" "$n" "${statuses% }" \
			"$([ "$sent" -lt "$tokens" ] && echo "$sent" || echo "$tokens")" "$tokens" "$extra"
	done
done
echo
echo "WAL (seen_flush = 60: a flush of the sightings of the previous minute may fall in a run)"
printf '%s\n' "${WAL_LINES[@]}"
flushed=$(db_query "SELECT count(*) FROM devices WHERE last_seen_at IS NOT NULL")
echo "  devices with last_seen_at in the database now: $flushed (written by periodic flushes, not per request)"

# ---- table ------------------------------------------------------------------------------------
declare -A MR MP50 MP99 MCPU
for c in "${CONTENDERS[@]}"; do
	# shellcheck disable=SC2086
	MR[$c]=$(median ${RPS[$c]})
	# shellcheck disable=SC2086
	MP50[$c]=$(median ${P50[$c]})
	# shellcheck disable=SC2086
	MP99[$c]=$(median ${P99[$c]})
	MCPU[$c]=$(awk -v t="${TICKS[$c]}" -v hz="$HZ" -v n="${REQS[$c]}" 'BEGIN { printf "%.0f", (n > 0 ? t / hz / n * 1e6 : 0) }')
done
r=$(ratio "${MR[suitd-idle]}" "${MR[nginx]}")
g_ratio=$(awk -v r="$r" 'BEGIN { print (r >= 0.9 ? "ok" : "MISSED") }')
g_p99=$(awk -v p="${MP99[suitd-idle]}" 'BEGIN { print (p < 5 ? "ok" : "MISSED") }')
echo
echo "RESULTS (median of $ROUNDS rounds; BACKEND=$BACKEND; $DEVICES devices, CONNS=$CONNS, nginx workers=$NGINX_WORKERS)"
printf '%-40s %10s %10s %10s\n' "metric" "suitd-idle" "nginx" "suitd-offered"
printf '%-40s %10.0f %10.0f %10.0f\n' "check-ins/s" "${MR[suitd-idle]}" "${MR[nginx]}" "${MR[suitd-offered]}"
printf '%-40s %10.3f %10.3f %10.3f\n' "latency p50, ms" "${MP50[suitd-idle]}" "${MP50[nginx]}" "${MP50[suitd-offered]}"
printf '%-40s %10.3f %10.3f %10.3f\n' "latency p99, ms" "${MP99[suitd-idle]}" "${MP99[nginx]}" "${MP99[suitd-offered]}"
printf '%-40s %10s %10s %10s\n' "server CPU-us per request" "${MCPU[suitd-idle]}" "${MCPU[nginx]}" "${MCPU[suitd-offered]}"
echo "suitd-idle/nginx: $r (goal >= 0.9: $g_ratio); suitd-idle p99 ${MP99[suitd-idle]} ms (goal < 5 ms: $g_p99)"
echo "figure: checkins_per_s ${MR[suitd-idle]} check-ins/s, nothing to do (suitd-idle)"
echo "figure: checkins_offered_per_s ${MR[suitd-offered]} check-ins/s, manifest offered (suitd-offered)"
echo "suitd-offered: every answer a 200 with the $ENV_LEN-byte envelope; first check-in of a device = pending -> delivered (a write), later ones none"
echo "nginx error log: $(grep -c . "$N/logs/error.log" || true) lines; suitd log: $(grep -c . "$tmp/suitd.log" || true) lines"
sed 's/^/  suitd: /' "$tmp/suitd.log" | sort | uniq -c | head -n5
if [ "$PERF" = 1 ] && [ -s "$tmp/perf.data" ]; then
	echo
	echo "perf: suitd during the last suitd-idle run (self time, top 25 symbols, then by DSO)"
	perf report -i "$tmp/perf.data" --stdio --no-children --sort symbol 2>/dev/null >"$tmp/perf.sym" || true
	grep -E '^ +[0-9.]+%' "$tmp/perf.sym" | head -n25 || true
	perf report -i "$tmp/perf.data" --stdio --no-children --sort dso 2>/dev/null >"$tmp/perf.dso" || true
	grep -E '^ +[0-9.]+%' "$tmp/perf.dso" | head -n12 || true
	echo "callers of the symbols above 4 %:"
	perf report -i "$tmp/perf.data" --stdio --no-children --sort symbol --percent-limit 4 \
		-g caller,0.5,callee,function,percent 2>/dev/null >"$tmp/perf.cg" || true
	grep -v '^#' "$tmp/perf.cg" | grep -v '^$' | head -n80 || true
fi
echo "(client and server share the same $(nproc) cores)"
