#!/bin/bash
# The web console's cost (issue 18): the API calls behind its overview and
# deployment pages at fleet scale, and what a first load transfers.
#
# Usage: bench/console.sh                 (about 1 minute on 2 cores)
#        DEVICES=1000000 bench/console.sh (about 3 minutes)
#
# DEVICES devices (group "fleet") are registered straight into SQLite (like
# bench/counts.sh), suitd starts, one staged deployment [1, 10, 50, 100] of
# one manifest goes to the whole group. Then wrk -t1 -cCONNS -dSECONDS on:
#   - GET /healthz (the reference: no database, no authentication);
#   - GET /api/v1/overview with the console's session cookie (devices by
#     count, assignments by state and deployments by status: counters);
#   - GET /api/v1/deployments/{id} with the cookie (stages and counts per
#     state: the trigger-kept assignment_counts rows).
# Each reports requests/s, p50, p99 and max; the goal is p99 < 10 ms.
# Last, the first load of the console: the requests a browser makes for
# /, its stylesheet and modules, and GET /ui/session, with their bytes as
# sent and what gzip -9 would make of them.
#
# Knobs: DEVICES=100000 SECONDS_PER_RUN=5 CONNS=4. Everything listens on
# 127.0.0.1; the temp dir is removed and suitd stopped at exit.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
ROOT=$PWD

DEVICES=${DEVICES:-100000}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}
CONNS=${CONNS:-4}

need=()
need_cmds wrk curl openssl sqlite3 python3:python3-minimal gzip
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
echo "registered $DEVICES devices"

start_suitd "$tmp/suitd.conf"
SUITD_BASE=https://127.0.0.1:$SUITD_PORT
wait_up "$SUITD_BASE/readyz" "$SUITD_PID" || { cat "$tmp/suitd.log" >&2; die "suitd did not start"; }
publish_firmware "$tmp/suitd.conf" bench-v1

printf '{"manifest":"%s","target":{"group":"fleet"},"rollout":{"stages":[1,10,50,100]}}' \
	"$DIGEST" >"$tmp/dep.json"
t0=$(date +%s.%N)
out=$(api POST /api/v1/deployments application/json "$tmp/dep.json")
t1=$(date +%s.%N)
[ "${out##*$'\n'}" = 201 ] || die "deployment: $out"
DEP=$(printf '%s' "$out" | sed -n 's/^{"id":\([0-9]*\).*/\1/p')
echo "deployment $DEP to $DEVICES devices created in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s"

# The console's session, as a browser holds it.
printf '{"api_key":"%s"}' "$KEY" >"$tmp/signin.json"
curl -sS -k -D "$tmp/signin.h" -o /dev/null -H 'Content-Type: application/json' \
	--data-binary @"$tmp/signin.json" "$SUITD_BASE/ui/session"
COOKIE=$(sed -n 's/^[Ss]et-[Cc]ookie: \(suitd_session=[^;]*\);.*/\1/p' "$tmp/signin.h")
[ -n "$COOKIE" ] || die "no session cookie: $(cat "$tmp/signin.h")"

echo
echo "wrk -t1 -c$CONNS -d${SECONDS_PER_RUN}s, the API with the session cookie"
declare -A P99
for what in healthz overview deployment; do
	case $what in
	healthz) path=/healthz ;;
	overview) path=/api/v1/overview ;;
	deployment) path=/api/v1/deployments/$DEP ;;
	esac
	wrk -t1 -c"$CONNS" -d"${SECONDS_PER_RUN}s" --latency -H "Cookie: $COOKIE" \
		"$SUITD_BASE$path" >"$tmp/wrk.txt" 2>&1 || { cat "$tmp/wrk.txt" >&2; die "wrk failed"; }
	grep -q "Non-2xx" "$tmp/wrk.txt" && { cat "$tmp/wrk.txt" >&2; die "non-2xx answers on $path"; }
	rps=$(awk '/^Requests\/sec:/ { print $2 }' "$tmp/wrk.txt")
	p50=$(awk '$1 == "50%" { print $2 }' "$tmp/wrk.txt")
	p99=$(awk '$1 == "99%" { print $2 }' "$tmp/wrk.txt")
	max=$(awk '$1 == "Latency" { print $4 }' "$tmp/wrk.txt")
	printf '  %-28s %9s req/s  p50 %8s  p99 %8s  max %8s\n' "GET $path" "$rps" "$p50" "$p99" "$max"
	P99[$what]=$p99
done

echo
echo "first load of the console (what a browser fetches for /):"
curl -sS -k "$SUITD_BASE/" -o "$tmp/index.html"
base=$(sed -n 's|.*href="\(/ui/assets/[0-9a-f]*\)/app.css".*|\1|p' "$tmp/index.html")
[ -n "$base" ] || die "no asset base in index.html"
# app.js imports every page module statically: the browser loads them all.
files="app.css app.js $(grep -o "'\./[a-z-]*\.js'" "$ROOT"/ui/*.js | sed "s/.*'\.\/\(.*\)'/\1/" | sort -u | tr '\n' ' ')"
requests=2 # / and GET /ui/session (204)
bytes=$(wc -c <"$tmp/index.html")
gz=$(gzip -9c "$tmp/index.html" | wc -c)
for f in $files; do
	curl -sS -k "$SUITD_BASE$base/$f" -o "$tmp/asset"
	bytes=$((bytes + $(wc -c <"$tmp/asset")))
	gz=$((gz + $(gzip -9c "$tmp/asset" | wc -c)))
	requests=$((requests + 1))
done
echo "  $requests requests, $bytes bytes of bodies as sent (gzip -9 would make $gz); a reload sends 1 request (index, 304 or 200) plus GET /ui/session: the files are cached as immutable"
echo
echo "RESULT: $DEVICES devices: GET /api/v1/overview p99 ${P99[overview]}, GET /api/v1/deployments/$DEP p99 ${P99[deployment]} (goal < 10 ms; /healthz p99 ${P99[healthz]}); first load $requests requests, $bytes bytes"
