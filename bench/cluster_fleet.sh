#!/bin/bash
# A fleet rollout through the cluster, with a node killed halfway (issue 22).
#
# Usage: bench/cluster_fleet.sh        (about 3 minutes on 2 cores)
#
# Three suitd nodes on one throwaway PostgreSQL behind haproxy
# (contrib/haproxy/suitd.cfg, as tests/cluster/run.sh), SIMULATED devices
# played by tools/suit-sim through haproxy (CONCURRENCY transfers in
# flight, Cache-Control capped at MAX_POLL s), a PAYLOAD_SIZE payload, a
# rollout in stages 10/50/100 %. Three rollouts of the same fleet
# (sequences 1-3), in turn:
#   warm-up:   nothing happens to the nodes (the first rollout also fills
#              the nodes' token caches and PostgreSQL's buffers);
#   killed:    once half of the devices have confirmed, the node that
#              holds the housekeeper lease is killed with SIGKILL and
#              stays down for the rest of it (haproxy goes on with two
#              nodes; the lease moves); it is started again afterwards;
#   reference: nothing happens to the nodes.
# Printed for each: seconds from the deployment's creation until it is
# completed, the confirmed count (must be SIMULATED), suit-sim's transport
# errors (cut connections it retried: the killed node's) and HTTP errors
# by status; "unexpected" counts answers other than 2xx/304 and 503 (503
# storage-unavailable and busy are what a device is told to retry) and
# must be 0. Then the killed/reference ratio of the completion times.
#
# Knobs: SIMULATED=2000 PAYLOAD_SIZE=262144 CONCURRENCY=128 MAX_POLL=2.
# BUILD=build/x uses that build folder. Everything on 127.0.0.1; temp dir
# removed and processes stopped at exit.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=tests/cluster/lib.sh # PostgreSQL, nodes, haproxy
. "$ROOT/tests/cluster/lib.sh"

SIMULATED=${SIMULATED:-2000}
PAYLOAD_SIZE=${PAYLOAD_SIZE:-262144}
CONCURRENCY=${CONCURRENCY:-128}
MAX_POLL=${MAX_POLL:-2}

need=()
need_cmds curl openssl python3 haproxy psql:postgresql-client
[ -d /usr/lib/postgresql ] || need+=(postgresql)
install_tools "${need[@]}"

tmp=$(mktemp -d)
HAPROXY_PID=
PG=
SIM_PID=
cleanup() {
	[ -n "$SIM_PID" ] && kill -TERM "$SIM_PID" 2>/dev/null
	[ -n "$HAPROXY_PID" ] && kill -TERM "$HAPROXY_PID" 2>/dev/null
	# shellcheck disable=SC2046 # one PID per word
	kill -TERM $(node_pids) 2>/dev/null || true
	# shellcheck disable=SC2046,SC2086 # one PID per word; empty ones vanish
	kill_after 50 $SIM_PID $HAPROXY_PID $(node_pids)
	cluster_pg_stop
	rm -rf "$tmp"
}
install_traps

print_machine
build_suitd
SIM=$(dirname "$SUITD")/suit-sim
[ -x "$SIM" ] || make ${BUILD:+BUILD=$BUILD} "$(dirname "$SUITD")/suit-sim" >/dev/null
echo "suitd: $("$SUITD" -V 2>&1 | head -n1); $(haproxy -v | head -n1)"
echo "$SIMULATED devices, payload $PAYLOAD_SIZE bytes, concurrency $CONCURRENCY, max poll $MAX_POLL s"
cluster_pg_start
cluster_rollout_confs warning
# shellcheck disable=SC2034 # read by api in bench/lib.sh
KEY=$(admin_key "$tmp/node1.conf") || exit 1
cluster_devices "$SIMULATED" fleet sim "$tmp/tokens"
for i in 1 2 3; do node_start "$i"; done
for i in 1 2 3; do node_ready "$i" || die "node $i not ready"; done
cluster_haproxy_conf 3 warning
cluster_haproxy_start
SUITD_BASE=https://127.0.0.1:$HAPROXY_PORT
head -c "$PAYLOAD_SIZE" /dev/urandom >"$tmp/fw.bin"
out=$(api POST /api/v1/payloads application/octet-stream "$tmp/fw.bin")
[ "${out##*$'\n'}" = 201 ] || die "payload upload: $out"

holder() {
	local i
	for i in 1 2 3; do
		curl -s --cacert "$tmp/cert.pem" --max-time 2 "https://127.0.0.1:${PORT[$i]}/metrics" |
			grep -q '^suitd_cluster_housekeeper 1$' && { echo "$i"; return 0; }
	done
	return 1
}
confirmed() { sql -c "SELECT count(*) FROM assignments WHERE deployment_id = $1 AND state = 'confirmed'"; }

# rollout SEQ MODE (reference or killed): prints a result line; sets EL.
rollout() {
	local seq=$1 mode=$2 out dep t0 killed=- h
	"$SUITD" -c "$tmp/node1.conf" manifest create --key "$tmp/author.key" --payload "$tmp/fw.bin" \
		--vendor-domain example.com --class-info fleet --sequence "$seq" -o "$tmp/m$seq.suit" \
		2>"$tmp/manifest.log" || { cat "$tmp/manifest.log" >&2; die "manifest create failed"; }
	out=$(api POST /api/v1/manifests application/suit-envelope+cose "$tmp/m$seq.suit")
	[ "${out##*$'\n'}" = 201 ] || die "manifest upload: $out"
	printf '{"manifest":"%s","target":{"group":"sim"},"rollout":{"stages":[10,50,100],"success_threshold":90,"failure_threshold":50,"device_timeout":600}}' \
		"$(manifest_digest "$out")" >"$tmp/dep$seq.json"
	t0=$(date +%s.%N)
	deploy_and_wait "$tmp/dep$seq.json"
	dep=$(printf '%s' "$DEP_OUT" | sed -n 's/^{"id":\([0-9]*\).*/\1/p')
	"$SIM" --url "$SUITD_BASE" --cacert "$tmp/cert.pem" --trust-anchor "$tmp/author.pub" \
		--tokens "$tmp/tokens" --state "$tmp/sim.state" --until-done --max-poll "$MAX_POLL" \
		--concurrency "$CONCURRENCY" --seed "$seq" -q --summary "$tmp/summary$seq.json" \
		>"$tmp/sim$seq.log" 2>&1 &
	SIM_PID=$!
	while kill -0 "$SIM_PID" 2>/dev/null; do
		if [ "$mode" = killed ] && [ "$killed" = - ] && [ "$(confirmed "$dep")" -ge $((SIMULATED / 2)) ]; then
			h=$(holder) || die "no node holds the housekeeper lease"
			node_kill "$h"
			rm -f "$tmp/node$h.pid"
			KILLED=$h
			killed="node $h at $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
		fi
		sleep 0.2
	done
	wait "$SIM_PID" || [ $? -le 1 ] || { cat "$tmp/sim$seq.log" >&2; die "suit-sim failed"; }
	SIM_PID=
	cluster_wait_completed "$dep" 60
	EL=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	python3 - "$tmp/summary$seq.json" "$mode" "$EL" "$(confirmed "$dep")" "$SIMULATED" "$killed" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
mode, el, conf, n, killed = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
e = s["errors"]
http = e.get("http", {})
# Expected (a device retries them): cut connections, 503. Anything else
# (another status, a digest mismatch, a refused report) is unexpected.
unexpected = sum(v for k, v in http.items() if k != "503")
unexpected += sum(v for k, v in e.items() if k not in ("total", "first", "transport", "http"))
print("%-10s completed in %6s s, confirmed %d/%d, killed: %s; transport errors %d, HTTP errors %s, unexpected %d"
      % (mode, el, conf, n, killed, e.get("transport", 0), json.dumps(http), unexpected))
if conf != n or unexpected or s["unfinished"] != 0:
    sys.exit(1)
EOF
}

echo
KILLED=
rollout 1 warm-up
rollout 2 killed
kill_el=$EL
[ -n "$KILLED" ] || die "no node was killed"
node_start "$KILLED"
node_ready "$KILLED" || die "node $KILLED not ready after its restart"
sleep 2.5 # haproxy's two health checks
rollout 3 reference
echo "killed / reference completion time: $(ratio "$kill_el" "$EL")"
