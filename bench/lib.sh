# shellcheck shell=bash
# Shared helpers of the bench/*.sh benchmark scripts; sourced, not run:
#   . "$(dirname "$0")/lib.sh"
# The scripts set $tmp (mktemp -d), $ROOT, and for nginx $NGINX and $N.
# shellcheck disable=SC2154 # tmp, ROOT, NGINX, N, NGINX_PID: set by the script

# Append to the array need the package of each COMMAND[:PACKAGE] not in PATH
# (PACKAGE defaults to COMMAND).
need_cmds() {
	local c
	for c; do
		command -v "${c%%:*}" >/dev/null || need+=("${c#*:}")
	done
}

# Install the given Debian packages (as root) or print the apt-get line and exit 1.
install_tools() {
	[ $# -gt 0 ] || return 0
	if [ "$(id -u)" = 0 ]; then
		echo "installing: apt-get install -y --no-install-recommends $*"
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" ||
			{ apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"; }
	else
		echo "missing tools; as root run:" >&2
		echo "  apt-get install -y --no-install-recommends $*" >&2
		exit 1
	fi
}

# Print "SCRIPT: MESSAGE" (or "$DIE_PREFIXMESSAGE" if set) on stderr and exit 1.
die() {
	echo "${DIE_PREFIX:-${0##*/}: }$*" >&2
	exit 1
}

# Run the script's cleanup function at exit; exit 130/143 on SIGINT/SIGTERM.
install_traps() {
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# Wait up to TRIES x 0.1 s for each PID to exit, then SIGKILL it.
kill_after() { # tries pid...
	local p n=$1
	shift
	for p; do
		for _ in $(seq 1 "$n"); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$p" 2>/dev/null || true
	done
}

# A free TCP port on 127.0.0.1 (not $1), from 20000-59999.
free_port() {
	local p
	for _ in $(seq 1 200); do
		p=$((20000 + RANDOM % 40000))
		[ "$p" = "${1:-}" ] && continue
		if [ -z "$(ss -Htln "sport = :$p" 2>/dev/null)" ]; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# Wait until URL answers anything over TLS (max 10 s) while PID lives; extra
# arguments go to curl.
wait_up() { # url pid [curl-args...]
	local code
	for _ in $(seq 1 100); do
		kill -0 "$2" 2>/dev/null || return 1
		code=$(curl -sk "${@:3}" -o /dev/null -w '%{http_code}' --max-time 2 "$1" || true)
		[ "$code" != 000 ] && return 0
		sleep 0.1
	done
	return 1
}

# utime+stime in clock ticks of the given processes (all their threads).
cpu_ticks() {
	local f=()
	for p; do f+=("/proc/$p/stat"); done
	awk '{ sub(/^.*\) /, ""); s += $12 + $13 } END { print s + 0 }' "${f[@]}"
}
# CPU ticks of the throwaway PostgreSQL server (its postmaster and every
# process under it: backends, writers); 0 without one. The backends of
# suitd's pool live as long as suitd, so a difference over a run is theirs.
pg_cpu_ticks() {
	local pm
	if [ -z "${PG_DIR:-}" ] || [ ! -r "$PG_DIR/data/postmaster.pid" ]; then
		echo 0
		return
	fi
	pm=$(head -n1 "$PG_DIR/data/postmaster.pid")
	# shellcheck disable=SC2046 # one argument per process
	cpu_ticks "$pm" $(pgrep -P "$pm") 2>/dev/null || echo 0
}
# shellcheck disable=SC2034 # used by the scripts
HZ=$(getconf CLK_TCK)

# Median of the numeric arguments ("nan" if none).
median() {
	printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 }
		END { if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2];
		      else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# A / B with two decimals (0 if B is 0).
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

# Print the date line and the machine line (CPU model, kernel, load average).
print_machine() {
	local model
	model=$(grep -m1 '^model name' /proc/cpuinfo 2>/dev/null | sed 's/^[^:]*:[[:space:]]*//' || true)
	echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "machine: nproc=$(nproc), model name: ${model:-unknown}, kernel $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
}

# Run make in $ROOT (log in $tmp/make.log, shown on failure) and set SUITD.
# With BUILD set (a folder under $ROOT, e.g. build/mine), only
# `make BUILD=$BUILD $BUILD/suitd`.
build_suitd() {
	local args=()
	[ -n "${BUILD:-}" ] && args=("BUILD=$BUILD" "$BUILD/suitd")
	if ! make "${args[@]}" >"$tmp/make.log" 2>&1; then
		cat "$tmp/make.log" >&2
		die "make failed"
	fi
	SUITD=$ROOT/${BUILD:-build}/suitd
}

# Build bench/loadgen.c into $ROOT/${BUILD:-build}/bench/loadgen; sets LOADGEN.
build_loadgen() {
	LOADGEN=$ROOT/${BUILD:-build}/bench/loadgen
	mkdir -p "${LOADGEN%/*}"
	# shellcheck disable=SC2046 # pkg-config prints several words
	cc -O2 -o "$LOADGEN" "$ROOT/bench/loadgen.c" $(pkg-config --cflags --libs libcurl) 2>"$tmp/cc.log" ||
		{ cat "$tmp/cc.log" >&2; die "building loadgen failed"; }
}

# Value of KEY in a "key=value ..." line (loadgen's output).
field() { # key line
	awk -v k="$1" '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) print kv[2] } }' <<<"$2"
}

# Wait until the 1-minute load average is below LIMIT, at most MAX seconds
# (then warn and go on); prints the load average it ended with.
wait_load_below() { # limit max-seconds
	local waited=0
	while awk -v l="$1" '{ exit !($1 >= l) }' /proc/loadavg; do
		if [ "$waited" -ge "$2" ]; then
			echo "WARNING: load average still $(cut -d' ' -f1-3 /proc/loadavg) after ${2}s; measuring anyway"
			return 0
		fi
		sleep 5
		waited=$((waited + 5))
	done
	echo "load average before the runs: $(cut -d' ' -f1-3 /proc/loadavg) (waited ${waited}s)"
}

# Machine-wide CPU ticks from /proc/stat: "processes irq steal" (processes =
# user + nice + system; irq = hardirq + softirq, where the kernel accounts
# most loopback TCP work, in no process's utime/stime).
machine_ticks() {
	awk '$1 == "cpu" { print $2 + $3 + $4, $7 + $8, $9 }' /proc/stat
}

# CPU seconds (user + system) of this shell's waited-for children so far,
# into the variable NAME (`times` must run in this shell, not in $(...)).
children_cpu() { # name
	times >"$tmp/times.txt"
	printf -v "$1" '%s' "$(awk 'NR == 2 { s = 0
		for (i = 1; i <= 2; i++) { split($i, p, "m"); sub(/s$/, "", p[2]); s += p[1] * 60 + p[2] }
		printf "%.2f", s }' "$tmp/times.txt")"
}

# The [server] and [storage] sections of a benchmark's suitd: PORT on
# 127.0.0.1, $tmp/cert.pem and key.pem, no rate limit, the database DB with
# synchronous = normal (or BACKEND's server). [storage] comes last: the caller may add keys to it,
# then its own sections.
suitd_base_conf() { # port database
	cat <<EOF
[server]
listen = 127.0.0.1:$1
# The benchmarks measure capacity: no per-client rate limit.
rate_limit = 0
tls_cert = $tmp/cert.pem
tls_key = $tmp/key.pem
connection_limit = ${CONNECTION_LIMIT:-1024}
# Every benchmark client comes from 127.0.0.1.
per_address_connection_limit = 0
[storage]
$(storage_conf "$2")
EOF
}

# Register device ID in the database of CONF and print its token.
device_token() { # conf id
	local t
	t=$("$SUITD" -c "$1" device add "$2" 2>"$tmp/device.log" | tail -n1) ||
		{ cat "$tmp/device.log" >&2; die "device add failed"; }
	[ -n "$t" ] || die "device add printed no token"
	echo "$t"
}

# Print the temp dir line (file system type and device).
print_tmpdir() {
	echo "temp dir: $tmp ($(df -PT "$tmp" | awk 'NR == 2 { print $2 " on " $1 }'))"
}

# Self-signed ECDSA P-256 server certificate for 127.0.0.1/localhost:
# $tmp/cert.pem and $tmp/key.pem, valid DAYS days.
make_server_cert() { # days
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days "$1" \
		-keyout "$tmp/key.pem" -out "$tmp/cert.pem" -subj "/CN=localhost" \
		-addext "subjectAltName=IP:127.0.0.1,DNS:localhost" 2>"$tmp/openssl.log" ||
		{ cat "$tmp/openssl.log" >&2; die "openssl failed"; }
}

# Create an admin API key in the database of CONF and print it.
admin_key() { # conf
	"$SUITD" -c "$1" key create --name bench --role admin 2>"$tmp/key.log" | tail -n1 ||
		{ cat "$tmp/key.log" >&2; die "key create failed"; }
}

# Start suitd with CONF in the background (log in $tmp/suitd.log); sets SUITD_PID.
# Not to be called in $(...): the EXIT trap must see SUITD_PID.
start_suitd() { # conf
	"$SUITD" -c "$1" >"$tmp/suitd.log" 2>&1 &
	SUITD_PID=$!
}

# The "sha256" that suitd reported in the JSON answer FILE.
json_sha256() { sed -n 's/.*"sha256":"\([0-9a-f]\{64\}\)".*/\1/p' "$1"; }

# nginx master and its workers.
nginx_pids() {
	# shellcheck disable=SC2046 # one PID per word
	echo "$NGINX_PID" $(pgrep -P "$NGINX_PID" || true)
}

# PIDs of the server behind a contender: nginx's processes, else suitd.
server_pids() {
	case $1 in
	nginx) nginx_pids ;;
	*) echo "$SUITD_PID" ;;
	esac
}

# "user root;" when run as root (the worker must read the 0700 temp dir), else "".
nginx_user_line() {
	if [ "$(id -u)" = 0 ]; then echo "user root;"; fi
}

# Write $N/nginx.conf (and make $N's folders): WORKERS worker processes,
# TLS on 127.0.0.1:$NGINX_PORT with $tmp/cert.pem and key.pem, no access
# log; HTTP are extra http-level directives, SERVER the server's own.
write_nginx_conf() { # workers http-directives server-directives
	mkdir -p "$N/logs" "$N/tmp"
	cat >"$N/nginx.conf" <<EOF
$(nginx_user_line)
worker_processes $1;
daemon off;
pid $N/nginx.pid;
error_log $N/logs/error.log warn;
events { worker_connections ${CONNECTION_LIMIT:-1024}; }
http {
    access_log off;
    client_body_temp_path $N/tmp/body;
    proxy_temp_path $N/tmp/proxy;
    fastcgi_temp_path $N/tmp/fastcgi;
    uwsgi_temp_path $N/tmp/uwsgi;
    scgi_temp_path $N/tmp/scgi;
$2
    server {
        listen 127.0.0.1:$NGINX_PORT ssl;
        ssl_certificate $tmp/cert.pem;
        ssl_certificate_key $tmp/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
$3
    }
}
EOF
}

# Test $N/nginx.conf, then start $NGINX on it (prefix $N/) in the
# background; sets NGINX_PID. Not to be called in $(...).
start_nginx() {
	"$NGINX" -p "$N/" -c "$N/nginx.conf" -e "$N/logs/error.log" -t >"$N/t.log" 2>&1 ||
		{ cat "$N/t.log" >&2; die "nginx config test failed"; }
	"$NGINX" -p "$N/" -c "$N/nginx.conf" -e "$N/logs/error.log" >"$N/logs/stdout.log" 2>&1 &
	NGINX_PID=$!
}

# wrk --latency output -> "req/s requests seconds p50_ms p99_ms socket_errors"
wrk_parse() {
	awk '
	function ms(v) { if (v ~ /us$/) { sub(/us$/, "", v); return v / 1000 }
		if (v ~ /ms$/) { sub(/ms$/, "", v); return v + 0 }
		if (v ~ /s$/) { sub(/s$/, "", v); return v * 1000 }
		return v + 0 }
	/ requests in / { n = $1; s = $4; sub(/,$/, "", s)
		if (s ~ /ms$/) { sub(/ms$/, "", s); s /= 1000 } else if (s ~ /m$/) { sub(/m$/, "", s); s *= 60 } else sub(/s$/, "", s) }
	/^Requests\/sec:/ { rps = $2 }
	$1 == "50%" { p50 = ms($2) }
	$1 == "99%" { p99 = ms($2) }
	/Socket errors:/ { gsub(/,/, ""); err = $4 + $6 + $8 + $10 }
	END { printf "%s %d %s %.3f %.3f %d\n", rps, n, s, p50, p99, err }' "$1"
}

# suitd's API with the admin key $KEY at $SUITD_BASE: METHOD PATH
# [CONTENT-TYPE FILE]; prints the body, then a line with the HTTP status.
api() {
	local args=(-sk --max-time 300 -H "Authorization: Bearer $KEY" -X "$1" -w '\n%{http_code}')
	[ $# -ge 4 ] && args+=(-H "Content-Type: $3" --data-binary "@$4")
	curl "${args[@]}" "$SUITD_BASE$2"
}

# The manifest digest in a manifest upload's answer (the first "digest";
# payload digests follow).
manifest_digest() {
	printf '%s' "$1" | grep -o '"digest":{[^}]*}' | head -n1 | sed -n 's/.*"value":"\([0-9a-f]\{64\}\)".*/\1/p'
}

# Upload $tmp/fw.bin to the running suitd, make a manifest for it with
# `suitd -c CONF manifest create` (signed by $tmp/author.key, class CLASS,
# sequence 1, DESCRIPTION if given) into $tmp/m.suit, upload that; sets
# DIGEST to the manifest's digest. Not to be called in $(...).
publish_firmware() { # conf class [description]
	local out desc=()
	[ $# -ge 3 ] && desc=(--description "$3")
	out=$(api POST /api/v1/payloads application/octet-stream "$tmp/fw.bin")
	[ "${out##*$'\n'}" = 201 ] || die "payload upload: $out"
	"$SUITD" -c "$1" manifest create --key "$tmp/author.key" --payload "$tmp/fw.bin" \
		--vendor-domain example.com --class-info "$2" --sequence 1 "${desc[@]}" \
		-o "$tmp/m.suit" 2>"$tmp/manifest.log" ||
		{ cat "$tmp/manifest.log" >&2; die "manifest create failed"; }
	out=$(api POST /api/v1/manifests application/suit-envelope+cose "$tmp/m.suit")
	[ "${out##*$'\n'}" = 201 ] || die "manifest upload: $out"
	DIGEST=$(manifest_digest "$out")
	[ ${#DIGEST} = 64 ] || die "no digest in the manifest upload's answer: $out"
}

# POST the deployment JSON FILE and wait (at most 10 minutes) until its
# assignments exist: a deployment to more than 2,000 devices is answered at
# once as "preparing" (issue 15). Sets DEP_OUT to the prepared deployment's
# JSON followed by the POST's status line (as `api` prints it), and
# DEP_SECONDS to the time from the POST to prepared. Not in $(...).
deploy_and_wait() { # file
	local t0 out id body
	t0=$(date +%s.%N)
	out=$(api POST /api/v1/deployments application/json "$1")
	[ "${out##*$'\n'}" = 201 ] || die "deployment: $out"
	id=$(printf '%s' "$out" | sed -n 's/^{"id":\([0-9]*\).*/\1/p')
	body=${out%$'\n'*}
	for _ in $(seq 1 6000); do
		case $body in
		*'"status":"preparing"'*) ;;
		*) break ;;
		esac
		sleep 0.1
		body=$(api GET "/api/v1/deployments/$id")
		body=${body%$'\n'*}
	done
	case $body in *'"status":"preparing"'*) die "deployment $id still preparing after 10 minutes" ;; esac
	DEP_OUT=$body$'\n'201
	DEP_SECONDS=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
}

# Follow deployment DEP (at $SUITD_BASE with $KEY) once a second while the
# simulator SIM_PID plays the devices: print each stage opening and status
# change with the seconds since START (date +%s.%N); die when it pauses, when
# TIMEOUT seconds pass, or when the simulator ends and the deployment is not
# completed. Sets DONE_AT (seconds) once it is completed and the simulator
# has ended.
watch_rollout() { # dep sim-pid start timeout
	local el out s st stage=1 status=active
	DONE_AT=
	while :; do
		el=$(awk -v a="$3" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
		out=$(api GET "/api/v1/deployments/$1") || true
		s=$(printf '%s' "$out" | sed -n 's/.*"current_stage":\([0-9]*\).*/\1/p')
		st=$(printf '%s' "$out" | sed -n 's/.*"status":"\([a-z]*\)".*/\1/p')
		if [ -n "$s" ] && [ "$s" != "$stage" ]; then
			echo "  ${el} s: stage $s open"
			stage=$s
		fi
		if [ -n "$st" ] && [ "$st" != "$status" ]; then
			echo "  ${el} s: deployment $st"
			status=$st
			[ "$st" = completed ] && DONE_AT=$el
			[ "$st" = paused ] && { printf '%s\n' "$out" >&2; die "the deployment paused"; }
		fi
		if ! kill -0 "$2" 2>/dev/null; then
			[ -n "$DONE_AT" ] && return 0
			# The simulator ended first: give the tracker up to 30 s (its
			# last reports may still be in a group commit on a busy
			# machine), then judge.
			for _ in $(seq 1 30); do
				sleep 1
				out=$(api GET "/api/v1/deployments/$1") || true
				if [ "$(printf '%s' "$out" | sed -n 's/.*"status":"\([a-z]*\)".*/\1/p')" = completed ]; then
					DONE_AT=$el
					echo "  ${el} s: deployment completed (seen $(awk -v a="$3" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s after the start)"
					return 0
				fi
			done
			cat "$tmp/sim.log" >&2
			printf '%s\n' "$out" | grep -o '"counts":{[^}]*}' >&2 || true
			die "the simulator ended and the deployment is not completed after 30 s"
		fi
		awk -v e="$el" -v t="$4" 'BEGIN { exit !(e > t) }' && die "not completed after $4 s"
		sleep 1
	done
}

# register_devices DB N GROUP: devices GROUP-1 .. GROUP-N in GROUP, inserted
# straight into the database (DB for SQLite) in one transaction (the API
# would take minutes).
register_devices() {
	python3 - "$2" "$3" <<'EOF' | DB=$1 db_sql
import sys, time
n, group = int(sys.argv[1]), sys.argv[2]
now = int(time.time())
out = sys.stdout
out.write("BEGIN;\n")
for i in range(1, n + 1):
    out.write("INSERT INTO devices (id, grp, attributes, created_at) "
              "VALUES ('%s-%d', '%s', '{}', %d);\n" % (group, i, group, now))
out.write("COMMIT;\n")
EOF
}

# For a script whose only server is suitd ($SUITD_PID, may be empty): at
# exit, stop it (SIGTERM, then SIGKILL after 10 s) and remove $tmp.
suitd_only_traps() {
	cleanup() {
		if [ -n "$SUITD_PID" ]; then kill -TERM "$SUITD_PID" 2>/dev/null || true; fi
		# shellcheck disable=SC2086 # an empty PID vanishes
		kill_after 100 $SUITD_PID
		backend_stop
		rm -rf "$tmp"
	}
	install_traps
}

# ---- the storage backend (issue 21) -----------------------------------------
# BACKEND=sqlite (default) or postgresql. With postgresql, backend_start
# starts a throwaway PostgreSQL 15 (tests/pg/pg_tmp.sh: its defaults, fsync
# on and synchronous_commit = on) and the helpers below point suitd and the
# scripts' own SQL at it; suitd reaches it over the unix socket (PG_TCP=1:
# TCP 127.0.0.1). The server shares the machine's cores with suitd and the
# clients. A watchdog stops it if the script dies without its cleanup.
BACKEND=${BACKEND:-sqlite}
PG_DIR=

# Check BACKEND; with postgresql start the server (needs $ROOT; the server's
# folder lives beside $tmp, not in it: the postgres user must reach it).
backend_start() {
	case $BACKEND in
	sqlite) return 0 ;;
	postgresql) ;;
	*) die "BACKEND must be sqlite or postgresql, not '$BACKEND'" ;;
	esac
	command -v psql >/dev/null || install_tools postgresql postgresql-client
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || install_tools postgresql
	PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/suitd-bench-pg.XXXXXX")
	"$ROOT/tests/pg/pg_tmp.sh" start "$PG_DIR" $$ >"$tmp/pg_tmp.log" 2>&1 ||
		{ cat "$tmp/pg_tmp.log" >&2; die "tests/pg/pg_tmp.sh start failed"; }
	# shellcheck disable=SC1091 # written by pg_tmp.sh
	. "$PG_DIR/env"
	echo "PostgreSQL: $("$PG_TMP_BIN/postgres" -V | sed 's/^postgres (PostgreSQL) //'), throwaway server in $PG_DIR" \
		"($(pg_setting fsync), synchronous_commit $(pg_setting synchronous_commit)," \
		"shared_buffers $(pg_setting shared_buffers)); suitd connects over $([ "${PG_TCP:-0}" = 1 ] && echo "TCP 127.0.0.1" || echo "the unix socket")"
}

# Stop the throwaway server (for the scripts' cleanup; idempotent).
backend_stop() {
	[ -n "$PG_DIR" ] || return 0
	"$ROOT/tests/pg/pg_tmp.sh" stop "$PG_DIR" >/dev/null 2>&1 || true
	PG_DIR=
}

# psql as the server's superuser on the suitd database (set-up and
# measurement queries only; suitd itself logs in as the role "suitd").
pg_psql() {
	"$PG_TMP_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_TMP_DIR" -p "$PG_TMP_PORT" -U pgtmp -d suitd "$@"
}

# A server setting as SHOW prints it.
pg_setting() { "$PG_TMP_BIN/psql" -X -At -h "$PG_TMP_DIR" -p "$PG_TMP_PORT" -U pgtmp -d postgres -c "SHOW $1"; }

# The [storage] keys of the backend (after the "[storage]" line): the SQLite
# file DB with synchronous SYNC (default normal), or the PostgreSQL server.
storage_conf() { # database [synchronous]
	if [ "$BACKEND" = postgresql ]; then
		local url=$PG_TMP_URL_SOCKET
		[ "${PG_TCP:-0}" = 1 ] && url=$PG_TMP_URL
		printf 'backend = postgresql\nurl = %s\npassword_file = %s\n' "$url" "$PG_TMP_PASSWORD_FILE"
	else
		printf 'database = %s\nsynchronous = %s\n' "$1" "${2:-normal}"
	fi
}

# Run the SQL script on stdin against the backend's database ($DB for
# SQLite); its output is discarded. Scripts write portable SQL (blobs with
# sql_blob, see below); "PRAGMA" lines are skipped on PostgreSQL.
db_sql() {
	if [ "$BACKEND" = postgresql ]; then
		grep -v '^PRAGMA ' | pg_psql >/dev/null
	else
		sqlite3 "$DB" >/dev/null
	fi
}

# The answer of one read-only query, one row a line, columns joined by "|".
db_query() { # sql
	if [ "$BACKEND" = postgresql ]; then
		pg_psql -At -c "$1"
	else
		sqlite3 "file:$DB?mode=ro" "$1"
	fi
}

# For the scripts' python3 SQL generators: the literal of a blob given in
# hex, as a python format ("X'%s'" for SQLite, "'\x%s'" for PostgreSQL's
# bytea); exported as SQL_BLOB.
SQL_BLOB="X'%s'"
# shellcheck disable=SC2089,SC2090 # the quotes are the SQL's, for python
[ "$BACKEND" = postgresql ] && SQL_BLOB="'\\x%s'"
# shellcheck disable=SC2090
export SQL_BLOB

# Bytes the database has in its write-ahead log: SQLite's $DB-wal file; for
# PostgreSQL the server's WAL position (bytes written since initdb, all
# databases).
wal_bytes() {
	if [ "$BACKEND" = postgresql ]; then
		"$PG_TMP_BIN/psql" -X -At -h "$PG_TMP_DIR" -p "$PG_TMP_PORT" -U pgtmp -d postgres \
			-c "SELECT pg_current_wal_lsn() - '0/0'" 2>/dev/null || echo 0
	else
		stat -c %s "$DB-wal" 2>/dev/null || echo 0
	fi
}

# An empty database again (suitd stopped): SQLite's folder of $DB removed
# and made anew; PostgreSQL's database "suitd" dropped and created anew.
backend_reset() {
	if [ "$BACKEND" = postgresql ]; then
		"$PG_TMP_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_TMP_DIR" -p "$PG_TMP_PORT" -U pgtmp -d postgres \
			-c "DROP DATABASE IF EXISTS suitd" -c "CREATE DATABASE suitd OWNER suitd" >/dev/null ||
			die "cannot make the database anew"
	else
		rm -rf "${DB%/*}"
		mkdir -p "${DB%/*}"
	fi
}

# Bytes the database takes: SQLite's folder of $DB (with the WAL);
# PostgreSQL's pg_database_size (its WAL not counted).
db_bytes() {
	if [ "$BACKEND" = postgresql ]; then
		"$PG_TMP_BIN/psql" -X -At -h "$PG_TMP_DIR" -p "$PG_TMP_PORT" -U pgtmp -d postgres \
			-c "SELECT pg_database_size('suitd')"
	else
		du -cb "${DB%/*}" | awk 'END { print $1 }'
	fi
}

# Run the SQL (one or more statements) in one transaction that writes no
# event, as a plain sqlite3 connection does (SQLite's event trigger is a TEMP
# trigger of suitd's own connections). PostgreSQL's trigger is in the schema:
# the transaction disables it for itself (DDL is transactional: no other
# session sees it off) under suitd's writer lock; the counters' triggers
# still run, as in SQLite.
db_sql_no_events() { # sql
	if [ "$BACKEND" = postgresql ]; then
		pg_psql <<SQL >/dev/null
BEGIN;
SELECT pg_advisory_xact_lock(8319671835259531881);
ALTER TABLE assignments DISABLE TRIGGER assignment_events;
$1;
ALTER TABLE assignments ENABLE TRIGGER assignment_events;
COMMIT;
SQL
	else
		sqlite3 "$DB" ".timeout 5000" "$1" >/dev/null
	fi
}

# For a script whose storage is fixed by what it measures: say so when
# BACKEND asks for another one (postgresql), then go on as always.
backend_fixed() { # what the script measures
	case $BACKEND in
	sqlite) ;;
	postgresql) echo "BACKEND=postgresql: no effect here: $1" ;;
	*) die "BACKEND must be sqlite or postgresql, not '$BACKEND'" ;;
	esac
}
