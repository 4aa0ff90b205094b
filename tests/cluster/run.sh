#!/bin/bash
# The cluster suite (issue 22): three suitd nodes on one throwaway PostgreSQL
# behind haproxy on loopback, configured by contrib/haproxy/suitd.cfg itself
# (addresses, ports and the CA path substituted), and a tools/suit-sim fleet
# through haproxy.
#
# usage: tests/cluster/run.sh            (small: the mode of `make check`)
#        CLUSTER_DEVICES=1000 tests/cluster/run.sh   (or `make check-cluster`)
#
# Cases:
#  a. A payload uploaded through node A downloads whole through node B right
#     after A's 201. A download from node B cut midway by `kill -9` of B
#     continues (curl -C -, a Range request) through haproxy on another
#     node; bytes and SHA-256 whole.
#  b. A staged rollout to CLUSTER_DEVICES devices (stages 10/50/100 %)
#     while a random node is killed with SIGKILL every 1-2 s (small mode;
#     2-4 s from 200 devices on) and
#     started again a moment later: it completes; every confirmation suit-sim
#     saw acknowledged is in the database; each assignment's events form a
#     valid chain of the state machine; each stage opens exactly once and the
#     deployment completes once, never pauses (tests/cluster/check_rollout.py).
#  c. A second rollout (sequence 2) with PostgreSQL restarted in the middle
#     (tests/pg/pg_tmp.sh restart DIR 2: an immediate stop, every connection
#     cut, 2 s down, started again):
#     every node reconnects and is ready again, the rollout completes, same
#     checks.
#  d. (CLUSTER_PARTITION=1) A network partition: node 3, connected to
#     PostgreSQL through a TCP proxy (haproxy, mode tcp, with keepalives
#     towards the node as a database server's tcp_keepalives_* would be),
#     holds the housekeeper lease when the proxy's port starts dropping
#     packets (iptables DROP on lo: packets vanish, no RST). Node 3 answers
#     a request that needs the database with 503 storage-unavailable,
#     /readyz 503, gives up the lease (its /metrics says 0), node 1 or 2
#     takes it; once the packets flow again node 3 is ready and answers
#     200. Each time is printed.
#  e. (CLUSTER_FAILOVER=1) Failover to a streaming replica: a hot standby
#     with synchronous replication (tests/pg/pg_tmp.sh standby), the nodes
#     on a two-host URL with target_session_attrs=read-write; a third
#     rollout during which the primary is stopped -m immediate and, once a
#     node's /readyz says 503, the standby is promoted: every node finds
#     the new primary by itself and is ready again, the rollout completes,
#     the same checks on the promoted server (every confirmation suit-sim
#     saw acknowledged, before the stop or after, is there).
#
# Small mode: 24 devices, one kill every 1-3 s; about a minute on 2 cores.
# CLUSTER_FAILOVER (e) defaults to 1: about 10 s. CLUSTER_PARTITION (d)
# defaults to 1 from 200 devices on (make check-cluster), 0 in the small
# mode: it waits out TCP timeouts (about 15 s) and needs iptables and a
# kernel with netfilter (else it prints SKIP).
# Skipped (exit 0 with a SKIP line) when haproxy or PostgreSQL's server is
# missing and we are not root to install them.
# Environment: SUITD_BIN (default build/suitd), SIM_BIN (default suit-sim
# next to it), CLUSTER_DEVICES, CLUSTER_KEEP=1 (keep the temp dir), TMPDIR.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=bench/lib.sh # die, free_port, wait_up, api, admin_key, ...
. "$ROOT/bench/lib.sh"
# shellcheck source=tests/cluster/lib.sh # PostgreSQL, nodes, haproxy
. "$ROOT/tests/cluster/lib.sh"
# shellcheck disable=SC2034 # read by die in bench/lib.sh
DIE_PREFIX="tests/cluster/run.sh: "

DEVICES=${CLUSTER_DEVICES:-24}
case $DEVICES in '' | *[!0-9]* | 0 | 1) die "CLUSTER_DEVICES must be a number >= 2" ;; esac
SUITD=${SUITD_BIN:-$ROOT/build/suitd}
SIM=${SIM_BIN:-$(dirname "$SUITD")/suit-sim}
[ -x "$SUITD" ] || die "no suitd at $SUITD (make, or set SUITD_BIN)"
[ -x "$SIM" ] || die "no suit-sim at $SIM (make, or set SIM_BIN)"
# Large rollouts take longer per stage; the kill loop keeps its pace.
TIMEOUT=$((120 + DEVICES / 2))
# Seconds between kills: 1-2 in the small mode (its rollout takes seconds),
# 2-4 from 200 devices on.
if [ "$DEVICES" -lt 200 ]; then KILL_MIN=1 KILL_SPAN=2; else KILL_MIN=2 KILL_SPAN=3; fi
FAILOVER=${CLUSTER_FAILOVER:-1}
PARTITION=${CLUSTER_PARTITION:-$([ "$DEVICES" -lt 200 ] && echo 0 || echo 1)}

need=()
need_cmds haproxy curl openssl python3 psql:postgresql-client
[ -d /usr/lib/postgresql ] || need+=(postgresql)
[ "$PARTITION" = 1 ] && need_cmds iptables
if [ ${#need[@]} -gt 0 ] && [ "$(id -u)" != 0 ]; then
	echo "SKIP tests/cluster/run.sh: missing ${need[*]} (tools/deps.sh check installs them)"
	exit 0
fi
install_tools "${need[@]}" >&2

tmp=$(mktemp -d "${TMPDIR:-/tmp}/suitd-cluster.XXXXXX")
passed=0
HAPROXY_PID=
PG=
SIM_PID=
KILLER_PID=
PGPROXY_PID=
STANDBY=
DROPPING=
cleanup() {
	[ -n "$DROPPING" ] && iptables -D OUTPUT -o lo -p tcp --dport "$DROPPING" -j DROP
	[ -n "$PGPROXY_PID" ] && kill -TERM "$PGPROXY_PID" 2>/dev/null
	[ -n "$STANDBY" ] && "$ROOT/tests/pg/pg_tmp.sh" stop "$STANDBY" 2>/dev/null
	[ -n "$KILLER_PID" ] && kill -TERM "$KILLER_PID" 2>/dev/null
	[ -n "$SIM_PID" ] && kill -TERM "$SIM_PID" 2>/dev/null
	[ -n "$HAPROXY_PID" ] && kill -TERM "$HAPROXY_PID" 2>/dev/null
	touch "$tmp/stop"
	# shellcheck disable=SC2046 # one PID per word
	kill -TERM $(node_pids) 2>/dev/null
	# shellcheck disable=SC2046,SC2086 # one PID per word; empty ones vanish
	kill_after 50 $KILLER_PID $SIM_PID $HAPROXY_PID $(node_pids)
	cluster_pg_stop
	if [ "$passed" = 1 ] && [ "${CLUSTER_KEEP:-0}" != 1 ]; then
		rm -rf "$tmp"
	else
		echo "tests/cluster/run.sh: logs kept in $tmp" >&2
	fi
	return 0
}
install_traps

t_start=$(date +%s.%N)
since() { awk -v a="$t_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# ---- PostgreSQL, certificates, configuration, nodes, haproxy ------------------
cluster_pg_start
cluster_rollout_confs notice
KEY=$(admin_key "$tmp/node1.conf") || exit 1
cluster_devices "$DEVICES" cluster sim "$tmp/tokens"
for i in 1 2 3; do node_start "$i"; done
for i in 1 2 3; do node_ready "$i" || { tail -n 20 "$tmp/node$i.log" >&2; die "node $i not ready"; }; done
cluster_haproxy_conf 3 notice
cluster_haproxy_start
SUITD_BASE=https://127.0.0.1:$HAPROXY_PORT
echo "cluster: PostgreSQL, 3 nodes and haproxy up in $(since) s; $DEVICES devices"

# ---- a. uploads and downloads on any node ------------------------------------
direct() { echo "https://127.0.0.1:${PORT[$1]}"; }
head -c $((24 * 1048576)) /dev/urandom >"$tmp/big.bin"
want=$(sha256sum "$tmp/big.bin" | cut -d' ' -f1)
code=$(curl -s --cacert "$tmp/cert.pem" -H "Authorization: Bearer $KEY" \
	-H 'Content-Type: application/octet-stream' --data-binary "@$tmp/big.bin" \
	-o "$tmp/up.json" -w '%{http_code}' "$(direct 1)/api/v1/payloads")
[ "$code" = 201 ] || die "upload through node 1: $code $(cat "$tmp/up.json")"
content=/api/v1/payloads/$want/content
code=$(curl -s --cacert "$tmp/cert.pem" -H "Authorization: Bearer $KEY" -o "$tmp/b.bin" \
	-w '%{http_code}' "$(direct 2)$content")
[ "$code" = 200 ] && [ "$(sha256sum <"$tmp/b.bin" | cut -d' ' -f1)" = "$want" ] ||
	die "node 2 right after node 1's 201: HTTP $code, not the uploaded bytes"
# A download from node 2, slowed down, cut by kill -9 of node 2 ...
rm -f "$tmp/part.bin"
curl -s --cacert "$tmp/cert.pem" -H "Authorization: Bearer $KEY" --limit-rate 2M \
	-o "$tmp/part.bin" "$(direct 2)$content" &
curl_pid=$!
for _ in $(seq 1 100); do
	[ -s "$tmp/part.bin" ] && [ "$(stat -c %s "$tmp/part.bin")" -ge 1048576 ] && break
	sleep 0.05
done
node_kill 2
wait "$curl_pid" && die "the download from node 2 finished although node 2 was killed"
have=$(stat -c %s "$tmp/part.bin")
[ "$have" -gt 0 ] && [ "$have" -lt $((24 * 1048576)) ] || die "cut download has $have bytes"
# ... goes on through haproxy (a Range request from byte $have) elsewhere.
code=$(curl -s --cacert "$tmp/cert.pem" -H "Authorization: Bearer $KEY" -C - \
	-o "$tmp/part.bin" -w '%{http_code}' "$SUITD_BASE$content")
[ "$code" = 206 ] || die "resuming through haproxy: HTTP $code (206 expected)"
[ "$(sha256sum <"$tmp/part.bin" | cut -d' ' -f1)" = "$want" ] || die "resumed download is not whole"
node_start 2
node_ready 2 || die "node 2 not ready after its restart"
echo "a. upload on node 1 read by node 2 at once; a download cut at $have bytes by kill -9 continued through haproxy (206, SHA-256 whole) ($(since) s)"

# ---- b. and c.: rollouts -------------------------------------------------------
head -c 65536 /dev/urandom >"$tmp/fw.bin"

# killer: kill -9 a random node every KILL_MIN..KILL_MIN+KILL_SPAN-1 s, start it
# again after 0.5-1 s,
# one node down at a time; counts in $tmp/kills. Ends when $tmp/stop exists.
killer() {
	local n=0 i
	RANDOM=$BASHPID
	while [ ! -e "$tmp/stop" ]; do
		sleep "$((KILL_MIN + RANDOM % KILL_SPAN))"
		[ -e "$tmp/stop" ] && break
		i=$((1 + RANDOM % 3))
		node_kill "$i"
		n=$((n + 1))
		echo "$n" >"$tmp/kills"
		sleep "0.$((5 + RANDOM % 5))"
		node_start "$i"
		node_ready "$i" || { echo "node $i not ready after its restart" >"$tmp/killer.err"; return 1; }
	done
}

# rollout SEQ MODE: publish sequence SEQ, deploy it to group sim in stages
# 10/50/100 %, play the fleet through haproxy with MODE (kill: the killer
# meanwhile; pg: restart PostgreSQL once the first stage has moved), check.
rollout() {
	local seq=$1 mode=$2 out dep t0 el rc moved=0
	"$SUITD" -c "$tmp/node1.conf" manifest create --key "$tmp/author.key" --payload "$tmp/fw.bin" \
		--vendor-domain example.com --class-info cluster --sequence "$seq" -o "$tmp/m$seq.suit" \
		2>"$tmp/manifest.log" || { cat "$tmp/manifest.log" >&2; die "manifest create failed"; }
	[ "$seq" = 1 ] && { out=$(api POST /api/v1/payloads application/octet-stream "$tmp/fw.bin"); \
		[ "${out##*$'\n'}" = 201 ] || die "payload upload: $out"; }
	out=$(api POST /api/v1/manifests application/suit-envelope+cose "$tmp/m$seq.suit")
	[ "${out##*$'\n'}" = 201 ] || die "manifest upload: $out"
	DIGEST=$(manifest_digest "$out")
	printf '{"manifest":"%s","target":{"group":"sim"},"rollout":{"stages":[10,50,100],"success_threshold":90,"failure_threshold":50,"device_timeout":600}}' \
		"$DIGEST" >"$tmp/dep$seq.json"
	deploy_and_wait "$tmp/dep$seq.json"
	dep=$(printf '%s' "$DEP_OUT" | sed -n 's/^{"id":\([0-9]*\).*/\1/p')
	[ -n "$dep" ] || die "no deployment id in $DEP_OUT"
	rm -f "$tmp/stop" "$tmp/kills"
	if [ "$mode" = kill ]; then
		killer &
		KILLER_PID=$!
	fi
	t0=$(date +%s.%N)
	"$SIM" --url "$SUITD_BASE" --cacert "$tmp/cert.pem" --trust-anchor "$tmp/author.pub" \
		--tokens "$tmp/tokens" --state "$tmp/sim.state" --until-done --max-poll 1 \
		--concurrency 64 --seed "$seq" -q --summary "$tmp/summary$seq.json" >"$tmp/sim$seq.log" 2>&1 &
	SIM_PID=$!
	while kill -0 "$SIM_PID" 2>/dev/null; do
		el=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%d", b - a }')
		[ "$el" -le "$TIMEOUT" ] || die "rollout $seq ($mode) not done after $TIMEOUT s"
		[ -e "$tmp/killer.err" ] && die "$(cat "$tmp/killer.err")"
		if [ "$mode" = failover ] && [ "$moved" = 0 ] &&
			[ "$(sql -c "SELECT count(*) FROM assignments WHERE deployment_id = $dep AND state = 'confirmed'")" -ge 1 ]; then
			failover "$t0"
			moved=1
		fi
		if [ "$mode" = pg ] && [ "$moved" = 0 ] &&
			[ "$(sql -c "SELECT count(*) FROM assignments WHERE deployment_id = $dep AND state = 'confirmed'")" -ge 1 ]; then
			# Down for 2 s, as a real restart is: devices meet 503s and
			# cut connections while it is down. (The writer bug of
			# storage/batch.c showed here once; check_e2e_cluster's
			# test_writer_reconnects_after_outage tests it every time.)
			"$ROOT/tests/pg/pg_tmp.sh" restart "$PG" 2 || die "PostgreSQL restart failed"
			moved=1
			echo "   PostgreSQL restarted at $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
		fi
		sleep 0.5
	done
	# Exit 1 is "errors met" (counted in the summary, judged below), 2 a usage error.
	rc=0
	wait "$SIM_PID" || rc=$?
	SIM_PID=
	[ "$rc" -le 1 ] && [ -s "$tmp/summary$seq.json" ] ||
		{ cat "$tmp/sim$seq.log" >&2; die "suit-sim failed (rollout $seq, exit $rc)"; }
	el=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	if [ -n "$KILLER_PID" ]; then
		touch "$tmp/stop"
		wait "$KILLER_PID" || die "$(cat "$tmp/killer.err" 2>/dev/null)"
		KILLER_PID=
	fi
	rm -f "$tmp/stop"
	for i in 1 2 3; do node_ready "$i" || die "node $i not ready after rollout $seq"; done
	cluster_wait_completed "$dep" 10
	sql -c "SELECT id, state FROM assignments WHERE deployment_id = $dep" >"$tmp/assign$seq.txt"
	sql -c "SELECT id, type, data FROM events WHERE deployment_id = $dep ORDER BY id" >"$tmp/events$seq.txt"
	echo "$seq. deployment $dep ($mode): completed in $el s$([ "$mode" = kill ] && echo ", $(cat "$tmp/kills" 2>/dev/null || echo 0) nodes killed")"
	python3 "$ROOT/tests/cluster/check_rollout.py" "$tmp/summary$seq.json" "$tmp/assign$seq.txt" \
		"$tmp/events$seq.txt" 3 "$DEVICES" || die "rollout $seq ($mode): the checks above failed"
}
# failover T0: stop the primary -m immediate, wait until node 1's /readyz
# says 503 (its database is gone and the standby refuses writes), promote
# the standby; sql then reads the promoted server.
failover() {
	local t=$1 code
	"$ROOT/tests/pg/pg_tmp.sh" crash "$PG" || die "stopping the primary failed"
	echo "   primary stopped at $(awk -v a="$t" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
	for _ in $(seq 1 600); do
		code=$(curl -s --cacert "$tmp/cert.pem" -o /dev/null -w '%{http_code}' --max-time 5 \
			"https://127.0.0.1:${PORT[1]}/readyz" || true)
		[ "$code" = 503 ] && break
		sleep 0.1
	done
	[ "$code" = 503 ] || die "node 1's /readyz says $code with the primary down"
	"$ROOT/tests/pg/pg_tmp.sh" promote "$STANDBY" || die "promote failed"
	# shellcheck disable=SC1091 # written by pg_tmp.sh
	. "$STANDBY/env"
	echo "   node 1 /readyz 503; standby promoted at $(awk -v a="$t" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
}

# ---- d. and e.: a partition, a failover ---------------------------------------
secs() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
metric() { # node name -> value or empty
	curl -s --cacert "$tmp/cert.pem" --max-time 5 "https://127.0.0.1:${PORT[$1]}/metrics" 2>/dev/null |
		awk -v m="$2" '$1 == m { print $2 }'
}
set_url() { # node url: node I's [storage] url
	local u=${2//&/\\&}
	sed -i "s#^url = .*#url = $u#" "$tmp/node$1.conf"
}
node_restart() { # node: SIGTERM, start, ready
	node_kill "$1" TERM
	node_start "$1"
	node_ready "$1" || die "node $1 not ready after its restart"
}
# until_true SECONDS WHAT CMD...: run CMD every 0.1 s until it succeeds;
# dies after SECONDS (a bound against hanging, not a measurement).
until_true() {
	local end=$((SECONDS + $1)) what=$2 s=$1
	shift 2
	while [ "$SECONDS" -le "$end" ]; do
		"$@" && return 0
		sleep 0.1
	done
	die "$what: not within $s s"
}
code_is() { # node path code
	[ "$(curl -s --cacert "$tmp/cert.pem" -H "Authorization: Bearer $KEY" -o "$tmp/last.body" \
		-w '%{http_code}' --max-time 120 "https://127.0.0.1:${PORT[$1]}$2" || true)" = "$3" ]
}
holds() { [ "$(metric "$1" suitd_cluster_housekeeper)" = "$2" ]; }
other_holds() { holds 1 1 || holds 2 1; }
lost_more() { [ "$(grep -c 'lost the housekeeper lease' "$tmp/node3.log" || true)" -gt "$1" ]; }

partition() {
	local pp t0 lost t
	t=$(date +%s.%N)
	echo "d. node 3 cut off from PostgreSQL (its packets dropped) while it holds the housekeeper lease:"
	if ! iptables -S OUTPUT >/dev/null 2>&1; then
		echo "   SKIP: iptables does not work here (no netfilter or no CAP_NET_ADMIN)"
		return 0
	fi
	pp=$(free_port "$HAPROXY_PORT") || die "no free port"
	cat >"$tmp/pgproxy.cfg" <<-CFG
		global
		  maxconn 500
		defaults
		  mode tcp
		  timeout connect 3s
		  timeout client 1h
		  timeout server 1h
		listen pg
		  # What a database server's tcp_keepalives_* and tcp_user_timeout
		  # do: a client cut off is noticed in about 3 s, idle or not, and
		  # its session ends (here the proxy closes its connection to
		  # PostgreSQL), releasing its lease. Keepalives alone are not
		  # enough: the server sends the lease holder notifications, and
		  # unacknowledged data keeps a connection up for the kernel's
		  # retransmissions (a first run waited 2 minutes for the lease).
		  bind 127.0.0.1:$pp tcp-ut 3s
		  option clitcpka
		  clitcpka-idle 1s
		  clitcpka-intvl 1s
		  clitcpka-cnt 2
		  server pg 127.0.0.1:$PG_TMP_PORT
	CFG
	haproxy -db -f "$tmp/pgproxy.cfg" >"$tmp/pgproxy.log" 2>&1 &
	PGPROXY_PID=$!
	# Short keepalives over the defaults of storage/postgresql/pg_conn.c
	# (10 s idle, 5 s apart, 20 s unacknowledged) so that this takes seconds.
	set_url 3 "postgresql://suitd@127.0.0.1:$pp/suitd?keepalives_idle=1&keepalives_interval=1&keepalives_count=2&tcp_user_timeout=3000&connect_timeout=2"
	node_restart 3
	# Node 3 takes the lease while it is alone.
	node_kill 1 TERM
	node_kill 2 TERM
	until_true 30 "node 3 takes the lease" holds 3 1
	node_start 1
	node_start 2
	node_ready 1 && node_ready 2 || die "nodes 1 and 2 not ready after their restart"
	holds 3 1 || die "node 3 lost the lease before the partition"
	# /metrics answers 503 without the database (Prometheus then records
	# the target as down), so node 3's log tells when it gives up the lease.
	lost=$(grep -c 'lost the housekeeper lease' "$tmp/node3.log" || true)
	iptables -I OUTPUT -o lo -p tcp --dport "$pp" -j DROP || die "iptables failed"
	DROPPING=$pp
	t0=$(date +%s.%N)
	code_is 3 /api/v1/deployments 503 && grep -q 'urn:suitd:storage-unavailable' "$tmp/last.body" ||
		die "node 3 cut off, GET /api/v1/deployments: $(cat "$tmp/last.body")"
	echo "   node 3: 503 storage-unavailable after $(secs "$t0") s"
	until_true 120 "node 3's /readyz 503" code_is 3 /readyz 503
	echo "   node 3: /readyz 503 after $(secs "$t0") s"
	until_true 120 "node 3 gives up the lease" lost_more "$lost"
	echo "   node 3: lease given up after $(secs "$t0") s"
	until_true 120 "node 1 or 2 takes the lease" other_holds
	echo "   node $(holds 1 1 && echo 1 || echo 2): lease taken after $(secs "$t0") s"
	iptables -D OUTPUT -o lo -p tcp --dport "$pp" -j DROP || die "iptables -D failed"
	DROPPING=
	t0=$(date +%s.%N)
	node_ready 3 || die "node 3 not ready after the partition healed"
	code_is 3 /api/v1/deployments 200 || die "node 3 after the partition: $(cat "$tmp/last.body")"
	holds 3 0 || die "node 3 says it holds the lease next to another node"
	echo "   healed: node 3 ready and answering 200 after $(secs "$t0") s"
	echo "d. took $(secs "$t") s"
}

replica() {
	local url t
	t=$(date +%s.%N)
	echo "e. failover to a streaming replica (synchronous) in the middle of a rollout:"
	STANDBY=$(mktemp -d "${TMPDIR:-/tmp}/suitd-pgs.XXXXXX")
	"$ROOT/tests/pg/pg_tmp.sh" standby "$PG" "$STANDBY" $$ || die "no standby"
	url="postgresql://suitd@127.0.0.1:$PG_TMP_PORT,127.0.0.1:$(cat "$STANDBY/port")/suitd"
	url="$url?target_session_attrs=read-write&connect_timeout=2"
	for i in 1 2 3; do
		set_url "$i" "$url"
		node_restart "$i"
	done
	if [ -n "$PGPROXY_PID" ]; then
		kill -TERM "$PGPROXY_PID"
		wait "$PGPROXY_PID" 2>/dev/null || true
		PGPROXY_PID=
	fi
	rollout 3 failover
	echo "e. took $(secs "$t") s (standby, node restarts, rollout)"
}

echo "b. a rollout while a random node is killed every $KILL_MIN-$((KILL_MIN + KILL_SPAN - 1)) s:"
rollout 1 kill
echo "c. a rollout with PostgreSQL restarted in the middle:"
rollout 2 pg
[ "$PARTITION" = 1 ] && partition
[ "$FAILOVER" = 1 ] && replica
rollouts=$((2 + FAILOVER))
# What the rows of these two rollouts take (docs/cluster.md's capacity
# model reads it from the large mode): bytes per device by table, indexes
# and TOAST included.
sizes=$(sql -F ' ' -c "SELECT c, pg_total_relation_size(c::regclass) FROM unnest(ARRAY['devices',
	'assignments', 'events', 'reports']) AS c")
echo "database: $(sql -c "SELECT pg_size_pretty(pg_database_size('suitd'))"); per device after $rollouts rollouts:" \
	"$(awk -v n="$DEVICES" '{ printf "%s%s %.0f B", (NR > 1 ? ", " : ""), $1, $2 / n }' <<<"$sizes")"
passed=1
echo "tests/cluster/run.sh: all cases passed in $(since) s"
