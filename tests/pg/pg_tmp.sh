#!/bin/sh
# A throwaway PostgreSQL server for tests and benches (issue 21).
#
#   tests/pg/pg_tmp.sh start DIR [OWNER_PID]   DIR: an empty directory
#   tests/pg/pg_tmp.sh stop DIR
#   tests/pg/pg_tmp.sh crash DIR | recover DIR | restart DIR [SECONDS]
#   tests/pg/pg_tmp.sh standby DIR SDIR [OWNER_PID] | promote SDIR
#
# start: initdb in DIR/data, a server on a free 127.0.0.1 port with its unix
# socket in DIR, fsync on; a database "suitd" owned by a role "suitd" whose
# random password is in DIR/password (0600). It writes for its users:
#   DIR/port         the TCP port
#   DIR/url          postgresql://suitd@127.0.0.1:PORT/suitd (password: DIR/password)
#   DIR/url_socket   the same over the unix socket in DIR (password needed too)
#   DIR/url_admin    the superuser over the socket (trust, for set-up only)
#   DIR/env          the same as shell assignments (PG_TMP_URL=... ; sourceable)
# and leaves the server running. Root cannot run initdb, so as root the
# server runs as the "postgres" user of Debian's package (DIR is chowned to
# it); otherwise as the caller.
#
# OWNER_PID: a watchdog stops the server and removes DIR once that process
# is gone, so a test killed with SIGKILL leaves nothing behind. Worst case
# (the watchdog killed too, e.g. a whole process group with SIGKILL): DIR
# and a postmaster stay; the postmaster checks its lock file DIR/data/
# postmaster.pid every minute and shuts itself down once DIR is removed, so
# `rm -rf DIR` is the whole clean-up.
#
# stop: pg_ctl stop -m immediate (no checkpoint: nothing is kept), then
# removes DIR.
#
# crash: pg_ctl stop -m immediate and keep DIR: a crash of the database
# server as its clients see it (connections cut, no checkpoint); recover:
# start it again on DIR (crash recovery from the WAL), wait until it accepts
# connections. For tests/crash/run.sh (BACKEND=postgresql). restart: crash,
# SECONDS down (default 0: clients meet it down), recover, and wait until it
# accepts connections (tests/e2e/check_e2e_cluster.c, tests/cluster/).
#
# standby: a hot standby of the started server DIR in the empty directory
# SDIR (pg_basebackup -R over DIR's socket, so it streams from DIR), on a
# free port of its own with its socket in SDIR, and DIR made to wait for it
# at each commit (synchronous_standby_names = '*', synchronous_commit = on:
# a COMMIT returns once the standby has the WAL on disk). SDIR gets port,
# url, url_socket, url_admin, env and password as start writes them (the
# role and its password came with the copy). promote: pg_ctl promote SDIR
# and wait until it accepts writes. For tests/cluster/run.sh (failover).
set -eu
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")

die() {
	echo "pg_tmp: $*" >&2
	exit 1
}

bindir() {
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -n -r); do
		[ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && { echo "$d"; return 0; }
	done
	command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return 0; }
	die "no PostgreSQL server binaries (/usr/lib/postgresql/*/bin): apt-get install postgresql"
}

# as_owner CMD...: run CMD as the server's user (see above).
as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

free_port() {
	# A random port in 20000..59999 that nothing listens on now; start
	# retries with another if the server loses a race for it.
	while :; do
		p=$(( $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 40000 + 20000 ))
		if ! ss -Hltn "sport = :$p" 2>/dev/null | grep -q .; then
			echo "$p"
			return 0
		fi
	done
}

# serve DIR BIN WHAT SETTINGS: append "port = <a free port>" and SETTINGS
# (lines) to DIR/data/postgresql.conf and start the server; another port
# if it loses a race for that one (5 tries). Sets port.
serve() {
	tries=0
	while :; do
		port=$(free_port)
		printf 'port = %s\n%s\n' "$port" "$4" | as_owner sh -c "cat >>'$1/data/postgresql.conf'"
		if as_owner "$2/pg_ctl" -D "$1/data" -l "$1/server.log" -w -t 60 start \
			>/dev/null 2>&1; then
			break
		fi
		tries=$((tries + 1))
		[ "$tries" -lt 5 ] || { tail -20 "$1/server.log" >&2; die "$3 does not start"; }
	done
	# pg_ctl -w returned once the server accepts connections; pg_isready
	# says so over the socket the tests use.
	as_owner "$2/pg_isready" -q -h "$1" -p "$port" -t 30 || die "$3 not ready"
}

start() {
	dir=$1
	owner=${2:-}
	[ -d "$dir" ] || die "'$dir' is not a directory"
	dir=$(cd "$dir" && pwd)
	bin=$(bindir)
	if [ "$(id -u)" -eq 0 ]; then
		id postgres >/dev/null 2>&1 || die "no 'postgres' user: apt-get install postgresql"
		chown postgres: "$dir"
	fi
	chmod 0700 "$dir"
	pw=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
	(umask 077 && printf '%s\n' "$pw" >"$dir/password")
	as_owner "$bin/initdb" -D "$dir/data" -U pgtmp -A trust -E UTF8 --locale=C.UTF-8 \
		>"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
	# The superuser only over the socket; everyone else by password.
	as_owner sh -c "cat >'$dir/data/pg_hba.conf'" <<-EOF
		local all pgtmp trust
		local replication pgtmp trust
		local all all scram-sha-256
		host all all 127.0.0.1/32 scram-sha-256
	EOF
	serve "$dir" "$bin" server "listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
fsync = on
synchronous_commit = on
max_connections = 60
logging_collector = off"
	as_owner "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U pgtmp -d postgres \
		-c "CREATE ROLE suitd LOGIN PASSWORD '$pw'" -c "CREATE DATABASE suitd OWNER suitd" \
		>/dev/null || die "cannot create the role and database"
	describe "$dir" "$bin" "$port"
	watch "$dir" "$owner"
}

# describe DIR BIN PORT: the files that tell users where the server is.
describe() {
	echo "$3" >"$1/port"
	echo "postgresql://suitd@127.0.0.1:$3/suitd" >"$1/url"
	echo "postgresql://suitd@/suitd?host=$1&port=$3" >"$1/url_socket"
	echo "postgresql://pgtmp@/postgres?host=$1&port=$3" >"$1/url_admin"
	cat >"$1/env" <<-EOF
		PG_TMP_DIR='$1'
		PG_TMP_BIN='$2'
		PG_TMP_PORT=$3
		PG_TMP_URL='postgresql://suitd@127.0.0.1:$3/suitd'
		PG_TMP_URL_SOCKET='postgresql://suitd@/suitd?host=$1&port=$3'
		PG_TMP_URL_ADMIN='postgresql://pgtmp@/postgres?host=$1&port=$3'
		PG_TMP_PASSWORD_FILE='$1/password'
	EOF
}

# watch DIR OWNER_PID: the watchdog described at the top (none without
# OWNER_PID).
watch() {
	dir=$1
	owner=$2
	if [ -n "$owner" ]; then
		# In a session of its own (setsid), so that a kill of the caller's
		# process group leaves it to clean up, and detached from the
		# caller's stdout/stderr so that a caller reading them to the end
		# (popen, $(...)) is not held up.
		setsid -f sh -c "echo \$\$ >'$dir/watchdog.pid'
			while kill -0 $owner 2>/dev/null && [ -d '$dir/data' ]; do sleep 1; done
			exec '$self' stop '$dir'" >/dev/null 2>&1 </dev/null
	fi
}

standby() {
	src=$(cd "$1" && pwd)
	dir=$2
	owner=${3:-}
	[ -d "$dir" ] || die "'$dir' is not a directory"
	dir=$(cd "$dir" && pwd)
	bin=$(bindir)
	[ "$(id -u)" -ne 0 ] || chown postgres: "$dir"
	chmod 0700 "$dir"
	cp -p "$src/password" "$dir/password"
	as_owner "$bin/pg_basebackup" -D "$dir/data" -R -X stream -c fast -h "$src" \
		-p "$(cat "$src/port")" -U pgtmp >"$dir/basebackup.log" 2>&1 ||
		{ cat "$dir/basebackup.log" >&2; die "pg_basebackup failed"; }
	# The copy's postgresql.conf names the primary's port and socket; the
	# last setting of a name wins.
	serve "$dir" "$bin" standby "unix_socket_directories = '$dir'"
	describe "$dir" "$bin" "$port"
	watch "$dir" "$owner"
	as_owner "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$src" -p "$(cat "$src/port")" -U pgtmp \
		-d postgres -c "ALTER SYSTEM SET synchronous_standby_names = '*'" \
		-c "SELECT pg_reload_conf()" >/dev/null || die "cannot make replication synchronous"
	# Until the standby streams, the primary's commits would wait for it.
	for _ in $(seq 1 300); do
		[ "$(as_owner "$bin/psql" -X -At -h "$src" -p "$(cat "$src/port")" -U pgtmp -d postgres \
			-c "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'")" = 1 ] &&
			return 0
		sleep 0.1
	done
	die "the standby does not stream synchronously"
}

promote() {
	as_owner "$(bindir)/pg_ctl" -D "$1/data" -w -t 60 promote >/dev/null || die "promote failed"
	for _ in $(seq 1 300); do
		[ "$(as_owner "$(bindir)/psql" -X -At -h "$1" -p "$(cat "$1/port")" -U pgtmp -d postgres \
			-c "SELECT pg_is_in_recovery()")" = f ] && return 0
		sleep 0.1
	done
	die "the promoted standby does not accept writes"
}

stop() {
	dir=$1
	[ -d "$dir" ] || return 0
	if [ -f "$dir/data/postmaster.pid" ]; then
		as_owner "$(bindir)/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	# The watchdog (unless it is what runs this: it execs into stop).
	if [ -f "$dir/watchdog.pid" ]; then
		w=$(cat "$dir/watchdog.pid")
		[ "$w" = "$$" ] || kill "$w" 2>/dev/null || true
	fi
	rm -rf "$dir"
}

crash() {
	as_owner "$(bindir)/pg_ctl" -D "$1/data" -m immediate -w stop >/dev/null ||
		die "pg_ctl stop -m immediate failed"
}

recover() {
	as_owner "$(bindir)/pg_ctl" -D "$1/data" -l "$1/server.log" -w -t 60 start >/dev/null ||
		{ tail -20 "$1/server.log" >&2; die "the server does not start again"; }
}

restart() {
	crash "$1"
	sleep "${2:-0}"
	recover "$1"
	as_owner "$(bindir)/pg_isready" -q -h "$1" -p "$(cat "$1/port")" -t 30 || die "server not ready"
}

case "${1:-}" in
start) [ $# -ge 2 ] || die "usage: $0 start DIR [OWNER_PID]"; start "$2" "${3:-}" ;;
stop) [ $# -ge 2 ] || die "usage: $0 stop DIR"; stop "$2" ;;
crash | recover) [ $# -ge 2 ] && [ -f "$2/data/PG_VERSION" ] || die "usage: $0 $1 DIR (a started DIR)"; "$1" "$2" ;;
standby) [ $# -ge 3 ] && [ -f "$2/port" ] || die "usage: $0 standby DIR SDIR [OWNER_PID] (DIR started)"; standby "$2" "$3" "${4:-}" ;;
promote) [ $# -ge 2 ] && [ -f "$2/data/standby.signal" ] || die "usage: $0 promote SDIR (a standby)"; promote "$2" ;;
restart) [ $# -ge 2 ] && [ -f "$2/data/PG_VERSION" ] || die "usage: $0 restart DIR [SECONDS]"; restart "$2" "${3:-0}" ;;
*) die "usage: $0 start DIR [OWNER_PID] | stop DIR | crash DIR | recover DIR | restart DIR [SECONDS] | standby DIR SDIR [OWNER_PID] | promote SDIR" ;;
esac
