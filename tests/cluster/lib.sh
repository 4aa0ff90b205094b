# shellcheck shell=bash
# What tests/cluster/run.sh and bench/cluster.sh share: a throwaway
# PostgreSQL, three suitd nodes on it, haproxy from the shipped example.
# Sourced after bench/lib.sh; the caller sets $tmp (its mktemp -d), $ROOT and
# $SUITD.
# shellcheck disable=SC2154 # tmp, ROOT, SUITD: set by the caller

# Start the throwaway PostgreSQL in a folder of its own (pg_tmp.sh hands it
# to the postgres user when root, so $tmp stays 0700 with the keys and
# tokens in it); sets PG and the PG_TMP_* variables. Not in $(...).
cluster_pg_start() {
	PG=$(mktemp -d "${TMPDIR:-/tmp}/suitd-pg.XXXXXX")
	"$ROOT/tests/pg/pg_tmp.sh" start "$PG" $$ || die "no PostgreSQL test server"
	# shellcheck disable=SC1091 # written by pg_tmp.sh
	. "$PG/env"
}
cluster_pg_stop() {
	[ -n "${PG:-}" ] && "$ROOT/tests/pg/pg_tmp.sh" stop "$PG" 2>/dev/null
	return 0
}

# psql as the superuser on the database "suitd"; -At output.
sql() { psql -X -q -At -v ON_ERROR_STOP=1 -h "$PG_TMP_DIR" -p "$PG_TMP_PORT" -U pgtmp -d suitd "$@"; }

# PORT[1..4]: four distinct free ports (nodes 1-3, haproxy). free_port runs
# in a subshell, which inherits the same $RANDOM state every time: reading
# $RANDOM here moves it on, and a port already drawn is drawn again.
cluster_ports() {
	local p
	PORT=()
	for i in 1 2 3 4; do
		while :; do
			: "$RANDOM"
			p=$(free_port) || die "no free port"
			case " ${PORT[*]} " in *" $p "*) ;; *) break ;; esac
		done
		PORT[i]=$p
	done
	HAPROXY_PORT=${PORT[4]}
}

# Write $tmp/node1..3.conf: [server] on PORT[i] with $tmp/cert.pem, no rate
# limit, no per-address limit (every client comes through haproxy from
# 127.0.0.1), [storage] on the throwaway server, then EXTRA (more sections).
cluster_confs() { # extra
	for i in 1 2 3; do
		cat >"$tmp/node$i.conf" <<EOF
[server]
listen = 127.0.0.1:${PORT[i]}
rate_limit = 0
tls_cert = $tmp/cert.pem
tls_key = $tmp/key.pem
per_address_connection_limit = 0
[storage]
backend = postgresql
url = $PG_TMP_URL
password_file = $PG_TMP_PASSWORD_FILE
$1
EOF
	done
	"$SUITD" -c "$tmp/node1.conf" migrate >"$tmp/migrate.log" 2>&1 ||
		{ cat "$tmp/migrate.log" >&2; die "migrate failed"; }
}

# For rollouts: the server certificate, an author key ($tmp/author.key,
# .pub), the ports and node configurations with token devices polling every
# second while a deployment is active, the author as trust anchor, and
# [log] level LEVEL.
cluster_rollout_confs() { # level
	make_server_cert 2
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/author.key" 2>/dev/null
	openssl pkey -in "$tmp/author.key" -pubout -out "$tmp/author.pub" 2>/dev/null
	cluster_ports
	cluster_confs "[devices]
auth = token
poll_interval = 300
poll_interval_active = 1
[manifests]
trust_anchor = $tmp/author.pub
[log]
level = $1"
}

# Wait (at most SECONDS) until deployment DEP says completed: the
# housekeeper closes it after the last confirmation. Needs api's KEY and
# SUITD_BASE.
cluster_wait_completed() { # dep seconds
	local st
	for _ in $(seq 1 $(($2 * 10))); do
		st=$(api GET "/api/v1/deployments/$1" | sed -n 's/.*"status":"\([a-z]*\)".*/\1/p')
		[ "$st" = completed ] && return 0
		sleep 0.1
	done
	die "deployment $1 is $st after $2 s"
}

# N devices PREFIX-1..N of group GROUP with token suitd_dt_PREFIX-<n>,
# straight into the database before any node reads it (as bench/fleet.sh
# does for SQLite; far faster than the API); "ID TOKEN" lines to TOKENS.
cluster_devices() { # n prefix group tokens-file
	python3 - "$@" >"$tmp/devices.sql" <<'EOF'
import hashlib, sys, time
n, prefix, group, tokens = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
now = int(time.time())
print("BEGIN;")
with open(tokens, "w") as t:
    for i in range(1, n + 1):
        tok = "suitd_dt_%s-%d" % (prefix, i)
        h = hashlib.sha256(tok.encode()).hexdigest()
        print("INSERT INTO devices (id, grp, attributes, token_hash, created_at) "
              "VALUES ('%s-%d', '%s', '{}', '\\x%s', %d);" % (prefix, i, group, h, now))
        t.write("%s-%d %s\n" % (prefix, i, tok))
print("COMMIT;")
EOF
	sql -f "$tmp/devices.sql" >/dev/null || die "inserting the devices failed"
	rm -f "$tmp/devices.sql"
}

# node_start I: start node I (log appended to node$I.log, PID in node$I.pid).
# Started from a subshell that exits at once, so that the node is nobody's
# job here: bash would print "PID Killed ..." for every kill -9 otherwise,
# and the kill loop's subshell could not wait for the nodes it did not start.
node_start() {
	("$SUITD" -c "$tmp/node$1.conf" >>"$tmp/node$1.log" 2>&1 &
		echo $! >"$tmp/node$1.pid")
}
# node_kill I [SIGNAL]: signal node I (default KILL) and wait (at most 10 s)
# until it is gone: no process, or a zombie waiting for its reaper.
node_kill() {
	local pid
	pid=$(cat "$tmp/node$1.pid")
	kill "-${2:-KILL}" "$pid" 2>/dev/null || true
	for _ in $(seq 1 200); do
		[ -r "/proc/$pid/stat" ] || return 0
		[ "$(awk '{ sub(/^.*\) /, ""); print $1 }' "/proc/$pid/stat" 2>/dev/null)" = Z ] && return 0
		sleep 0.05
	done
}
# node_ready I: wait (at most 30 s) until node I answers /readyz with 200.
node_ready() {
	for _ in $(seq 1 300); do
		[ "$(curl -s --cacert "$tmp/cert.pem" -o /dev/null -w '%{http_code}' --max-time 2 \
			"https://127.0.0.1:${PORT[$1]}/readyz" || true)" = 200 ] && return 0
		sleep 0.1
	done
	return 1
}
# PIDs of the running nodes' processes (one per word).
node_pids() { cat "$tmp"/node?.pid 2>/dev/null; }

# $tmp/haproxy.cfg from contrib/haproxy/suitd.cfg with nodes 1..N: only the
# addresses, the port, the CA and the log target (stderr at LEVEL) change,
# and each change is checked, so an edit of the example that this no longer
# fits fails here rather than testing something else.
cluster_haproxy_conf() { # n level
	sed -e "s/^\tbind :8443$/\tbind 127.0.0.1:$HAPROXY_PORT/" \
		-e "s/10\.0\.0\.11:8443/127.0.0.1:${PORT[1]}/; s/10\.0\.0\.12:8443/127.0.0.1:${PORT[2]}/" \
		-e "s/10\.0\.0\.13:8443/127.0.0.1:${PORT[3]}/" \
		-e "s#ca-file /etc/suitd/ca.pem#ca-file $tmp/cert.pem#" \
		-e "s#^\tlog /dev/log local0 notice#\tlog stderr format raw local0 $2#" \
		"$ROOT/contrib/haproxy/suitd.cfg" |
		awk -v keep="$1" '/^\tserver node[0-9]/ { if (substr($2, 5) + 0 > keep) next } { print }' \
			>"$tmp/haproxy.cfg"
	for want in "bind 127.0.0.1:$HAPROXY_PORT" "ca-file $tmp/cert.pem" "log stderr"; do
		grep -qF "$want" "$tmp/haproxy.cfg" ||
			die "contrib/haproxy/suitd.cfg changed: no '$want' after substitution"
	done
	[ "$(grep -c "^	server node[0-9] 127.0.0.1:" "$tmp/haproxy.cfg")" = "$1" ] ||
		die "contrib/haproxy/suitd.cfg changed: not $1 server lines after substitution"
	haproxy -c -q -f "$tmp/haproxy.cfg" >"$tmp/haproxy-check.log" 2>&1 ||
		{ cat "$tmp/haproxy-check.log" >&2; die "haproxy refuses the config"; }
}
# Start haproxy on $tmp/haproxy.cfg and wait until it answers; sets
# HAPROXY_PID. Not in $(...).
cluster_haproxy_start() {
	haproxy -db -f "$tmp/haproxy.cfg" >"$tmp/haproxy.log" 2>&1 &
	HAPROXY_PID=$!
	wait_up "https://127.0.0.1:$HAPROXY_PORT/readyz" "$HAPROXY_PID" --cacert "$tmp/cert.pem" ||
		{ cat "$tmp/haproxy.log" >&2; die "haproxy does not answer"; }
}
