#!/bin/bash
# Cluster benchmark (issue 22): suitd nodes on one PostgreSQL behind haproxy
# (contrib/haproxy/suitd.cfg, addresses substituted, as tests/cluster/run.sh).
#
# Usage: bench/cluster.sh        (about 3 minutes on 2 cores)
#
# 1. Check-ins through haproxy with 1, 2 and 3 nodes (only those nodes run;
#    haproxy's config lists only them): wrk -t2 -cCONNS -dSECONDS with
#    bench/checkin.lua (idle devices: 204 with Cache-Control, one token per
#    request), ROUNDS rounds, median requests/s. On a machine this small
#    the load generator, haproxy, PostgreSQL and the nodes share the cores,
#    so requests/s cannot grow with nodes here; what must hold for capacity
#    to add up on separate machines is that the work per request stays
#    flat: CPU-µs per request of all suitd nodes together, of haproxy and of
#    PostgreSQL (utime+stime from /proc/PID/stat, PostgreSQL's backends
#    included), each also as a ratio against the 1-node figure of the same
#    run; and before the rounds, the nodes' CPU with no requests for IDLE
#    seconds (ms per second, all nodes): the fixed cost a node adds.
# 2. Housekeeper failover, FAILOVERS rounds with 3 nodes: kill -9 the node
#    whose /metrics says suitd_cluster_housekeeper 1, then read the other
#    two nodes' /metrics every 20 ms until one says 1; the killed node is
#    started again before the next round. Median and max seconds.
# 3. Propagation window, CHANGES changes: a device's token, used once on
#    node 2 (so node 2 has it cached), is rotated through node 1
#    (POST /api/v1/devices/ID/token); from node 1's answer, node 2 is asked
#    with the old token on a kept-alive connection until it answers 401.
#    Median, p99 and max milliseconds.
#
# Knobs: DEVICES=10000 ROUNDS=3 SECONDS_PER_RUN=10 CONNS=16 FAILOVERS=7
# CHANGES=200 IDLE=5. Everything on 127.0.0.1; temp dir removed, processes stopped
# at exit. BUILD=build/x uses that build folder.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=tests/cluster/lib.sh # PostgreSQL, nodes, haproxy
. "$ROOT/tests/cluster/lib.sh"

DEVICES=${DEVICES:-10000}
ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
CONNS=${CONNS:-16}
FAILOVERS=${FAILOVERS:-7}
CHANGES=${CHANGES:-200}
IDLE=${IDLE:-5}

need=()
need_cmds curl openssl python3 wrk haproxy psql:postgresql-client
[ -d /usr/lib/postgresql ] || need+=(postgresql)
install_tools "${need[@]}"

tmp=$(mktemp -d)
HAPROXY_PID=
PG=
cleanup() {
	# Each may have nothing to stop: an empty kill's status must not end
	# the script (set -e) with 2 after a good run.
	[ -z "$HAPROXY_PID" ] || kill -TERM "$HAPROXY_PID" 2>/dev/null || true
	# shellcheck disable=SC2046 # one PID per word
	kill -TERM $(node_pids) 2>/dev/null || true
	# shellcheck disable=SC2046,SC2086 # one PID per word; empty ones vanish
	kill_after 50 $HAPROXY_PID $(node_pids)
	cluster_pg_stop
	rm -rf "$tmp"
}
install_traps

print_machine
build_suitd
echo "suitd: $("$SUITD" -V 2>&1 | head -n1); $(haproxy -v | head -n1); $DEVICES devices"
cluster_pg_start
make_server_cert 2
cluster_ports
cluster_confs "[devices]
auth = token
seen_flush = 60
[log]
level = warning"
KEY=$(admin_key "$tmp/node1.conf") || exit 1
# Tokens suitd_dt_bench-<n>, as bench/checkin.lua sends them.
cluster_devices "$DEVICES" bench fleet "$tmp/tokens"

haproxy_stop() {
	kill -TERM "$HAPROXY_PID" 2>/dev/null || true
	wait "$HAPROXY_PID" 2>/dev/null || true
	HAPROXY_PID=
}
pg_pids() {
	local pm
	pm=$(head -n1 "$PG_TMP_DIR/data/postmaster.pid")
	echo "$pm" $(pgrep -P "$pm")
}

# ---- 1. check-ins with 1, 2, 3 nodes -------------------------------------------
echo
echo "check-ins through haproxy (wrk -t2 -c$CONNS -d${SECONDS_PER_RUN}s, idle devices, 204), $ROUNDS rounds:"
printf '%-6s %10s %8s %14s %14s %14s %14s\n' nodes req/s p99_ms suitd_us/req haproxy_us/req pg_us/req idle_ms/s
base_s='' base_h='' base_p='' base_r=''
for n in 1 2 3; do
	for i in $(seq 1 "$n"); do [ -f "$tmp/node$i.pid" ] || node_start "$i"; done
	for i in $(seq 1 "$n"); do node_ready "$i" || die "node $i not ready"; done
	cluster_haproxy_conf "$n" warning
	cluster_haproxy_start
	sleep 2.5 # two health checks (rise 2, inter 1s) for every node
	# What the nodes spend with no requests (the event-log follower, the
	# lease attempts, haproxy's health checks): ms of CPU per second, all
	# nodes together, over IDLE seconds.
	# shellcheck disable=SC2046 # one PID per word
	i0=$(cpu_ticks $(for i in $(seq 1 "$n"); do cat "$tmp/node$i.pid"; done))
	sleep "$IDLE"
	# shellcheck disable=SC2046
	i1=$(cpu_ticks $(for i in $(seq 1 "$n"); do cat "$tmp/node$i.pid"; done))
	idle=$(awk -v t=$((i1 - i0)) -v hz="$HZ" -v s="$IDLE" 'BEGIN { printf "%.1f", t / hz * 1000 / s }')
	rps_l=() p99_l=() s_l=() h_l=() p_l=()
	for r in $(seq 1 "$ROUNDS"); do
		# shellcheck disable=SC2046 # one PID per word
		nodes=$(for i in $(seq 1 "$n"); do cat "$tmp/node$i.pid"; done)
		pgs=$(pg_pids)
		# shellcheck disable=SC2086
		s0=$(cpu_ticks $nodes) h0=$(cpu_ticks "$HAPROXY_PID") p0=$(cpu_ticks $pgs)
		wrk -t2 -c"$CONNS" -d"${SECONDS_PER_RUN}s" --latency -s bench/checkin.lua \
			"https://127.0.0.1:$HAPROXY_PORT/device/v1/manifest?seq=0" -- idle "$DEVICES" 204 0 2 \
			>"$tmp/wrk.txt" 2>&1 || { cat "$tmp/wrk.txt" >&2; die "wrk failed"; }
		# shellcheck disable=SC2046,SC2086 # one PID per word
		s1=$(cpu_ticks $nodes) h1=$(cpu_ticks "$HAPROXY_PID") p1=$(cpu_ticks $(pg_pids))
		line=$(grep '^checkin:' "$tmp/wrk.txt")
		case $line in *"status=204:"*) ;; *) cat "$tmp/wrk.txt" >&2; die "unexpected answers" ;; esac
		case $line in *" wrong_len=0 no_cache_control=0 "*) ;; *) die "unexpected answers: $line" ;; esac
		read -r rps nreq _ _ p99 errs <<<"$(wrk_parse "$tmp/wrk.txt")"
		[ "$errs" = 0 ] || die "wrk socket errors: $errs"
		case $line in *"status=204:$nreq "*) ;; *) die "not every answer was 204: $line" ;; esac
		rps_l+=("$rps") p99_l+=("$p99")
		us() { awk -v t="$1" -v n="$nreq" -v hz="$HZ" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }'; }
		s_l+=("$(us $((s1 - s0)))") h_l+=("$(us $((h1 - h0)))") p_l+=("$(us $((p1 - p0)))")
	done
	rps=$(median "${rps_l[@]}") p99=$(median "${p99_l[@]}")
	s=$(median "${s_l[@]}") h=$(median "${h_l[@]}") p=$(median "${p_l[@]}")
	[ -z "$base_s" ] && base_s=$s base_h=$h base_p=$p base_r=$rps
	printf '%-6s %10.0f %8.2f %8s (%4sx) %8s (%4sx) %8s (%4sx) %14s\n' "$n" "$rps" "$p99" \
		"$s" "$(ratio "$s" "$base_s")" "$h" "$(ratio "$h" "$base_h")" "$p" "$(ratio "$p" "$base_p")" "$idle"
	haproxy_stop
done
echo "requests/s with 3 nodes / 1 node: $(ratio "$rps" "$base_r") (same 2 cores for everything)"

# ---- 2. housekeeper failover ----------------------------------------------------
metric() { # node name -> value or empty
	curl -s --cacert "$tmp/cert.pem" --max-time 1 "https://127.0.0.1:${PORT[$1]}/metrics" 2>/dev/null |
		awk -v m="$2" '$1 == m { print $2 }'
}
holder() {
	for i in 1 2 3; do
		[ -f "$tmp/node$i.pid" ] && [ "$(metric "$i" suitd_cluster_housekeeper)" = 1 ] && { echo "$i"; return 0; }
	done
	return 1
}
echo
echo "housekeeper failover (kill -9 of the holder until another node's /metrics says 1), $FAILOVERS rounds:"
times_l=()
for r in $(seq 1 "$FAILOVERS"); do
	for _ in $(seq 1 100); do h=$(holder) && break; sleep 0.1; done
	[ -n "${h:-}" ] || die "no node holds the housekeeper lease"
	node_kill "$h"
	rm -f "$tmp/node$h.pid"
	t0=$(date +%s.%N)
	new=
	for _ in $(seq 1 1500); do
		for i in 1 2 3; do
			[ "$i" = "$h" ] && continue
			[ "$(metric "$i" suitd_cluster_housekeeper)" = 1 ] && { new=$i; break 2; }
		done
		sleep 0.02
	done
	[ -n "$new" ] || die "no node took the lease within 30 s"
	el=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
	times_l+=("$el")
	echo "  round $r: node $h killed, node $new holds the lease after $el s"
	node_start "$h"
	node_ready "$h" || die "node $h not ready"
	h=
done
sorted=$(printf '%s\n' "${times_l[@]}" | sort -g | tr '\n' ' ')
echo "failover: median $(median "${times_l[@]}") s, max $(printf '%s\n' "${times_l[@]}" | sort -g | tail -n1) s (all: $sorted)"

# ---- 3. propagation window --------------------------------------------------------
echo
echo "propagation: token rotated on node 1, refused by node 2 (which had it cached), $CHANGES changes:"
python3 - "$tmp/cert.pem" "${PORT[1]}" "${PORT[2]}" "$KEY" "$CHANGES" <<'EOF'
import http.client, json, ssl, sys, time
ca, p1, p2, key, changes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
ctx = ssl.create_default_context(cafile=ca)
a = http.client.HTTPSConnection("127.0.0.1", p1, context=ctx)
b = http.client.HTTPSConnection("127.0.0.1", p2, context=ctx)

def get(c, path, token):
    c.request("GET", path, headers={"Authorization": "Bearer " + token})
    r = c.getresponse()
    r.read()
    return r.status

window = []
for i in range(1, changes + 1):
    dev = "bench-%d" % (i * 10 + 1)  # idle devices: 204
    old = "suitd_dt_bench-%d" % (i * 10 + 1)
    if get(b, "/device/v1/manifest?seq=0", old) != 204:
        sys.exit("node 2 refused the token before the change")
    a.request("POST", "/api/v1/devices/%s/token" % dev, headers={"Authorization": "Bearer " + key})
    r = a.getresponse()
    body = r.read()
    t0 = time.monotonic()
    if r.status != 200 and r.status != 201:
        sys.exit("rotation: HTTP %d %s" % (r.status, body[:200]))
    while True:
        s = get(b, "/device/v1/manifest?seq=0", old)
        if s == 401:
            break
        if s != 204:
            sys.exit("node 2: HTTP %d" % s)
        if time.monotonic() - t0 > 10:
            sys.exit("node 2 still accepts the old token after 10 s")
    window.append((time.monotonic() - t0) * 1000)
window.sort()
pct = lambda q: window[min(len(window) - 1, int(q * len(window)))]
print("window: median %.1f ms, p99 %.1f ms, max %.1f ms (%d changes; includes one request to node 2, %.1f ms at least)"
      % (pct(0.5), pct(0.99), window[-1], len(window), window[0]))
EOF
