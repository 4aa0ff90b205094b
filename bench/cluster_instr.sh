#!/bin/bash
# Instructions per check-in as suitd nodes are added (issue 22): a measure
# that two busy shared cores do not distort, unlike the CPU-µs of
# bench/cluster.sh.
#
# Usage: bench/cluster_instr.sh        (about 4 minutes on 2 cores)
#
# The nodes run under valgrind's cachegrind without its cache simulation
# (--cache-sim=no), which counts every user-space instruction a process
# executes: a count that contention, frequency scaling and other processes
# on the cores do not change. (perf stat -e instructions:u would be cheaper;
# this machine's VM exposes no hardware counters: "<not supported>".)
# For N = 1, 2, 3 nodes behind haproxy (contrib/haproxy/suitd.cfg, as
# bench/cluster.sh), two runs of the same wall time: one idle (start, ready,
# SECONDS_PER_RUN with no requests, stop) and one with wrk -t1 -cCONNS
# sending idle check-ins (bench/checkin.lua, 204) through haproxy. The
# instructions of all nodes of the loaded run, less those of the idle run,
# divided by the requests: the instructions per check-in, start-up, cache
# loading and the nodes' own clocks (event-log follower, lease attempts,
# health checks) taken out. Valgrind runs a process's threads one at a time
# and 20-50 times slower, so requests/s here mean nothing; counts per
# request do. Kernel instructions are not counted (no counters); the
# syscalls per request are the same code whatever N is.
#
# Knobs: DEVICES=2000 SECONDS_PER_RUN=15 CONNS=8. BUILD=build/x uses that
# build folder. Everything on 127.0.0.1; temp dir removed at exit.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=tests/cluster/lib.sh # PostgreSQL, nodes, haproxy
. "$ROOT/tests/cluster/lib.sh"

DEVICES=${DEVICES:-2000}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-15}
CONNS=${CONNS:-8}

need=()
need_cmds curl openssl python3 wrk haproxy valgrind psql:postgresql-client
[ -d /usr/lib/postgresql ] || need+=(postgresql)
install_tools "${need[@]}"

tmp=$(mktemp -d)
HAPROXY_PID=
PG=
cleanup() {
	[ -n "$HAPROXY_PID" ] && kill -TERM "$HAPROXY_PID" 2>/dev/null
	# shellcheck disable=SC2046 # one PID per word
	kill -TERM $(node_pids) 2>/dev/null || true
	# shellcheck disable=SC2046,SC2086 # one PID per word; empty ones vanish
	kill_after 100 $HAPROXY_PID $(node_pids)
	cluster_pg_stop
	rm -rf "$tmp"
}
install_traps

print_machine
build_suitd
echo "suitd: $("$SUITD" -V 2>&1 | head -n1); $(valgrind --version); $DEVICES devices"
cluster_pg_start
make_server_cert 2
cluster_ports
cluster_confs "[devices]
auth = token
seen_flush = 60
[log]
level = warning"
cluster_devices "$DEVICES" bench fleet "$tmp/tokens"
# From here the nodes start under cachegrind; node_start runs $SUITD.
REAL=$SUITD
SUITD=$tmp/suitd-cg
cat >"$SUITD" <<EOF
#!/bin/sh
exec valgrind -q --tool=cachegrind --cache-sim=no --cachegrind-out-file=$tmp/cg.%p "$REAL" "\$@"
EOF
chmod +x "$SUITD"

# run N MODE: N nodes, MODE idle or load; sets RUN_INSTR (all nodes) and
# RUN_REQ. Not in $(...): die must end the script.
run() {
	local n=$1 mode=$2 i pids=() total=0 nreq=0 line f
	rm -f "$tmp"/cg.* "$tmp"/node?.pid
	for i in $(seq 1 "$n"); do node_start "$i"; done
	for i in $(seq 1 "$n"); do
		node_ready "$i" || node_ready "$i" || node_ready "$i" ||
			{ tail -n 20 "$tmp/node$i.log" >&2; die "node $i not ready under valgrind"; }
		pids+=("$(cat "$tmp/node$i.pid")")
	done
	cluster_haproxy_conf "$n" warning
	cluster_haproxy_start
	sleep 2.5 # two health checks (rise 2, inter 1s) for every node
	if [ "$mode" = idle ]; then
		sleep "$SECONDS_PER_RUN"
	else
		wrk -t1 -c"$CONNS" -d"${SECONDS_PER_RUN}s" -s bench/checkin.lua \
			"https://127.0.0.1:$HAPROXY_PORT/device/v1/manifest?seq=0" -- idle "$DEVICES" 204 0 2 \
			>"$tmp/wrk.txt" 2>&1 || { cat "$tmp/wrk.txt" >&2; die "wrk failed"; }
		line=$(grep '^checkin:' "$tmp/wrk.txt")
		read -r _ nreq _ _ _ errs <<<"$(wrk_parse "$tmp/wrk.txt")"
		[ "$errs" = 0 ] || die "wrk socket errors: $errs"
		case $line in *"status=204:$nreq wrong_len=0 "*) ;; *) die "not every answer was 204: $line" ;; esac
	fi
	kill -TERM "$HAPROXY_PID"
	wait "$HAPROXY_PID" 2>/dev/null || true
	HAPROXY_PID=
	for i in $(seq 1 "$n"); do node_kill "$i" TERM; done
	for p in "${pids[@]}"; do
		f=$tmp/cg.$p
		for _ in $(seq 1 300); do
			grep -q '^summary:' "$f" 2>/dev/null && break
			sleep 0.1
		done
		line=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$f")
		[ -n "$line" ] || die "no instruction count from node PID $p"
		total=$((total + line))
	done
	rm -f "$tmp"/node?.pid
	RUN_INSTR=$total RUN_REQ=$nreq
}

echo
echo "instructions per check-in (user space, all suitd nodes; loaded run less idle run of ${SECONDS_PER_RUN}s):"
printf '%-6s %16s %16s %10s %14s %8s\n' nodes idle_instr load_instr requests instr/req ratio
base=
for n in 1 2 3; do
	run "$n" idle
	idle=$RUN_INSTR
	run "$n" load
	load=$RUN_INSTR nreq=$RUN_REQ
	per=$(awk -v a="$load" -v b="$idle" -v n="$nreq" 'BEGIN { printf "%.0f", (a - b) / n }')
	[ -z "$base" ] && base=$per
	printf '%-6s %16s %16s %10s %14s %8s\n' "$n" "$idle" "$load" "$nreq" "$per" "$(ratio "$per" "$base")"
done
