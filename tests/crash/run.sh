#!/bin/bash
# Crash consistency of suitd: kill -9 under concurrent writes, N times, and
# check that nothing acknowledged was lost and nothing partial is visible
# (docs/design.md: a 2xx only after the commit, uploads visible atomically,
# unfinished uploads removed at start, reports acknowledged only after their
# group commit).
#
# usage: [BACKEND=sqlite|postgresql] tests/crash/run.sh [ITERATIONS]
#        (ITERATIONS: default $ITERATIONS, else 50)
#
# `make check` runs 3 iterations on each backend (about 10 s each on 2
# cores); 50 take about 2.5 minutes. One state folder (mktemp -d) and so one
# database serve every iteration; it is removed at the end unless a check
# failed or CRASH_KEEP=1.
#
# BACKEND=postgresql: the same loop on a throwaway PostgreSQL server
# (tests/pg/pg_tmp.sh: fsync on, synchronous_commit on), the checks through
# psql (the same query list, client.py's Db). Iteration i does, by i mod 3:
#   1: kill -9 of suitd (as on SQLite);
#   2: a crash of the database server (pg_ctl stop -m immediate, 0.2-1 s
#      down, started again: crash recovery) under the load while suitd
#      keeps running: every 5xx must be 503 urn:suitd:storage-unavailable
#      with Retry-After (never acknowledged), GET /readyz 503 during the
#      outage and 200 again without a restart of suitd, writes acknowledged
#      again in the second after; then the checks of step 2 and the API
#      checks of step 3 on that same suitd (no restart, so no orphan check:
#      suitd removes uploads an outage left receiving at its next start);
#   0: both: the server crashes and suitd is killed -9 during the outage.
# PostgreSQL keeps its own consistency (no integrity_check); every other
# check below runs, the foreign keys by an anti-join per foreign key.
#
# Set up once: a test-only CA and a server certificate for 127.0.0.1 signed
# by it, a test-only P-256 manifest signing key trusted by this suitd only
# ([manifests] trust_anchor), a config (listen 127.0.0.1:0, the port is read
# from the log; synchronous = full, the default; rate_limit = 0), an admin key
# (`suitd key create`). Each iteration then:
#
#  1. tests/crash/client.py drive (python3, standard library, TLS to
#     127.0.0.1 with the certificate checked against the CA) runs for a
#     random 0.3-2 s (CRASH_MIN_MS, CRASH_MAX_MS): two uploaders (payloads
#     of 1 B to 12 MiB, half of the large ones sent slowly so that a kill
#     finds them mid-body, some chunked, some with Content-Digest, some
#     uploaded again or twice at once; old ones deleted to bound the
#     database), a manifest author (a small payload, `suitd manifest create`
#     with a new sequence number, POST), an operator (devices, deployments
#     to device lists, groups and tags) and three devices (check-in, payload
#     download, JSON reports with unique codes). Every 2xx goes to a journal
#     with what it created. Then it sends SIGKILL to suitd (by PID), at once
#     or when an upload is mid-body, or mid-body with chunk rows already
#     committed (its first 4 MiB; polled read-only in the database).
#  2. The database files the kill left are copied aside (so that the
#     restart still finds the WAL as the kill left it) and checked with the
#     sqlite3 CLI: PRAGMA integrity_check = ok, and every acknowledged write
#     of every iteration so far is there (payloads by SHA-256 and size,
#     deleted payloads absent, manifests by digest, devices and their token
#     hashes, deployments with at least their assignments, deliveries moved
#     out of pending, each report row by its code), every payload row has
#     all its chunks, assignment_counts match the assignments, no foreign
#     key is broken.
#  3. suitd is started again on the same database; GET /readyz must answer
#     200. The same checks on the live file (read-only), integrity_check
#     again, no upload left `receiving`, no upload or chunk without a
#     payload, and through the API: the payload list equals the table, every
#     payload listed for the first time (and 3 older ones) downloads whole
#     with its SHA-256, this iteration's manifests, devices (whoami with the
#     token), deployments and reports are served. This suitd is the next
#     iteration's.
#
# Prints one line per iteration and a summary; on a failure, what was lost,
# the reproduction line (CRASH_SEED) and where the logs are, and exits 1.
# Environment: BACKEND, SUITD_BIN (default build/suitd; copied once, so a
# rebuild during the run changes nothing), CRASH_SEED, CRASH_MIN_MS,
# CRASH_MAX_MS, CRASH_KEEP=1, TMPDIR.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/tests/crash
CLIENT=$HERE/client.py

die() {
	echo "tests/crash/run.sh: $*" >&2
	exit 1
}

ITERATIONS=${1:-${ITERATIONS:-50}}
case $ITERATIONS in
'' | *[!0-9]* | 0)
	echo "usage: tests/crash/run.sh [ITERATIONS]  (a whole number >= 1)" >&2
	exit 2
	;;
esac
BIN=${SUITD_BIN:-$ROOT/build/suitd}
[ -x "$BIN" ] || die "no suitd binary at $BIN (run make, or set SUITD_BIN)"
MIN_MS=${CRASH_MIN_MS:-300}
MAX_MS=${CRASH_MAX_MS:-2000}
SEED=${CRASH_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
BACKEND=${BACKEND:-sqlite}
case $BACKEND in
sqlite | postgresql) ;;
*) die "BACKEND=$BACKEND: sqlite or postgresql" ;;
esac

# Tools: python3 (standard library only), the sqlite3 CLI, openssl; for
# PostgreSQL its server and psql (Debian's postgresql package).
need=()
for c in python3 sqlite3 openssl; do
	command -v "$c" >/dev/null || need+=("$c")
done
if [ "$BACKEND" = postgresql ] && ! { command -v psql >/dev/null &&
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; }; then
	need+=(postgresql)
fi
if [ ${#need[@]} -gt 0 ]; then
	if [ "$(id -u)" = 0 ]; then
		echo "tests/crash/run.sh: installing ${need[*]}" >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2 ||
			{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
				--no-install-recommends "${need[@]}" >&2; }
	else
		die "missing tools; as root run: apt-get install -y --no-install-recommends ${need[*]}"
	fi
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/suitd-crash.XXXXXX")
PG=
SUITD_PID=
passed=0
cleanup() {
	if [ -n "$SUITD_PID" ]; then
		kill -KILL "$SUITD_PID" 2>/dev/null || true
		wait "$SUITD_PID" 2>/dev/null || true
		SUITD_PID=
	fi
	if [ -n "$PG" ]; then
		[ "$passed" = 1 ] || cp "$PG/server.log" "$tmp/log/postgresql.log" 2>/dev/null || true
		"$ROOT/tests/pg/pg_tmp.sh" stop "$PG" || true
	fi
	if [ "$passed" = 1 ] && [ "${CRASH_KEEP:-0}" != 1 ]; then
		rm -rf "$tmp"
	else
		echo "tests/crash/run.sh: state, journal and logs kept in $tmp" >&2
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

starts=0
LOG=
fail() {
	echo "FAILED (iteration ${i:-0}): $*" >&2
	if [ -n "$LOG" ] && [ -s "$LOG" ]; then
		echo "last lines of $LOG other than the access log:" >&2
		grep -v '^<[67]>' "$LOG" | tail -n 10 | sed 's/^/  /' >&2
	fi
	echo "reproduce (same random choices; the kill timing differs): CRASH_SEED=$SEED tests/crash/run.sh $ITERATIONS" >&2
	exit 1
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# ---- set-up: binary, PKI, signing key, config, admin key ----------------------
cp "$BIN" "$tmp/suitd"
mkdir -p "$tmp/db" "$tmp/log" "$tmp/work"
openssl_run() {
	openssl "$@" 2>>"$tmp/openssl.log" >/dev/null || { cat "$tmp/openssl.log" >&2; die "openssl $1 failed"; }
}
openssl_run req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-keyout "$tmp/ca.key" -out "$tmp/ca.pem" -subj "/CN=suitd crash test CA (test only)" \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
openssl_run req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/key.pem" \
	-out "$tmp/server.csr" -subj "/CN=localhost"
printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "extendedKeyUsage=serverAuth" \
	"basicConstraints=CA:FALSE" >"$tmp/server.ext"
openssl_run x509 -req -in "$tmp/server.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" \
	-CAcreateserial -days 2 -extfile "$tmp/server.ext" -out "$tmp/cert.pem"
openssl_run genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/author.key"
openssl_run pkey -in "$tmp/author.key" -pubout -out "$tmp/author.pub"

DB=$tmp/db/suitd.db
CONF=$tmp/suitd.conf
if [ "$BACKEND" = postgresql ]; then
	# Its own folder: as root the server runs as "postgres", which cannot
	# enter $tmp (0700). The watchdog stops it if this script dies.
	PG=$(mktemp -d "${TMPDIR:-/tmp}/suitd-crash-pg.XXXXXX")
	"$ROOT/tests/pg/pg_tmp.sh" start "$PG" $$ || die "no PostgreSQL server (tests/pg/pg_tmp.sh)"
	DB=$(cat "$PG/url")
	STORAGE_CONF="backend = postgresql
url = $DB
password_file = $PG/password"
	db_args=(--backend postgresql --db-password-file "$PG/password")
else
	STORAGE_CONF="database = $DB
synchronous = full"
	db_args=()
fi
cat >"$CONF" <<EOF
[server]
listen = 127.0.0.1:0
threads = 4
tls_cert = $tmp/cert.pem
tls_key = $tmp/key.pem
connection_timeout = 30
# one API key drives most of the load: no per-identity limit (as the e2e harness)
rate_limit = 0
[storage]
$STORAGE_CONF
[devices]
seen_flush = 1
# Every acknowledged report is checked by its code: keep them all (the
# per-device bound would drop the oldest, by design).
report_history = 100000
report_history_size = 1G
[manifests]
trust_anchor = $tmp/author.pub
[payloads]
max_size = 64M
[log]
level = info
EOF
"$tmp/suitd" -c "$CONF" check-config >"$tmp/check-config.log" 2>&1 ||
	{ cat "$tmp/check-config.log" >&2; die "check-config failed"; }
"$tmp/suitd" -c "$CONF" key create --name crash-admin --role admin 2>"$tmp/key.log" |
	tail -n1 >"$tmp/admin.key"
grep -q '^suitd_ak_' "$tmp/admin.key" || { cat "$tmp/key.log" >&2; die "key create failed"; }

# Start suitd on the configuration (log in $tmp/log/suitd.N.log), read its
# URL from the log and wait for GET /readyz 200. Sets SUITD_PID, URL, LOG.
start_suitd() {
	starts=$((starts + 1))
	LOG=$tmp/log/suitd.$starts.log
	# Made here: the background shell may open it after the first sed.
	: >"$LOG"
	"$tmp/suitd" -c "$CONF" >"$LOG" 2>&1 &
	SUITD_PID=$!
	URL=
	for _ in $(seq 1 300); do
		kill -0 "$SUITD_PID" 2>/dev/null || fail "suitd exited at start"
		URL=$(sed -n 's/.* listening on \(https:[^ ]*\).*/\1/p' "$LOG" | tail -n1)
		[ -n "$URL" ] && break
		sleep 0.05
	done
	[ -n "$URL" ] || fail "suitd did not log its URL within 15 s"
	python3 "$CLIENT" ready --url "$URL" --ca "$tmp/ca.pem" || fail "GET /readyz did not answer 200"
}

# Wait for suitd to end (bash says nothing of its signal); sets STATUS.
reap_suitd() {
	STATUS=0
	wait "$SUITD_PID" 2>/dev/null || STATUS=$?
	SUITD_PID=
}

# SIGTERM, then wait at most 20 s for the exit (else SIGKILL); sets STATUS.
stop_suitd() {
	local state=
	kill -TERM "$SUITD_PID"
	for _ in $(seq 1 200); do
		state=$(sed 's/.*) //' "/proc/$SUITD_PID/stat" 2>/dev/null | cut -d' ' -f1 || true)
		if [ -z "$state" ] || [ "$state" = Z ]; then break; fi
		sleep 0.1
	done
	if [ -n "$state" ] && [ "$state" != Z ]; then kill -KILL "$SUITD_PID"; fi
	reap_suitd
}

common=(--ca "$tmp/ca.pem" --key "$tmp/admin.key" --journal "$tmp/journal.jsonl"
	--stats "$tmp/stats.jsonl" "${db_args[@]}")
echo "crash consistency on $BACKEND: $ITERATIONS iterations, seed $SEED, $("$tmp/suitd" -V 2>&1 | head -n1), state in $tmp${PG:+, PostgreSQL in $PG}"
t_start=$(now)
start_suitd
w=${#ITERATIONS}
for i in $(seq 1 "$ITERATIONS"); do
	action=kill
	if [ "$BACKEND" = postgresql ]; then
		case $((i % 3)) in 2) action=pg ;; 0) action=both ;; esac
	fi
	# 1. load, then kill -9 and/or the database server's crash (by the
	#    driver, at the moment it picks)
	drive_rc=0
	drive_out=$(python3 "$CLIENT" drive --url "$URL" "${common[@]}" --seed "$SEED-$i" \
		--iteration "$i" --pid "$SUITD_PID" --suitd "$tmp/suitd" --conf "$CONF" \
		--author "$tmp/author.key" --work "$tmp/work" --db "$DB" --min-ms "$MIN_MS" \
		--max-ms "$MAX_MS" --action "$action" ${PG:+--pg-tmp "$ROOT/tests/pg/pg_tmp.sh" --pg-dir "$PG"}) ||
		drive_rc=$?
	if [ "$drive_rc" != 0 ]; then
		kill -KILL "$SUITD_PID" 2>/dev/null || true
		reap_suitd
		fail "the load driver failed (status $drive_rc)${drive_out:+: $drive_out}"
	fi
	if [ "$action" = pg ]; then
		# The same suitd goes on: its database came back under it.
		kill -0 "$SUITD_PID" 2>/dev/null || fail "suitd exited during the database server's crash"
		rec_out=$(python3 "$CLIENT" verify --phase recovered --db "$DB" --url "$URL" \
			"${common[@]}" --seed "$SEED" --iteration "$i" --verified "$tmp/verified.json") ||
			fail "acknowledged writes missing after the database server's crash (above); ${rec_out:-}"
		printf '[%*d/%d] %s; no restart of suitd: %s\n' "$w" "$i" "$ITERATIONS" "$drive_out" "$rec_out"
		continue
	fi
	reap_suitd
	[ "$STATUS" = 137 ] || fail "suitd ended with status $STATUS, not by the SIGKILL (137)"

	# 2. what the kill left: on SQLite its files, on a copy (integrity_check
	#    too); on PostgreSQL the database itself (nothing serves it now)
	if [ "$BACKEND" = sqlite ]; then
		rm -rf "$tmp/snap"
		mkdir "$tmp/snap"
		cp "$DB" "$tmp/snap/suitd.db"
		if [ -e "$DB-wal" ]; then cp "$DB-wal" "$tmp/snap/suitd.db-wal"; fi
		ic=$(sqlite3 "$tmp/snap/suitd.db" 'PRAGMA integrity_check' 2>&1 || true)
		[ "$ic" = ok ] || fail "PRAGMA integrity_check on the files the kill left: $ic"
		killed_db=$tmp/snap/suitd.db
		killed_note="killed db: integrity ok"
	else
		killed_db=$DB
		killed_note="killed db"
	fi
	crash_out=$(python3 "$CLIENT" verify --phase crashed --db "$killed_db" --url "$URL" \
		"${common[@]}" --seed "$SEED" --iteration "$i" --verified "$tmp/verified.json") ||
		fail "acknowledged writes missing from the database the kill left (above); ${crash_out:-}"
	rm -rf "$tmp/snap"

	# 3. restart on the same database, check again, through the API too
	t0=$(now)
	start_suitd
	t1=$(now)
	after_note=
	if [ "$BACKEND" = sqlite ]; then
		ic=$(sqlite3 -readonly "$DB" 'PRAGMA integrity_check' 2>&1 || true)
		[ "$ic" = ok ] || fail "PRAGMA integrity_check after the restart: $ic"
		after_note="integrity ok, "
	fi
	after_out=$(python3 "$CLIENT" verify --phase restarted --db "$DB" --url "$URL" \
		"${common[@]}" --seed "$SEED" --iteration "$i" --verified "$tmp/verified.json") ||
		fail "check after the restart failed (above); ${after_out:-}"
	printf '[%*d/%d] %s; %s, %s; restart %ss, readyz 200; %s%s\n' \
		"$w" "$i" "$ITERATIONS" "$drive_out" "$killed_note" "$crash_out" "$(elapsed "$t0" "$t1")" \
		"$after_note" "$after_out"
done

stop_suitd
[ "$STATUS" = 0 ] || fail "the last suitd did not stop cleanly on SIGTERM (status $STATUS)"
if [ "$BACKEND" = sqlite ]; then
	ic=$(sqlite3 "$DB" 'PRAGMA integrity_check' 2>&1 || true)
	[ "$ic" = ok ] || fail "PRAGMA integrity_check after the final clean stop: $ic"
fi
errors=$(cat "$tmp"/log/suitd.*.log | grep -c '^<[0-3]>' || true)

if [ "$BACKEND" = sqlite ]; then
	echo "summary: $ITERATIONS iterations, seed $SEED, $(elapsed "$t_start" "$(now)") s: every acknowledged write present, no partial payload visible, integrity ok after every kill and restart"
else
	echo "summary (postgresql): $ITERATIONS iterations, seed $SEED, $(elapsed "$t_start" "$(now)") s: every acknowledged write present, no partial payload visible, no broken foreign key after every kill, database server crash and restart"
fi
python3 "$CLIENT" summary --stats "$tmp/stats.jsonl" --journal "$tmp/journal.jsonl"
echo "  suitd starts: $starts (1 + one per kill), final SIGTERM: exit 0; error lines in its logs: $errors${PG:+ (the database outages log some)}"
if [ "$errors" != 0 ]; then
	cat "$tmp"/log/suitd.*.log | grep '^<[0-3]>' | sort | uniq -c | sort -rn | head -n5 | sed 's/^/    /'
fi
passed=1
