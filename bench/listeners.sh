#!/bin/bash
# Two suitd builds on the same new-connection workload, alternately, in
# one run: written to compare one MHD daemon per core on its own
# SO_REUSEPORT socket (369e0a3) with one daemon whose thread pool shares
# one socket (main); see docs/design.md, TLS, and bench/README.md.
#
# Usage: REF=build/base bench/listeners.sh   (REF: a build folder holding
#        the reference suitd, e.g. main's tree built with BUILD=build/base;
#        "new" is this tree, built into BUILD, default build/x)
#
# For each build and round: suitd with threads = 2 on a free loopback port,
# then three clients on GET /healthz with Connection: close, each request on
# a new connection:
#   wrk13   wrk -t1 -c32 -d DURATION s (TLS 1.3, resumes its session)
#   full13  loadgen -k -c 32 -d DURATION --reconnect --no-resume
#   seq13   loadgen -k -c 1 -n SEQ --reconnect --no-resume (one at a time)
# and per run: connections/s, server CPU-µs per connection (utime+stime of
# all suitd threads) and the server's context switches per connection
# (voluntary + involuntary, all threads: a thread woken for a connection
# another thread accepts shows here, not in strace: epoll_wait re-checks a
# level-triggered socket and sleeps again without returning). Other
# processes' CPU is shown; runs with more than 10 % of a core marked BUSY.
# Knobs: ROUNDS=3 DURATION=6 SEQ=1000 BUILD=build/x REF (required).
set -euo pipefail

. "$(dirname "$0")/lib.sh"
DIE_PREFIX="listeners.sh: FAILED: "
cd "$(dirname "$0")/.."
ROOT=$PWD
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-6}
SEQ=${SEQ:-1000}
BUILD=${BUILD:-build/x}
[ -n "${REF:-}" ] && [ -x "$ROOT/$REF/suitd" ] || die "REF=<build folder with suitd> is required"
need_cmds wrk curl openssl ss:iproute2 cc:gcc pkg-config
install_tools

tmp=$(mktemp -d)
SUITD_PID=
cleanup() {
	if [ -n "$SUITD_PID" ]; then kill -TERM "$SUITD_PID" 2>/dev/null || true; fi
	# shellcheck disable=SC2086 # empty PIDs vanish
	kill_after 100 $SUITD_PID
	backend_stop
	rm -rf "$tmp"
}
install_traps

print_machine
build_suitd
backend_start
build_loadgen
cp "$SUITD" "$tmp/suitd-new" && cp "$ROOT/$REF/suitd" "$tmp/suitd-ref" &&
	cp "$LOADGEN" "$tmp/loadgen" || die "cannot copy the binaries"
LOADGEN=$tmp/loadgen
make_server_cert 30
echo "new: $BUILD ($(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?')), ref: $REF"

# Machine-wide busy ticks (processes + irq).
busy_ticks() { machine_ticks | awk '{ print $1 + $2 }'; }

# Context switches of all threads of PID.
switches() {
	cat /proc/"$1"/task/*/status 2>/dev/null |
		awk '/^(non)?voluntary_ctxt_switches/ { s += $2 } END { print s + 0 }'
}

declare -A RESULT
run_one() { # build mode round
	local which=$1 mode=$2 port conf t0 s0 m0 c0 t1 s1 m1 c1 conns out
	conf=$tmp/$which.conf
	SUITD=$tmp/suitd-$which
	# free_port's range overlaps the ephemeral ports, which the clients'
	# TIME_WAIT sockets hold (bind: EADDRINUSE): try another port then.
	for try in 1 2 3 4 5; do
		port=$(free_port) || die "no free port"
		{ suitd_base_conf "$port" "$tmp/$which.db"; printf '%s\n' "[server]" "threads = 2" "[log]" "level = warning"; } >"$conf"
		DB=$tmp/$which.db backend_reset
		start_suitd "$conf"
		wait_up "https://127.0.0.1:$port/healthz" "$SUITD_PID" && break
		wait "$SUITD_PID" 2>/dev/null || true
		SUITD_PID=
		[ "$try" = 5 ] && { cat "$tmp/suitd.log" >&2; die "suitd ($which) did not start"; }
	done
	local url=https://127.0.0.1:$port/healthz
	t0=$(cpu_ticks "$SUITD_PID") s0=$(switches "$SUITD_PID") m0=$(busy_ticks) c0=$(date +%s.%N)
	case $mode in
	wrk13)
		out=$(wrk -t1 -c32 -d"${DURATION}s" -H 'Connection: close' "$url" 2>&1)
		conns=$(awk '/requests in/ { print $1 }' <<<"$out") ;;
	full13)
		out=$("$LOADGEN" -k -c 32 -d "$DURATION" --reconnect --no-resume "$url" 2>&1) || true
		conns=$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<<"$out" | head -n1) ;;
	seq13)
		out=$("$LOADGEN" -k -c 1 -n "$SEQ" --reconnect --no-resume "$url" 2>&1) || true
		conns=$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<<"$out" | head -n1) ;;
	esac
	t1=$(cpu_ticks "$SUITD_PID") s1=$(switches "$SUITD_PID") m1=$(busy_ticks) c1=$(date +%s.%N)
	kill -TERM "$SUITD_PID"
	wait "$SUITD_PID" 2>/dev/null || true
	SUITD_PID=
	[ -n "$conns" ] && [ "$conns" -gt 0 ] || { echo "$out" >&2; die "$mode ($which): no connections counted"; }
	local secs rate us cs other busy=""
	secs=$(awk -v a="$c0" -v b="$c1" 'BEGIN { print b - a }')
	rate=$(awk -v n="$conns" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')
	us=$(awk -v t=$((t1 - t0)) -v n="$conns" -v hz="$HZ" 'BEGIN { printf "%.0f", t * 1e6 / hz / n }')
	cs=$(awk -v d=$((s1 - s0)) -v n="$conns" 'BEGIN { printf "%.2f", d / n }')
	# Others: all CPU of the machine minus suitd's (the client is counted in).
	other=$(awk -v m=$((m1 - m0)) -v t=$((t1 - t0)) -v hz="$HZ" -v s="$secs" \
		'BEGIN { printf "%.2f", (m - t) / hz / s }')
	awk -v o="$other" 'BEGIN { exit !(o > 1.1) }' && busy="  BUSY"
	printf '  round %s %-6s %-3s %6s/s (%6s conns; %4s us/conn; %5s switches/conn; others %s cores incl. the client)%s\n' \
		"$3" "$mode" "$which" "$rate" "$conns" "$us" "$cs" "$other" "$busy"
	RESULT[$which.$mode.rate]+="$rate " RESULT[$which.$mode.us]+="$us " RESULT[$which.$mode.cs]+="$cs "
}

for r in $(seq 1 "$ROUNDS"); do
	for mode in wrk13 full13 seq13; do
		if [ $((r % 2)) = 1 ]; then order="new ref"; else order="ref new"; fi
		for which in $order; do run_one "$which" "$mode" "$r"; done
	done
done

echo
echo "RESULTS (median of $ROUNDS rounds; new = one daemon per core, ref = $REF)"
printf '%-8s %-14s %8s %8s %6s\n' mode figure new ref n/r
for mode in wrk13 full13 seq13; do
	for fig in rate us cs; do
		# shellcheck disable=SC2086 # the values are words
		n=$(median ${RESULT[new.$mode.$fig]}) f=$(median ${RESULT[ref.$mode.$fig]})
		printf '%-8s %-14s %8s %8s %6s\n' "$mode" \
			"$(case $fig in rate) echo conns/s ;; us) echo CPU-us/conn ;; cs) echo switches/conn ;; esac)" \
			"$n" "$f" "$(ratio "$n" "$f")"
	done
done
