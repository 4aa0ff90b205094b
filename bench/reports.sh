#!/bin/bash
# Report benchmark: committed device reports per second. POST
# /device/v1/reports over HTTPS keep-alive with a device token, one report
# row committed per 204, with [storage] synchronous = full and = normal.
#
# Usage: bench/reports.sh            (about 1.5 minutes on 2 cores, plus the
#                                     wait for an idle machine, at most 5 min)
#
# Setup: DEVICES devices (default 6400) in group "fleet" are inserted
# straight into SQLite as in checkin.sh: `suitd key create` creates and
# migrates the database, then one sqlite3 transaction inserts
# devices(id, grp, attributes, token_hash, created_at) with token_hash =
# SHA-256 of "suitd_dt_bench-<n>". suitd starts, a 64 KiB payload and a
# manifest (made with `suitd manifest create`, signed by a test-only P-256
# key that the config trusts) are uploaded and a deployment to group fleet
# is created through the API (DEVICES pending assignments), which one
# sqlite3 transaction then marks delivered, as a check-in of every device
# would (a report on an assignment the server has not delivered is refused).
# Then every device sends one "downloading" report (wrk, reports.lua in
# "once" mode), which moves its assignment delivered -> downloading; the
# measured reports are all later "downloading" reports, each stored as a
# row of `reports` and answered 204 without a state change. Each device
# keeps its newest [devices] report_history (100) reports: once a device
# has that many, every new one drops its oldest in the same transaction,
# the steady state of a long-running fleet.
#
# Configurations, each with its own suitd start on the same database:
#   full     [storage] synchronous = full   (the default: one fsync per commit)
#   normal   [storage] synchronous = normal
#   noevents synchronous = full, with the suitd binary NOEVENTS names (only
#            when set): the same code built without the event log
#            (CPPFLAGS=-DSUITD_NO_EVENT_LOG make BUILD=build/noevents), so
#            that the cost of the log is measured in the same run; then
#            PAIRS rounds alternate the two builds (a state-change run and
#            a PAIR_SECONDS timed run each, synchronous = full), and the
#            medians of those pairs are the figures to quote
# each: first ROUNDS state-change runs (events/s): every assignment is set
# back to delivered by one sqlite3 transaction (a plain sqlite3 connection
# writes no event), then every device sends one "downloading" report
# (reports.lua "once"), each moving its assignment delivered -> downloading
# and writing one event (the assignment.downloading of the log) in the
# report's group commit; reported: those reports/s and the events the log
# grew by (each run passes reports.lua another BASE, so that no report
# repeats the device's newest one byte for byte: such a replay is accepted
# and moves nothing). Then ROUNDS runs of
#   wrk -t2 -cCONNS -dMAXs --latency -s bench/reports.lua URL -- timed DIGEST DEVICES SECONDS_PER_RUN 2
# with body {"manifest":"<digest>","state":"downloading","progress":P}, P
# going 0..100, and the token of the next device on every request (see
# reports.lua, which also ends each run with no request in flight).
# Reported per configuration: median reports/s (204s divided by the time
# from the first request to the last answer), median of wrk's p50 and p99,
# suitd's CPU-seconds per 1000 reports (utime+stime from /proc/PID/stat),
# the size of suitd.db-wal after each run, and the ratio to the goal of
# 10,000 reports/s with synchronous = full.
#
# A run fails the script when: any answer is not 204, wrk reports a socket
# error (connect, read, write, timeout), a request is still unanswered when
# the run ends, or the rows in `reports` (read-only sqlite3,
# file:DB?mode=ro) plus the reports dropped by the history bound and the
# exact replays accepted without a row (/metrics) did not grow by exactly
# the run's 204s.
#
# suitd: threads = 0 (one per core), [log] level = warning, the other keys
# at their defaults (seen_flush = 5: the last-seen times of the devices are
# written in one transaction every 5 s). suitd is not rebuilt: the script
# runs make only when build/suitd is missing, and runs a copy of the binary
# from its temp dir (other work in the tree may rebuild build/).
#
# Before measuring, the script waits until the 1-minute load average is
# below 0.6 (at most IDLE_WAIT seconds; then it warns and goes on).
#
# Knobs (environment): DEVICES=6400 ROUNDS=3 SECONDS_PER_RUN=10 CONNS=64
# IDLE_WAIT=300 GOAL=10000 CONFIGS="full normal" NOEVENTS= (a suitd built
# without the event log; adds the noevents configuration)
# PAIRS=5 PAIR_SECONDS=5 (the paired comparison, with NOEVENTS only; NOEVENTS_WHAT
# says what that binary is when it is another reference build). TMPDIR is honoured (mktemp -d); the temp dir
# is removed and suitd stopped at exit. Everything listens on 127.0.0.1.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
ROOT=$PWD

DEVICES=${DEVICES:-6400}
ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
CONNS=${CONNS:-64}
IDLE_WAIT=${IDLE_WAIT:-300}
GOAL=${GOAL:-10000}
THREADS=2
# shellcheck disable=SC2206 # a list of words
CONFIGS=(${CONFIGS:-full normal})
# PostgreSQL: one configuration, "full" = synchronous_commit = on (the
# server's default; [storage] synchronous is SQLite's key).
# shellcheck disable=SC2206
[ "$BACKEND" = postgresql ] && CONFIGS=(${CONFIGS_PG:-full})
NOEVENTS=${NOEVENTS:-}
PAIRS=${PAIRS:-5}
PAIR_SECONDS=${PAIR_SECONDS:-5}
[ -z "$NOEVENTS" ] || CONFIGS+=(noevents)

# ---- tools ----------------------------------------------------------------
need=()
need_cmds wrk curl openssl ss:iproute2 sqlite3 python3:python3-minimal
install_tools "${need[@]}"

# ---- helpers ----------------------------------------------------------------
tmp=$(mktemp -d)
SUITD_PID=
cleanup() {
	if [ -n "$SUITD_PID" ]; then
		kill -TERM "$SUITD_PID" 2>/dev/null || true
		kill_after 100 "$SUITD_PID"
	fi
	backend_stop
	rm -rf "$tmp"
}
install_traps

wal_size() { wal_bytes; }
# Rows of the reports table, read-only (suitd keeps running).
report_rows() { db_query "SELECT count(*) FROM reports"; }
# Reports answered 204 since this suitd started, as the database and
# /metrics account for them: the rows, plus the rows the per-device
# history bound dropped, plus the exact replays accepted without a row.
accepted_reports() {
	local counters
	counters=$(curl -sk --max-time 10 "$SUITD_BASE/metrics" |
		awk '$1 == "suitd_reports_dropped_total" { d = $2 }
			$1 == "suitd_reports_total{outcome=\"duplicate\"}" { r = $2 } END { print d + r }')
	echo $(($(report_rows) + counters))
}
# "state:count ..." of the deployment's assignments, read-only.
assignment_states() {
	db_query "SELECT state || ':' || count(*) FROM assignments
		WHERE deployment_id = $DEP_ID GROUP BY state ORDER BY state" | tr '\n' ' ' | sed 's/ $//'
}

# Events in the log, read-only.
event_rows() { db_query "SELECT count(*) FROM events"; }
# Every assignment of the deployment (in STATES, an SQL list) set to
# delivered, as a check-in would, in one transaction that writes no event.
deliver_all() { # states
	db_sql_no_events "UPDATE assignments SET state = 'delivered' WHERE deployment_id = $DEP_ID AND state IN ($1)"
}

# Write $tmp/suitd-NAME.conf for synchronous = $1 on a free port; sets
# SUITD_CONF, SUITD_BASE and REPORTS_URL.
write_config() { # synchronous name
	local port
	port=$(free_port "${port_before:-}") || die "no free port"
	port_before=$port
	SUITD_CONF=$tmp/suitd-$2.conf
	SUITD_BASE=https://127.0.0.1:$port
	REPORTS_URL=$SUITD_BASE/device/v1/reports
	cat >"$SUITD_CONF" <<EOF
[server]
listen = 127.0.0.1:$port
# The benchmarks measure capacity: no per-client rate limit.
rate_limit = 0
tls_cert = $tmp/cert.pem
tls_key = $tmp/key.pem
connection_limit = 1024
[storage]
$(storage_conf "$DB" "$1")
[devices]
auth = token
[manifests]
trust_anchor = $tmp/author.pub
[log]
level = warning
EOF
}

# Write the config (see write_config), start suitd with it and wait until
# it answers; sets SUITD_PID too.
start_config() { # synchronous name
	write_config "$1" "$2"
	if [ "$2" = noevents ]; then
		SUITD=$SUITD_NOEVENTS start_suitd "$SUITD_CONF"
	else
		start_suitd "$SUITD_CONF"
	fi
	wait_up "$SUITD_BASE/readyz" "$SUITD_PID" || { cat "$tmp/suitd.log" >&2; die "suitd ($2) did not start"; }
}

# SIGTERM to our suitd and wait for it; it must exit 0.
stop_suitd() {
	local st=0
	kill -TERM "$SUITD_PID"
	wait "$SUITD_PID" || st=$?
	SUITD_PID=
	cat "$tmp/suitd.log" >>"$tmp/suitd-all.log"
	[ "$st" = 0 ] || { cat "$tmp/suitd.log" >&2; die "suitd exited with status $st at SIGTERM"; }
}

# Die with wrk's output and the end of suitd's log; say if suitd is gone.
wrk_failed() { # message
	cat "$tmp/wrk.txt" >&2
	tail -n 20 "$tmp/suitd.log" | sed 's/^/suitd: /' >&2
	kill -0 "$SUITD_PID" 2>/dev/null || echo "suitd (pid $SUITD_PID) is gone" >&2
	die "$1"
}

# Run wrk with reports.lua: MODE (timed|once), SECS, -d upper bound. Leaves
# wrk's output in $tmp/wrk.txt and sets STATUSES, N204, OTHER, SENT,
# ANSWERED, SECS_MEASURED, RPS, P50, P99, ERRS; dies on a failed wrk.
run_wrk() { # mode secs max-seconds [base]
	local summary
	timeout $(($3 + 30)) wrk -t"$THREADS" -c"$CONNS" -d"$3s" --latency -s "$ROOT/bench/reports.lua" \
		"$REPORTS_URL" -- "$1" "$DIGEST" "$DEVICES" "$2" "$THREADS" "${4:-0}" \
		>"$tmp/wrk.txt" 2>&1 || wrk_failed "wrk failed ($1)"
	summary=$(grep '^reports:' "$tmp/wrk.txt" || true)
	[ -n "$summary" ] || wrk_failed "no summary from reports.lua"
	STATUSES=$(printf '%s' "$summary" | grep -o 'status=[0-9]*:[0-9]*' | tr '\n' ' ' | sed 's/ $//')
	N204=$(printf '%s' "$summary" | sed -n 's/.*status=204:\([0-9]*\).*/\1/p')
	N204=${N204:-0}
	OTHER=$(printf '%s' "$STATUSES" | tr ' ' '\n' | grep -v '^status=204:' | grep -c . || true)
	SENT=$(printf '%s' "$summary" | sed -n 's/.* sent=\([0-9]*\).*/\1/p')
	ANSWERED=$(printf '%s' "$summary" | sed -n 's/.* answered=\([0-9]*\).*/\1/p')
	SECS_MEASURED=$(printf '%s' "$summary" | sed -n 's/.* seconds=\([0-9.]*\).*/\1/p')
	read -r _ _ _ P50 P99 ERRS <<<"$(wrk_parse "$tmp/wrk.txt")"
	RPS=$(awk -v n="$N204" -v s="$SECS_MEASURED" 'BEGIN { printf "%.1f", (s > 0 ? n / s : 0) }')
}

# The checks every wrk run must pass. ROWS0: accepted_reports before the run.
check_run() { # label stored-before
	local rows grew
	rows=$(accepted_reports)
	grew=$((rows - $2))
	if [ "$OTHER" != 0 ] || [ "$ERRS" != 0 ]; then
		wrk_failed "$1: unexpected answers ($STATUSES; wrk socket errors $ERRS)"
	fi
	[ "$SENT" = "$ANSWERED" ] || wrk_failed "$1: $((SENT - ANSWERED)) requests unanswered at the end of the run"
	[ "$grew" = "$N204" ] || wrk_failed "$1: $grew reports accounted for (rows + dropped + duplicates), but suitd answered $N204 times 204"
	ROWS_GREW=$grew
}

# ---- machine, build ---------------------------------------------------------
print_machine
echo "tools: $(wrk -v 2>&1 | head -n1 | cut -d' ' -f1-2), curl $(curl -V | head -n1 | cut -d' ' -f2), $(openssl version | cut -d' ' -f1-2), sqlite3 $(sqlite3 --version | cut -d' ' -f1)"
if [ -n "${BUILD:-}" ] && [ -x "$ROOT/$BUILD/suitd" ]; then
	SUITD=$ROOT/$BUILD/suitd
elif [ -x "$ROOT/build/suitd" ]; then
	SUITD=$ROOT/build/suitd
else
	build_suitd
fi
echo "suitd: $("$SUITD" -V 2>&1 | head -n1) (${SUITD#"$ROOT"/} of $(date -u -r "$SUITD" '+%Y-%m-%d %H:%M UTC'); not rebuilt), threads = 0 (one per core)"
# Run a copy: other work in the tree may rebuild build/ during the benchmark.
cp "$SUITD" "$tmp/suitd" || die "cannot copy build/suitd"
SUITD=$tmp/suitd
if [ -n "$NOEVENTS" ]; then
	[ -x "$NOEVENTS" ] || die "NOEVENTS=$NOEVENTS is not an executable"
	cp "$NOEVENTS" "$tmp/suitd-noevents" || die "cannot copy $NOEVENTS"
	SUITD_NOEVENTS=$tmp/suitd-noevents
	echo "noevents: $("$SUITD_NOEVENTS" -V 2>&1 | head -n1) ($NOEVENTS, ${NOEVENTS_WHAT:-built with -DSUITD_NO_EVENT_LOG})"
fi
print_tmpdir
backend_start

# ---- files ----------------------------------------------------------------------
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

# ---- database: devices --------------------------------------------------------------
# `key create` creates the database at the current schema version (no
# daemon running yet).
write_config full setup
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
    out.write("INSERT INTO devices (id, grp, attributes, token_hash, created_at) "
              "VALUES ('bench-%d', 'fleet', '{}', %s, %d);\n" % (i, h, now))
out.write("COMMIT;\n")
EOF
db_sql <"$tmp/devices.sql" || die "bulk insert failed"
rm -f "$tmp/devices.sql"
t1=$(date +%s.%N)
got=$(db_query "SELECT count(*) FROM devices")
[ "$got" = "$DEVICES" ] || die "$got devices in the database, expected $DEVICES"
echo "registered $DEVICES devices in group fleet (python3 SHA-256 + one $BACKEND transaction) in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s"

# ---- suitd: payload, manifest, deployment -----------------------------------------------
start_config full setup

publish_firmware "$SUITD_CONF" bench-v1 "reports benchmark"
printf '{"name":"bench reports","manifest":"%s","target":{"group":"fleet"}}' "$DIGEST" >"$tmp/dep.json"
deploy_and_wait "$tmp/dep.json"
out=$DEP_OUT
DEP_ID=$(printf '%s' "$out" | sed -n 's/.*"id":\([0-9]*\).*/\1/p')
pending=$(printf '%s' "$out" | sed -n 's/.*"pending":\([0-9]*\).*/\1/p')
[ "$pending" = "$DEVICES" ] || die "deployment: $pending pending, expected $DEVICES: $out"
echo "deployment $DEP_ID of manifest ${DIGEST:0:16}… to group fleet: $pending pending assignments, created and prepared in $DEP_SECONDS s"
# Reports are taken only on delivered assignments: deliver them all in one
# transaction, as every device's check-in would (suitd's in-memory index
# keeps them pending; reports read the database).
deliver_all "'pending'" ||
	die "cannot mark the assignments delivered"

# ---- checks ---------------------------------------------------------------------
report() { # TOKEN DIGEST PROGRESS -> HTTP status
	printf '{"manifest":"%s","state":"downloading","progress":%d}' "$2" "$3" >"$tmp/report.json"
	curl -sk --http1.1 -o "$tmp/check.bin" -w '%{http_code}' -H "Authorization: Bearer $1" \
		-H "Content-Type: application/json" --data-binary "@$tmp/report.json" "$REPORTS_URL"
}
rows0=$(report_rows)
r=$(report suitd_dt_bench-1 "$DIGEST" 0)
if [ "$r" != 204 ] || [ -s "$tmp/check.bin" ]; then die "report of bench-1: HTTP $r $(cat "$tmp/check.bin")"; fi
r=$(report suitd_dt_bench-1 "$DIGEST" 1)
[ "$r" = 204 ] || die "second report of bench-1: HTTP $r $(cat "$tmp/check.bin")"
rows1=$(report_rows)
[ $((rows1 - rows0)) = 2 ] || die "two reports of bench-1 (204) added $((rows1 - rows0)) rows, expected 2"
r=$(report suitd_dt_bench-$((DEVICES + 1)) "$DIGEST" 0)
[ "$r" = 401 ] || die "report with an unknown token: HTTP $r, expected 401"
r=$(report suitd_dt_bench-2 "$(printf '%064d' 0)" 0)
[ "$r" = 409 ] || die "report on a manifest never assigned: HTTP $r, expected 409"
[ "$(report_rows)" = "$rows1" ] || die "refused reports added rows"
echo "check: bench-1 reports twice -> 204, 204 (+2 rows); unknown token -> 401; unassigned manifest -> 409 (no row)"
tls=$(curl -skv --http1.1 -o /dev/null "$SUITD_BASE/readyz" 2>&1 | sed -n 's/^\* SSL connection using //p' | head -n1)
echo "TLS: $tls"

# Every device's first report: delivered -> downloading.
rows0=$(accepted_reports)
run_wrk once 0 120
check_run "first reports" "$rows0"
[ "$N204" = "$DEVICES" ] || wrk_failed "first reports: $N204 answers 204, expected one per device ($DEVICES)"
states=$(assignment_states)
[ "$states" = "downloading:$DEVICES" ] || die "assignments after the first reports: $states, expected downloading:$DEVICES"
echo "first report of every device (delivered -> downloading): $N204 x 204 in $SECS_MEASURED s ($RPS/s, p99 $P99 ms; not measured), +$ROWS_GREW rows; assignments now $states"
stop_suitd

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

# ---- runs -----------------------------------------------------------------------------------
declare -A RPSS P50S P99S TICKS REPS WALS BATCHES TRPSS TEVS

# "written commits waits" from suitd's /metrics: the group commit of
# reports, and commits that waited for the WAL checkpoint thread.
batch_counters() {
	curl -sk --max-time 10 "$SUITD_BASE/metrics" |
		awk '$1 == "suitd_reports_written_total" { w = $2 } $1 == "suitd_report_commits_total" { c = $2 }
			$1 == "suitd_wal_writer_waits_total" { v = $2 } END { print w + 0, c + 0, v + 0 }'
}
# Commits that waited for a checkpoint between two batch_counters readings.
wal_waits() { awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " "); print y[3] - x[3] }'; }
# Mean reports per commit between two batch_counters readings.
batch_size() {
	awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " "); j = y[1] - x[1]; c = y[2] - x[2]; printf "%.1f", (c > 0 ? j / c : 0) }'
}
echo
echo "runs: wrk -t$THREADS -c$CONNS --latency -s bench/reports.lua, ${SECONDS_PER_RUN}s of sending per run (reports/s, p50/p99 ms, suitd CPU-s per 1000 reports, WAL after the run)"
for c in "${CONFIGS[@]}"; do
	start_config "$([ "$c" = noevents ] && echo full || echo "$c")" "$c"
	RPSS[$c]='' P50S[$c]='' P99S[$c]='' TICKS[$c]=0 REPS[$c]=0 WALS[$c]='' BATCHES[$c]=''
	TRPSS[$c]='' TEVS[$c]=''
	# State changes: one event each (none with noevents).
	for i in $(seq 1 "$ROUNDS"); do
		deliver_all "'downloading', 'delivered'" ||
			die "cannot set the assignments back to delivered"
		rows0=$(accepted_reports)
		ev0=$(event_rows)
		run_wrk once 0 120 "$i"
		check_run "$c state changes $i" "$rows0"
		ev=$(($(event_rows) - ev0))
		states=$(assignment_states)
		[ "$states" = "downloading:$DEVICES" ] || die "$c: assignments after the state changes: $states"
		TRPSS[$c]+=" $RPS"
		TEVS[$c]+=" $ev"
		printf '  synchronous=%-6s state changes %d %9.1f reports/s  p99 %7.3f ms  (%d reports in %.2f s; +%d events)\n' \
			"$c" "$i" "$RPS" "$P99" "$N204" "$SECS_MEASURED" "$ev"
	done
	# Warm-up (not measured, still checked): 2 s.
	rows0=$(accepted_reports)
	run_wrk timed 2 60
	check_run "$c warm-up" "$rows0"
	for i in $(seq 1 "$ROUNDS"); do
		rows0=$(accepted_reports)
		m0=$(batch_counters)
		t0=$(cpu_ticks "$SUITD_PID")
		p0=$(pg_cpu_ticks)
		run_wrk timed "$SECONDS_PER_RUN" $((SECONDS_PER_RUN + 60))
		t1=$(cpu_ticks "$SUITD_PID")
		p1=$(pg_cpu_ticks)
		check_run "$c run $i" "$rows0"
		m1=$(batch_counters)
		batch=$(batch_size "$m0" "$m1")
		waits=$(wal_waits "$m0" "$m1")
		BATCHES[$c]+=" $batch"
		wal=$(wal_size)
		RPSS[$c]+=" $RPS"
		P50S[$c]+=" $P50"
		P99S[$c]+=" $P99"
		TICKS[$c]=$((TICKS[$c] + t1 - t0))
		REPS[$c]=$((REPS[$c] + N204))
		WALS[$c]+=" $wal"
		cpu=$(awk -v t=$((t1 - t0)) -v hz="$HZ" -v n="$N204" 'BEGIN { printf "%.3f", (n > 0 ? t / hz / n * 1000 : 0) }')
		pgcpu=
		[ "$BACKEND" = postgresql ] &&
			pgcpu=$(awk -v t=$((p1 - p0)) -v hz="$HZ" -v n="$N204" 'BEGIN { printf "  PostgreSQL CPU %.3f s/1000", (n > 0 ? t / hz / n * 1000 : 0) }')
		printf '  synchronous=%-6s run %d %9.1f reports/s  p50 %7.3f  p99 %7.3f ms  CPU %6s s/1000%s  batch %6s  WAL %10d bytes, %s waits  (%d reports in %.2f s, %s; +%d rows)\n' \
			"$c" "$i" "$RPS" "$P50" "$P99" "$cpu" "$pgcpu" "$batch" "$wal" "$waits" "$N204" "$SECS_MEASURED" "$STATUSES" "$ROWS_GREW"
	done
	stop_suitd
done

# ---- the event log's cost, paired ------------------------------------------------------------
# With NOEVENTS: PAIRS rounds, each a state-change run and a 5 s timed run
# with this suitd (synchronous = full), then the same with the noevents
# build, each with its own start: alternating, so that a change of the
# machine's load hits both alike.
declare -A PT PR
if [ -n "$NOEVENTS" ]; then
	echo
	echo "paired: $PAIRS rounds of (state changes, ${PAIR_SECONDS}s timed) with events, then without, synchronous = full"
	PT[events]='' PT[noevents]='' PR[events]='' PR[noevents]=''
	for i in $(seq 1 "$PAIRS"); do
		for v in events noevents; do
			start_config full "$([ "$v" = noevents ] && echo noevents || echo full)"
			deliver_all "'downloading', 'delivered'" ||
				die "cannot set the assignments back to delivered"
			rows0=$(accepted_reports)
			run_wrk once 0 120 "$((100 + i))"
			check_run "paired $v $i state changes" "$rows0"
			PT[$v]+=" $RPS"
			t=$RPS
			rows0=$(accepted_reports)
			run_wrk timed "$PAIR_SECONDS" $((PAIR_SECONDS + 60))
			check_run "paired $v $i timed" "$rows0"
			PR[$v]+=" $RPS"
			printf '  %-8s round %d  state changes %9.1f reports/s  timed %9.1f reports/s\n' "$v" "$i" "$t" "$RPS"
			stop_suitd
		done
	done
fi

# ---- table ------------------------------------------------------------------------------------
declare -A MR MP50 MP99 MCPU MB MT MTE
for c in "${CONFIGS[@]}"; do
	# shellcheck disable=SC2086
	MT[$c]=$(median ${TRPSS[$c]})
	# shellcheck disable=SC2086
	MTE[$c]=$(median ${TEVS[$c]})
	# shellcheck disable=SC2086 # one value per word
	MR[$c]=$(median ${RPSS[$c]})
	# shellcheck disable=SC2086
	MP50[$c]=$(median ${P50S[$c]})
	# shellcheck disable=SC2086
	MP99[$c]=$(median ${P99S[$c]})
	# shellcheck disable=SC2086
	MB[$c]=$(median ${BATCHES[$c]})
	MCPU[$c]=$(awk -v t="${TICKS[$c]}" -v hz="$HZ" -v n="${REPS[$c]}" 'BEGIN { printf "%.3f", (n > 0 ? t / hz / n * 1000 : 0) }')
done
g_full=$(awk -v r="${MR[full]:-0}" -v g="$GOAL" 'BEGIN { print (r >= g ? "ok" : "MISSED") }')
echo
echo "RESULTS (median of $ROUNDS runs; BACKEND=$BACKEND; $DEVICES devices, CONNS=$CONNS, ${SECONDS_PER_RUN}s per run; every 204 = one committed report row)"
row() { # label format key-array-name
	local -n arr=$3
	printf '%-44s' "$1"
	for c in "${CONFIGS[@]}"; do printf " %12$2" "${arr[$c]}"; done
	echo
}
declare -A NAMES RATIOS
for c in "${CONFIGS[@]}"; do NAMES[$c]=$c RATIOS[$c]=$(ratio "${MR[$c]}" "$GOAL"); done
row "configuration" s NAMES
row "reports/s" .1f MR
row "latency p50, ms" .3f MP50
row "latency p99, ms" .3f MP99
row "suitd CPU-s per 1000 reports" s MCPU
row "reports per commit (group commit)" s MB
row "ratio to the goal ($GOAL reports/s)" s RATIOS
row "state-change reports/s (one event each)" .1f MT
row "events written per state-change run" s MTE
if [ -n "$NOEVENTS" ]; then
	# shellcheck disable=SC2086
	pte=$(median ${PT[events]}) ptn=$(median ${PT[noevents]}) pre=$(median ${PR[events]}) prn=$(median ${PR[noevents]})
	echo "paired (median of $PAIRS): state-change reports/s (one event each) $pte with events, $ptn without ($(awk -v a="$pte" -v b="$ptn" 'BEGIN { printf "%+.1f %%", (b > 0 ? (a - b) / b * 100 : 0) }')); timed reports/s $pre with, $prn without ($(awk -v a="$pre" -v b="$prn" 'BEGIN { printf "%+.1f %%", (b > 0 ? (a - b) / b * 100 : 0) }'))"
	echo "the event log's cost, synchronous = full against noevents (unpaired runs above): reports/s $(awk -v a="${MR[full]}" -v b="${MR[noevents]}" 'BEGIN { printf "%+.1f %%", (b > 0 ? (a - b) / b * 100 : 0) }'), state-change reports/s $(awk -v a="${MT[full]}" -v b="${MT[noevents]}" 'BEGIN { printf "%+.1f %%", (b > 0 ? (a - b) / b * 100 : 0) }')"
fi
for c in "${CONFIGS[@]}"; do echo "WAL bytes ($([ "$BACKEND" = postgresql ] && echo "server's WAL position" || echo suitd.db-wal)) after each run, synchronous = $c:${WALS[$c]}"; done
echo "goal: $GOAL reports/s with synchronous = full$([ "$BACKEND" = postgresql ] && echo " (PostgreSQL: synchronous_commit = on)"): ${MR[full]:-none} ($g_full)"
echo "figure: reports_per_s ${MR[full]:-0} reports/s, committed (synchronous = full / synchronous_commit = on)"
echo "checks: every answer 204, no wrk socket error, no request in flight at the end of a run, reports rows + dropped + duplicates grown by exactly the 204s of each run"
echo "suitd log: $(grep -c . "$tmp/suitd-all.log" || true) lines over its $((${#CONFIGS[@]} + 1)) starts"
sed 's/^/  suitd: /' "$tmp/suitd-all.log" | sort | uniq -c | head -n5
echo "(client and server share the same $(nproc) cores)"
