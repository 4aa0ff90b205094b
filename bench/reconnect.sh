#!/bin/bash
# Reconnect benchmark (issue 14): device check-ins as they really arrive, a
# new TLS connection per poll. suitd against a hand-started nginx answering
# a 204 on the same certificate, measured alternately in one run.
#
# Usage: bench/reconnect.sh          (about 8 minutes on 2 cores, plus the
#                                     wait for an idle machine, at most 5 min)
#        QUICK=1 bench/reconnect.sh  (about 1 minute: ROUNDS=1 DURATION=3
#                                     SYSCALL_CONNS=300 IDLE_WAIT=0 WARMUP=1)
#
# Every request is GET /device/v1/manifest?seq=1 with "Authorization: Bearer
# <token>" and "Connection: close": suitd answers 204 ("nothing to do"),
# nginx `return 204;` with a Cache-Control header like suitd's. Modes, in
# this order in every round (ROUNDS rounds), each on suitd and on nginx
# (which one goes first alternates from round to round):
#   a13  wrk -t1 -cCONNS -dDURATION: a new connection per request; wrk keeps
#        its SSL object, so it resumes the session when the server issues
#        tickets (both do)
#   b13  loadgen -cCONNS -dDURATION --reconnect --no-resume: a new connection
#        per request and never a resumed session (full handshakes only)
#   s13  openssl s_time -new -tls1_3 -time DURATION: one client, handshakes
#        only (no request), each a new session
#   a12, b12, s12  the same forced to TLS 1.2 (wrk through an OPENSSL_CONF
#        with MaxProtocol = TLSv1.2, loadgen --tls12, s_time -tls1_2)
# Reported per mode: the median rate (requests/s, or connections/s for
# s_time) and its ratio suitd/nginx, and the server's CPU-us per
# connection (utime+stime from /proc/PID/stat around each run, all runs
# summed, divided by the connections). Goals: (a), (b) and the TLS 1.2 ones
# (c) suitd/nginx >= 1.0.
#
# Syscalls per connection (d): SYSCALL_CONNS sequential full-handshake
# TLS 1.3 check-ins (loadgen -c 1 -n SYSCALL_CONNS --reconnect --no-resume)
# under `strace -f` attached to the server (suitd's threads; nginx's master
# and worker); reported: syscalls per connection, the top ones with their
# errors (EAGAIN). strace slows the server down, so when `perf stat` works
# the same count is also taken from the raw_syscalls tracepoints without
# strace, sequential and with CONNS concurrent clients. Goal: suitd <= 1.5x
# nginx's syscalls per connection.
#
# Pre-flight: both servers answer 204 (suitd 401 without the token); the
# TLS version and cipher each one negotiates; whether each server resumes a
# session (openssl s_client -sess_out/-sess_in, loadgen --reconnect, and wrk
# against an nginx location that logs $ssl_protocol and $ssl_session_reused,
# which also proves that the OPENSSL_CONF forces wrk to TLS 1.2); and
# whether a HelloRetryRequest happens for X25519-first and P-256-first TLS 1.3
# clients (openssl s_client -groups ... -msg: ClientHellos sent).
#
# suitd: `suitd device add` registers one device and gives its token; threads
# = 0 (one per core), [log] level = warning, rate_limit = 0. nginx: Debian's
# /usr/sbin/nginx with its own prefix (-p), config (-c), error log (-e) and
# pid file, 1 worker, access_log off, ssl_protocols TLSv1.2 TLSv1.3, default
# session tickets (on) and session cache (none). Never touches the system
# nginx service or /etc/nginx.
#
# Before measuring, the script waits until the 1-minute load average is
# below 0.6 (at most IDLE_WAIT seconds; then it warns and goes on). Each run
# line shows the CPU of the server, of the client and of other processes
# (/proc/stat user+nice+system+irq+softirq minus those two); runs where others used more than 10 % of one core are
# marked BUSY.
#
# Knobs (environment): ROUNDS=3 DURATION=8 CONNS=32 SYSCALL_CONNS=2000
# MODES="a13 b13 s13 a12 b12 s12" (a subset, or k13: wrk keep-alive)
# SUITD_THREADS=0 IDLE=0 (idle keep-alive connections held during each run:
# `MODES="k13 a13" IDLE=2000` shows what they cost each server)
# SYSCALLS=1 (0: skip the syscall counts) WARMUP=2 IDLE_WAIT=300 QUICK=0
# BUILD (a build folder under the tree: `make BUILD=$BUILD $BUILD/suitd`
# instead of `make`) NGINX=/usr/sbin/nginx. TMPDIR is honoured (mktemp -d);
# the temp dir is removed and both servers (and any strace or perf) stopped
# at exit. Everything listens on 127.0.0.1 only. Any unexpected status,
# transport error or resumed session in a "never resume" run makes the
# script fail.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
DIE_PREFIX="reconnect.sh: FAILED: "
cd "$(dirname "$0")/.."
ROOT=$PWD

if [ "${QUICK:-0}" = 1 ]; then
	ROUNDS=${ROUNDS:-1} DURATION=${DURATION:-3} SYSCALL_CONNS=${SYSCALL_CONNS:-300}
	IDLE_WAIT=${IDLE_WAIT:-0} WARMUP=${WARMUP:-1}
fi
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8}
CONNS=${CONNS:-32}
SYSCALL_CONNS=${SYSCALL_CONNS:-2000}
SYSCALLS=${SYSCALLS:-1}
WARMUP=${WARMUP:-2}
IDLE_WAIT=${IDLE_WAIT:-300}
NGINX=${NGINX:-/usr/sbin/nginx}
read -r -a MODES <<<"${MODES:-a13 b13 s13 a12 b12 s12}"
SUITD_THREADS=${SUITD_THREADS:-0}
IDLE=${IDLE:-0}
export CONNECTION_LIMIT=$((IDLE + 1024))
ulimit -n $((2 * IDLE + 4096)) 2>/dev/null || true
SERVERS=(suitd nginx)

# ---- tools ----------------------------------------------------------------
need=()
[ -x "$NGINX" ] || need+=(nginx)
need_cmds wrk curl openssl ss:iproute2 strace cc:gcc pkg-config python3
if ! command -v pkg-config >/dev/null || ! pkg-config --exists libcurl; then
	need+=(libcurl4-openssl-dev)
fi
install_tools "${need[@]}"

# ---- helpers ----------------------------------------------------------------
tmp=$(mktemp -d)
SUITD_PID=
NGINX_PID=
TRACER_PID=
cleanup() {
	if [ -n "$TRACER_PID" ]; then kill -INT "$TRACER_PID" 2>/dev/null || true; fi
	if [ -n "${HOLDER_PID:-}" ]; then kill "$HOLDER_PID" 2>/dev/null || true; fi
	if [ -n "$SUITD_PID" ]; then kill -TERM "$SUITD_PID" 2>/dev/null || true; fi
	if [ -n "$NGINX_PID" ]; then kill -QUIT "$NGINX_PID" 2>/dev/null || true; fi
	# shellcheck disable=SC2086 # empty PIDs vanish
	kill_after 100 $TRACER_PID $SUITD_PID $NGINX_PID
	backend_stop
	rm -rf "$tmp"
}
install_traps

# ---- machine, build ---------------------------------------------------------
print_machine
build_suitd
build_loadgen
# Run copies: other work in the tree may rebuild the build folder meanwhile.
{ cp "$SUITD" "$tmp/suitd" && cp "$LOADGEN" "$tmp/loadgen"; } || die "cannot copy the binaries"
SUITD=$tmp/suitd
LOADGEN=$tmp/loadgen
echo "suitd: $("$SUITD" -V 2>&1 | head -n1), threads = $SUITD_THREADS (0: one per core); GnuTLS $(pkg-config --modversion gnutls 2>/dev/null || echo '?'), libmicrohttpd $(pkg-config --modversion libmicrohttpd 2>/dev/null || echo '?')"
echo "clients: $(wrk -v 2>&1 | head -n1 | cut -d' ' -f1-2), loadgen on libcurl $(pkg-config --modversion libcurl), $(openssl version | cut -d' ' -f1-2); nginx $("$NGINX" -v 2>&1 | sed 's/^nginx version: //')"
print_tmpdir
backend_start

# ---- suitd --------------------------------------------------------------------
make_server_cert 2
mkdir -p "$tmp/db"
SUITD_PORT=$(free_port) || die "no free port"
SUITD_CONF=$tmp/suitd.conf
{
	suitd_base_conf "$SUITD_PORT" "$tmp/db/suitd.db"
	printf '%s\n' "[server]" "threads = $SUITD_THREADS" "[devices]" "auth = token" "[log]" "level = warning"
} >"$SUITD_CONF"
TOKEN=$(device_token "$SUITD_CONF" dev-1)
start_suitd "$SUITD_CONF"
SUITD_BASE=https://127.0.0.1:$SUITD_PORT
wait_up "$SUITD_BASE/readyz" "$SUITD_PID" || { cat "$tmp/suitd.log" >&2; die "suitd did not start"; }

# ---- nginx ----------------------------------------------------------------------
NGINX_PORT=$(free_port "$SUITD_PORT") || die "no free port"
N=$tmp/nginx
# /tls logs the TLS version, "r" for a resumed session and the group, for
# the pre-flight checks only; the measured location logs nothing.
# shellcheck disable=SC2016 # nginx variables
write_nginx_conf 1 '    log_format tls "$ssl_protocol $ssl_session_reused $ssl_curve";' \
	"        location / {
            add_header Cache-Control \"max-age=300\" always;
            return 204;
        }
        location = /tls {
            access_log $N/logs/tls.log tls;
            return 204;
        }"
start_nginx
NGINX_BASE=https://127.0.0.1:$NGINX_PORT
wait_up "$NGINX_BASE/" "$NGINX_PID" || { cat "$N/logs/error.log" >&2; die "nginx did not start"; }

CHECKIN="/device/v1/manifest?seq=1"
port_of() { if [ "$1" = nginx ]; then echo "$NGINX_PORT"; else echo "$SUITD_PORT"; fi; }
url_of() { echo "https://127.0.0.1:$(port_of "$1")$CHECKIN"; }

# OPENSSL_CONF for wrk: TLS 1.2 at most (wrk has no option for it).
cat >"$tmp/tls12.cnf" <<'EOF'
openssl_conf = openssl_init
[openssl_init]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
MaxProtocol = TLSv1.2
EOF

# suitd's TLS handshake counters "full resumed" from /metrics, or "" when
# this suitd has none.
suitd_handshakes() {
	curl -sk --max-time 5 "$SUITD_BASE/metrics" 2>/dev/null | awk '
		/^suitd_tls_handshakes_total\{resumed="no"\}/ { n = $2; f++ }
		/^suitd_tls_handshakes_total\{resumed="yes"\}/ { y = $2; f++ }
		END { if (f == 2) print n, y }'
}
# "F full, R resumed" between two suitd_handshakes answers (the second
# answer's own connection, a full handshake, not counted), or "".
handshake_delta() {
	[ -n "$1" ] && [ -n "$2" ] || return 0
	awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " ")
		printf "suitd: %d full, %d resumed", y[1] - x[1] - 1, y[2] - x[2] }'
}

# ---- pre-flight checks ---------------------------------------------------------
check() { # server token -> "code cache-control"
	curl -sk --http1.1 -o /dev/null -D "$tmp/check.h" -w '%{http_code}' \
		-H "Connection: close" -H "Authorization: Bearer $2" "$(url_of "$1")"
	printf ' %s' "$(tr -d '\r' <"$tmp/check.h" | sed -n 's/^[Cc]ache-[Cc]ontrol: //p')"
}
for s in "${SERVERS[@]}"; do
	r=$(check "$s" "$TOKEN")
	[ "${r%% *}" = 204 ] || die "$s: check-in answered $r, expected 204"
	echo "check $s: $r"
done
r=$(check suitd not-a-token)
[ "${r%% *}" = 401 ] || die "suitd without a valid token: $r, expected 401"
for s in "${SERVERS[@]}"; do
	for v in 1.3 1.2; do
		tls=$(curl -skv --http1.1 --tls-max "$v" -o /dev/null -H "Authorization: Bearer $TOKEN" "$(url_of "$s")" 2>&1 |
			sed -n 's/^\* SSL connection using //p' | head -n1)
		echo "TLS $s (client max $v): $tls"
	done
done

echo
echo "session resumption (a second connection with the first one's session):"
for s in "${SERVERS[@]}"; do
	line="  $s:"
	for v in 1_3 1_2; do
		rm -f "$tmp/sess.pem"
		# The request makes s_client wait for the answer, and so for TLS 1.3 tickets.
		printf 'GET /tls HTTP/1.0\r\n\r\n' | openssl s_client -connect "127.0.0.1:$(port_of "$s")" "-tls$v" \
			-sess_out "$tmp/sess.pem" -ign_eof >"$tmp/s1.txt" 2>&1 || true
		printf 'GET /tls HTTP/1.0\r\n\r\n' | openssl s_client -connect "127.0.0.1:$(port_of "$s")" "-tls$v" \
			-sess_in "$tmp/sess.pem" -ign_eof >"$tmp/s2.txt" 2>&1 || true
		how=$(grep -m1 -oE '^(New|Reused), TLSv1\.[23]' "$tmp/s2.txt" | cut -d, -f1 || true)
		tickets=$(grep -c 'TLS session ticket lifetime hint' "$tmp/s1.txt" || true)
		ver=()
		[ "$v" = 1_2 ] && ver=(--tls12)
		out=$("$LOADGEN" -k -c 1 -n 20 --reconnect "${ver[@]}" \
			-H "Connection: close" -H "Authorization: Bearer $TOKEN" "$(url_of "$s")" 2>/dev/null) || true
		line+=" TLS ${v/_/.}: s_client ${how:-failed} ($tickets ticket(s) received), loadgen --reconnect $(field resumed "$out")/$(field connects "$out") resumed;"
	done
	echo "${line%;}"
done
for v in 1.3 1.2; do
	env=()
	[ "$v" = 1.2 ] && env=("OPENSSL_CONF=$tmp/tls12.cnf")
	: >"$N/logs/tls.log"
	h0=$(suitd_handshakes)
	env "${env[@]}" wrk -t1 -c4 -d1s -H "Connection: close" "$NGINX_BASE/tls" >/dev/null 2>&1 || true
	env "${env[@]}" wrk -t1 -c4 -d1s -H "Connection: close" -H "Authorization: Bearer $TOKEN" \
		"$(url_of suitd)" >/dev/null 2>&1 || true
	h1=$(suitd_handshakes)
	sleep 0.2 # nginx writes its log line after the response
	seen=$(awk '{ c[$1 " " ($2 == "r" ? "resumed" : "full")]++ } END { for (k in c) printf "%s %d, ", k, c[k] }' "$N/logs/tls.log")
	d=$(handshake_delta "$h0" "$h1")
	echo "  wrk with TLS $v allowed: nginx: ${seen%, }; ${d:-suitd: no TLS handshake counters in /metrics}"
	if [ "$v" = 1.2 ] && grep -qv '^TLSv1.2 ' "$N/logs/tls.log"; then
		die "wrk with $tmp/tls12.cnf still negotiated another version than TLS 1.2 with nginx"
	fi
done
echo "  (libcurl sets SSL_OP_NO_TICKET, so over TLS 1.2 it resumes only from a server's session-ID cache: suitd keeps one ([server] tls_session_cache), nginx's ssl_session_cache is none by default)"

# The key exchange group in s_client's output: X25519, prime256v1, ...
temp_key() { sed -n 's/^Server Temp Key: \(ECDH, \)\{0,1\}\([^,]*\),.*/\2/p' "$1" | head -n1; }
echo
echo "HelloRetryRequest (openssl s_client -tls1_3 -groups G -msg: ClientHellos sent, key exchange group agreed):"
for g in X25519:P-256 P-256:X25519; do
	line="  client groups $g:"
	for s in "${SERVERS[@]}"; do
		openssl s_client -connect "127.0.0.1:$(port_of "$s")" -tls1_3 -groups "$g" -msg </dev/null >"$tmp/hrr.txt" 2>&1 || true
		ch=$(grep -c '^>>> .*ClientHello' "$tmp/hrr.txt" || true)
		grp=$(temp_key "$tmp/hrr.txt")
		hrr=$([ "$ch" -ge 2 ] && echo "HelloRetryRequest" || echo "no HRR")
		line+=" $s $ch ClientHello(s), $hrr, ${grp:-no group};"
	done
	echo "${line%;}"
done
line="  TLS 1.2 (no HRR there), group agreed for X25519:P-256:"
for s in "${SERVERS[@]}"; do
	openssl s_client -connect "127.0.0.1:$(port_of "$s")" -tls1_2 -groups X25519:P-256 </dev/null >"$tmp/hrr.txt" 2>&1 || true
	line+=" $s $(temp_key "$tmp/hrr.txt");"
done
echo "${line%;}"
# A client with Nagle's algorithm on (most device TCP stacks) holds its
# request until the server has acknowledged its Finished; a delayed ACK
# (40 ms) shows here as time from handshake end to first response byte.
line="Nagle client (curl --no-tcp-nodelay, TLS 1.3, new connection): handshake end -> first byte, median of 5:"
for s in "${SERVERS[@]}"; do
	waits=()
	for _ in 1 2 3 4 5; do
		t=$(curl --no-tcp-nodelay -sk -o /dev/null -w '%{time_appconnect} %{time_starttransfer}' \
			-H "Authorization: Bearer $TOKEN" "$(url_of "$s")") || die "curl --no-tcp-nodelay failed ($s)"
		waits+=("$(awk -v a="${t% *}" -v b="${t#* }" 'BEGIN { printf "%.2f", (b - a) * 1000 }')")
	done
	ms=$(median "${waits[@]}")
	line+=" $s ${ms} ms;"
done
echo "${line%;}"

# ---- the runs ----------------------------------------------------------------------
# Run MODE against SERVER once for SECONDS; sets RATE (per second) and NCONN
# (connections). Fails on any error.
run_client() { # mode server seconds
	local mode=$1 s=$2 secs=$3 url out rps err non2xx t0 t1 n
	url=$(url_of "$s")
	case $mode in
	a* | k*)
		local env=() close=(-H "Connection: close")
		[ "$mode" = a12 ] && env=("OPENSSL_CONF=$tmp/tls12.cnf")
		[ "$mode" = k13 ] && close=()
		timeout $((secs + 60)) env "${env[@]}" wrk -t1 -c"$CONNS" -d"${secs}s" --latency "${close[@]}" \
			-H "Authorization: Bearer $TOKEN" "$url" >"$tmp/wrk.txt" 2>&1 ||
			{ cat "$tmp/wrk.txt" >&2; die "wrk failed ($mode, $s)"; }
		read -r rps n _ _ _ err <<<"$(wrk_parse "$tmp/wrk.txt")"
		non2xx=$(sed -n 's/^ *Non-2xx or 3xx responses: *//p' "$tmp/wrk.txt")
		if [ "$err" != 0 ] || [ -n "$non2xx" ] || [ "$n" = 0 ]; then
			cat "$tmp/wrk.txt" >&2
			die "$mode $s: socket errors or non-2xx answers"
		fi
		RATE=$rps NCONN=$n
		;;
	b*)
		local ver=()
		[ "$mode" = b12 ] && ver=(--tls12)
		out=$(timeout $((secs + 60)) "$LOADGEN" -k -c "$CONNS" -d "$secs" --reconnect --no-resume \
			"${ver[@]}" -H "Connection: close" -H "Authorization: Bearer $TOKEN" \
			"$url" 2>"$tmp/loadgen.err") || { echo "$out" >&2; cat "$tmp/loadgen.err" >&2; die "loadgen failed ($mode, $s)"; }
		[ "$(field resumed "$out")" = 0 ] || die "$mode $s: loadgen --no-resume resumed sessions: $out"
		RATE=$(field rps "$out") NCONN=$(field connects "$out")
		;;
	s*)
		t0=$(date +%s.%N)
		timeout $((secs + 60)) openssl s_time -connect "127.0.0.1:$(port_of "$s")" -new -time "$secs" \
			"-tls1_${mode#s1}" >"$tmp/stime.txt" 2>&1 || { tail -n5 "$tmp/stime.txt" >&2; die "s_time failed ($mode, $s)"; }
		t1=$(date +%s.%N)
		n=$(sed -n 's/^\([0-9]*\) connections in [0-9.]* real seconds.*/\1/p' "$tmp/stime.txt" | head -n1)
		[ "${n:-0}" -gt 0 ] || { tail -n5 "$tmp/stime.txt" >&2; die "s_time made no connection ($mode, $s)"; }
		grep -qi 'error' "$tmp/stime.txt" && { grep -i -m3 error "$tmp/stime.txt" >&2; die "s_time reported errors ($mode, $s)"; }
		RATE=$(awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", n / (b - a) }') NCONN=$n
		;;
	esac
}

# IDLE > 0: that many idle keep-alive TLS connections (one request each,
# then silent) held open on the server under test during each run, as
# devices that keep their connection between polls leave them.
HOLDER_PID=
hold_idle() { # server
	[ "$IDLE" -gt 0 ] || return 0
	python3 "$ROOT/bench/idle_conns.py" "$(port_of "$1")" "$IDLE" "$TOKEN" >"$tmp/idle.txt" 2>&1 &
	HOLDER_PID=$!
	for _ in $(seq 1 600); do
		grep -q '^open' "$tmp/idle.txt" && return 0
		kill -0 "$HOLDER_PID" 2>/dev/null || break
		sleep 0.1
	done
	cat "$tmp/idle.txt" >&2
	die "could not hold $IDLE idle connections on $1"
}
release_idle() {
	[ -n "$HOLDER_PID" ] || return 0
	kill "$HOLDER_PID" 2>/dev/null || true
	wait "$HOLDER_PID" 2>/dev/null || true
	HOLDER_PID=
}

mode_text() {
	case $1 in
	a13) echo "(a)  TLS 1.3 check-in, wrk, resumes" ;;
	b13) echo "(b)  TLS 1.3 check-in, full handshakes" ;;
	s13) echo "(b') TLS 1.3 handshake only, s_time -new" ;;
	a12) echo "(c)  TLS 1.2 check-in, wrk, resumes" ;;
	b12) echo "(c)  TLS 1.2 check-in, full handshakes" ;;
	s12) echo "(c') TLS 1.2 handshake only, s_time -new" ;;
	k13) echo "(k)  TLS 1.3 check-in, wrk keep-alive (per request)" ;;
	esac
}

echo
wait_load_below 0.6 "$IDLE_WAIT"
echo "warm-up: ${WARMUP}s of each client on each server"
for m in a13 b13 s13; do
	for s in "${SERVERS[@]}"; do run_client "$m" "$s" "$WARMUP"; done
done

declare -A RATES TICKS CONNECTIONS
for m in "${MODES[@]}"; do
	for s in "${SERVERS[@]}"; do RATES[$m,$s]='' TICKS[$m,$s]=0 CONNECTIONS[$m,$s]=0; done
done
BUSY_RUNS=0
echo
echo "runs ($DURATION s each; -c $CONNS for wrk and loadgen, 1 client for s_time): rate (connections; CPU-s of the server, the client, other processes; server CPU-us per connection)"
for m in "${MODES[@]}"; do echo "  $m = $(mode_text "$m")"; done
for i in $(seq 1 "$ROUNDS"); do
	order=("${SERVERS[@]}")
	[ $((i % 2)) = 0 ] && order=(nginx suitd)
	for m in "${MODES[@]}"; do
		for s in "${order[@]}"; do
			h0=""
			[ "$s" = suitd ] && h0=$(suitd_handshakes)
			# shellcheck disable=SC2046 # one PID per word
			t0=$(cpu_ticks $(server_pids "$s"))
			read -r m0 q0 _ <<<"$(machine_ticks)"
			children_cpu c0
			hold_idle "$s"
			run_client "$m" "$s" "$DURATION"
			release_idle
			children_cpu c1
			read -r m1 q1 _ <<<"$(machine_ticks)"
			# shellcheck disable=SC2046
			t1=$(cpu_ticks $(server_pids "$s"))
			hs=""
			[ "$s" = suitd ] && hs=$(handshake_delta "$h0" "$(suitd_handshakes)")
			RATES[$m,$s]+=" $RATE"
			TICKS[$m,$s]=$((TICKS[$m,$s] + t1 - t0))
			CONNECTIONS[$m,$s]=$((CONNECTIONS[$m,$s] + NCONN))
			# shellcheck disable=SC2154 # c0, c1: set by children_cpu
			# Busy ticks include irq+softirq: the kernel charges softirq work
			# done in a process's context to its stime too.
			read -r srv cli oth us <<<"$(awk -v t=$((t1 - t0)) -v m=$((m1 - m0 + q1 - q0)) -v c0="$c0" -v c1="$c1" -v hz="$HZ" -v n="$NCONN" \
				'BEGIN { o = (m - t) / hz - (c1 - c0); printf "%.2f %.2f %.2f %.0f\n", t / hz, c1 - c0, (o > 0 ? o : 0), (n > 0 ? t / hz / n * 1e6 : 0) }')"
			mark=""
			if awk -v o="$oth" -v d="$DURATION" 'BEGIN { exit !(o > 0.1 * d) }'; then
				mark="  BUSY"
				BUSY_RUNS=$((BUSY_RUNS + 1))
			fi
			printf '  round %d %-4s %-5s %8.0f/s (%6d conns; CPU-s server %5.2f, client %5.2f, other %5.2f; %5s us/conn)%s%s\n' \
				"$i" "$m" "$s" "$RATE" "$NCONN" "$srv" "$cli" "$oth" "$us" "${hs:+; $hs}" "$mark"
		done
	done
done
kill -0 "$SUITD_PID" 2>/dev/null || die "suitd is gone (see $tmp/suitd.log)"

# ---- syscalls per connection --------------------------------------------------------
# Sequential (or -c CONNS) full-handshake check-ins for the syscall counts.
syscall_clients() { # server conns
	local out
	out=$("$LOADGEN" -k -c "$2" -n "$SYSCALL_CONNS" -d 3600 --reconnect --no-resume -H "Connection: close" \
		-H "Authorization: Bearer $TOKEN" "$(url_of "$1")" 2>"$tmp/loadgen.err") ||
		{ echo "$out" >&2; cat "$tmp/loadgen.err" >&2; die "loadgen failed (syscalls, $1)"; }
	[ "$(field connects "$out")" = "$SYSCALL_CONNS" ] || die "syscalls, $1: $out"
	echo "$out"
}
# Wait (max 10 s) until every thread of the given processes is traced.
wait_traced() {
	local p t ok
	for _ in $(seq 1 100); do
		ok=1
		for p; do
			for t in /proc/"$p"/task/*; do
				[ "$(awk '/^TracerPid:/ { print $2 }' "$t/status" 2>/dev/null || echo 0)" != 0 ] || ok=0
			done
		done
		[ "$ok" = 1 ] && return 0
		sleep 0.1
	done
	die "strace did not attach"
}
# strace -f output -> "syscall calls errors ERRNO" lines (ERRNO: the most
# frequent), one per syscall, and "total calls errors -".
strace_summary() {
	awk '
	$1 ~ /^[0-9]+$/ { sub(/^[0-9]+ +/, "") }
	/^(\+\+\+|---)/ { next }
	{
		if ($1 == "<...") { name = $2; resumed = 1 } else { name = $0; sub(/\(.*/, "", name); resumed = 0 }
		if (!resumed) { calls[name]++; total++ }
		if (match($0, /\) += -1 [A-Z0-9]+/)) {
			e = substr($0, RSTART, RLENGTH); sub(/.* /, "", e)
			errs[name]++; terr++; ec[name, e]++
			if (ec[name, e] > best[name]) { best[name] = ec[name, e]; errno[name] = e }
		}
	}
	END {
		for (n in calls) printf "%s %d %d %s\n", n, calls[n], errs[n] + 0, (n in errno ? errno[n] : "-")
		printf "total %d %d -\n", total, terr + 0
	}' "$1"
}
PERF_OK=0
if command -v perf >/dev/null && perf stat -e raw_syscalls:sys_enter -o /dev/null true >/dev/null 2>&1; then
	PERF_OK=1
fi
# Count syscalls (and EAGAIN returns) of SERVER with perf while CONNS clients
# make SYSCALL_CONNS connections; sets PERF_CALLS and PERF_EAGAIN (per
# connection) and PERF_RATE (the clients' connections/s).
perf_syscalls() { # server conns
	local pids out
	pids=$(server_pids "$1" | tr ' ' ',')
	perf stat -x, -e raw_syscalls:sys_enter -e raw_syscalls:sys_exit --filter 'ret == -11' \
		-p "$pids" -o "$tmp/perf.txt" >/dev/null 2>&1 &
	TRACER_PID=$!
	sleep 1 # perf stat gives no sign when it is attached
	out=$(syscall_clients "$1" "$2")
	kill -INT "$TRACER_PID" 2>/dev/null || true
	wait "$TRACER_PID" || true
	TRACER_PID=
	read -r PERF_CALLS PERF_EAGAIN <<<"$(awk -F, -v n="$SYSCALL_CONNS" '
		$3 == "raw_syscalls:sys_enter" { s = $1 } $3 == "raw_syscalls:sys_exit" { e = $1 }
		END { printf "%.1f %.1f\n", s / n, e / n }' "$tmp/perf.txt")"
	PERF_RATE=$(field rps "$out")
}

declare -A SC_TOTAL SC_RATE PF_SEQ PF_SEQ_EAGAIN PF_SEQ_RATE PF_CON PF_CON_EAGAIN PF_CON_RATE
if [ "$SYSCALLS" = 1 ]; then
	echo
	echo "syscalls: $SYSCALL_CONNS sequential full-handshake TLS 1.3 check-ins (loadgen -c 1 --reconnect --no-resume) per server"
	for s in "${SERVERS[@]}"; do
		# shellcheck disable=SC2046 # one -p PID pair per server process
		strace -f -qq -s 0 -o "$tmp/strace.$s" $(server_pids "$s" | sed 's/[0-9][0-9]*/-p &/g') &
		TRACER_PID=$!
		# shellcheck disable=SC2046
		wait_traced $(server_pids "$s")
		out=$(syscall_clients "$s" 1)
		kill -INT "$TRACER_PID" 2>/dev/null || true
		wait "$TRACER_PID" || true
		TRACER_PID=
		strace_summary "$tmp/strace.$s" | sort -k2,2nr >"$tmp/sc.$s"
		SC_TOTAL[$s]=$(awk -v n="$SYSCALL_CONNS" '$1 == "total" { printf "%.1f", $2 / n }' "$tmp/sc.$s")
		SC_RATE[$s]=$(field rps "$out")
		if [ "$PERF_OK" = 1 ]; then
			perf_syscalls "$s" 1
			PF_SEQ[$s]=$PERF_CALLS PF_SEQ_EAGAIN[$s]=$PERF_EAGAIN PF_SEQ_RATE[$s]=$PERF_RATE
			perf_syscalls "$s" "$CONNS"
			PF_CON[$s]=$PERF_CALLS PF_CON_EAGAIN[$s]=$PERF_EAGAIN PF_CON_RATE[$s]=$PERF_RATE
		fi
	done
	echo "  under strace -f: suitd ${SC_TOTAL[suitd]}, nginx ${SC_TOTAL[nginx]} syscalls per connection (clients ran at ${SC_RATE[suitd]} and ${SC_RATE[nginx]} conn/s, slowed by strace)"
	printf '  %-16s %22s %22s\n' "per connection" "suitd (errors)" "nginx (errors)"
	# The syscalls that make up 95 % of either server's calls, most first.
	awk -v n="$SYSCALL_CONNS" '
		FNR == 1 { f++ }
		$1 == "total" { tot[f] = $2; next }
		{ c[f, $1] = $2; e[f, $1] = $3; en[f, $1] = $4; names[$1] = 1 }
		END {
			for (k in names) { s = c[1, k] / tot[1] + c[2, k] / tot[2]; sum[k] = s }
			m = 0; for (k in names) order[++m] = k
			for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (sum[order[j]] > sum[order[i]]) { x = order[i]; order[i] = order[j]; order[j] = x }
			for (i = 1; i <= m && i <= 14; i++) {
				k = order[i]
				for (g = 1; g <= 2; g++) {
					v[g] = sprintf("%.2f", c[g, k] / n)
					if (e[g, k] > 0) v[g] = v[g] sprintf(" (%.2f %s)", e[g, k] / n, en[g, k])
				}
				printf "  %-16s %22s %22s\n", k, v[1], v[2]
			}
		}' "$tmp/sc.suitd" "$tmp/sc.nginx"
	if [ "$PERF_OK" = 1 ]; then
		echo "  perf stat (raw_syscalls tracepoints, no strace): sequential: suitd ${PF_SEQ[suitd]} (EAGAIN ${PF_SEQ_EAGAIN[suitd]}), nginx ${PF_SEQ[nginx]} (EAGAIN ${PF_SEQ_EAGAIN[nginx]}) at ${PF_SEQ_RATE[suitd]} / ${PF_SEQ_RATE[nginx]} conn/s"
		echo "  perf stat, -c $CONNS: suitd ${PF_CON[suitd]} (EAGAIN ${PF_CON_EAGAIN[suitd]}), nginx ${PF_CON[nginx]} (EAGAIN ${PF_CON_EAGAIN[nginx]}) at ${PF_CON_RATE[suitd]} / ${PF_CON_RATE[nginx]} conn/s"
	else
		echo "  (perf stat with the raw_syscalls tracepoints is not available here: no counts without strace)"
	fi
fi

# ---- table ------------------------------------------------------------------------------------
verdict() { # ratio goal le|ge
	awk -v r="$1" -v g="$2" -v d="$3" 'BEGIN { ok = (d == "le" ? r <= g : r >= g); printf "%s", (ok ? "ok" : "MISSED") }'
}
fmt='%-54s %8s %8s %6s  %s\n'
# Server CPU-us per connection over all runs of MODE on SERVER.
cpu_per_conn() { # mode server
	awk -v t="${TICKS[$1,$2]}" -v hz="$HZ" -v n="${CONNECTIONS[$1,$2]}" 'BEGIN { printf "%.0f", (n > 0 ? t / hz / n * 1e6 : 0) }'
}
echo
echo "RESULTS ($(date -u '+%Y-%m-%d %H:%M UTC'); median of $ROUNDS rounds of $DURATION s; -c $CONNS for wrk and loadgen; every request a new connection with Connection: close)"
# shellcheck disable=SC2059 # the format is the variable
printf "$fmt" "row" "suitd" "nginx" "s/n" "goal"
for m in "${MODES[@]}"; do
	# shellcheck disable=SC2086 # one rate per word
	su=$(median ${RATES[$m,suitd]})
	# shellcheck disable=SC2086
	ng=$(median ${RATES[$m,nginx]})
	r=$(ratio "$su" "$ng")
	case $m in
	s*) g="(info; conn/s, 1 client)" ;;
	*) g="$(verdict "$r" 1.0 ge) (>= 1.0)" ;;
	esac
	# shellcheck disable=SC2059
	printf "$fmt" "$(mode_text "$m"), /s" "$(printf '%.0f' "$su")" "$(printf '%.0f' "$ng")" "$r" "$g"
done
for m in "${MODES[@]}"; do
	su=$(cpu_per_conn "$m" suitd)
	ng=$(cpu_per_conn "$m" nginx)
	# shellcheck disable=SC2059
	printf "$fmt" "(d)  CPU-us/conn: $(mode_text "$m" | cut -c6-)" "$su" "$ng" "$(ratio "$su" "$ng")" "(info; lower is better)"
done
if [ "$SYSCALLS" = 1 ]; then
	r=$(ratio "${SC_TOTAL[suitd]}" "${SC_TOTAL[nginx]}")
	# shellcheck disable=SC2059
	printf "$fmt" "(d)  syscalls/conn, strace, $SYSCALL_CONNS sequential" "${SC_TOTAL[suitd]}" "${SC_TOTAL[nginx]}" "$r" "$(verdict "$r" 1.5 le) (<= 1.5)"
	if [ "$PERF_OK" = 1 ]; then
		r=$(ratio "${PF_SEQ[suitd]}" "${PF_SEQ[nginx]}")
		# shellcheck disable=SC2059
		printf "$fmt" "(d)  syscalls/conn, perf, $SYSCALL_CONNS sequential" "${PF_SEQ[suitd]}" "${PF_SEQ[nginx]}" "$r" "$(verdict "$r" 1.5 le) (<= 1.5)"
		r=$(ratio "${PF_CON[suitd]}" "${PF_CON[nginx]}")
		# shellcheck disable=SC2059
		printf "$fmt" "(d)  syscalls/conn, perf, $SYSCALL_CONNS at -c $CONNS" "${PF_CON[suitd]}" "${PF_CON[nginx]}" "$r" "$(verdict "$r" 1.5 le) (<= 1.5)"
	fi
fi
echo "s/n = suitd/nginx; (d) CPU rows: all runs of the mode summed; runs marked BUSY (others > 10 % of a core): $BUSY_RUNS"
echo "nginx error log: $(grep -c . "$N/logs/error.log" || true) lines; suitd log: $(grep -c . "$tmp/suitd.log" || true) lines"
sort "$tmp/suitd.log" | uniq -c | sort -rn | head -n5 | sed 's/^/  suitd: /'
echo "(client and server share the same $(nproc) cores)"
