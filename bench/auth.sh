#!/bin/bash
# Device authentication benchmark: authenticated no-op device requests per
# second over HTTPS keep-alive, with a token and with a TLS client
# certificate, against the same suitd answering /healthz unauthenticated in
# the same run.
#
# Usage: bench/auth.sh            (about 2 minutes on 2 cores, plus the wait
#                                  for an idle machine, at most 5 minutes)
#
# Three kinds of request, in this order in every round (ROUNDS rounds):
#   healthz  GET /healthz, no credentials
#   token    GET /device/v1/whoami with "Authorization: Bearer <device token>"
#   cert     GET /device/v1/whoami with a client certificate (CN=dev-1), no token
# each with build/bench/loadgen (bench/loadgen.c, libcurl multi interface)
# -c CONNS -d SECONDS: CONNS keep-alive connections, each re-issuing its
# request as soon as the previous response is in. The script reports the
# median requests/s per kind, the ratios token/healthz and cert/healthz
# against the goal (>= 0.9), suitd's CPU-seconds (utime+stime from
# /proc/PID/stat) per 10,000 requests per kind, the same plus loadgen's own
# CPU, and the CPU-per-request ratios to /healthz ("cpu ratio"). Client and
# server share the machine's cores, so loadgen's cost is in the req/s.
#
# One suitd serves all three kinds: [devices] auth = certificate, token, so
# it asks every TLS client for a certificate (the healthz and token clients
# send none). [log] level = warning: no access-log line per request.
#
# Before measuring, the script waits (at most IDLE_WAIT seconds) until the
# machine is idle: 1-minute load average < 0.5, or no other process above
# 10 % CPU and the machine >= 85 % idle in `top -b -n2 -d1`. If it never is,
# it warns and goes on. Between rounds it waits the same way, at most
# ROUND_IDLE_WAIT seconds (the load average then counts the benchmark
# itself, so only the top test can pass). Each run also reports the CPU the
# rest of the machine used meanwhile (/proc/stat user+nice+system minus
# suitd and loadgen), the irq+softirq time and the steal time; runs where
# other + steal exceed 10 % of one core are marked BUSY.
#
# Any non-2xx response or transport error in any run makes the script fail
# (exit 1, with loadgen's status counts, its first errors, the end of
# suitd's log, and how suitd ended if it is gone).
#
# Knobs (environment): ROUNDS=3 SECONDS_PER_RUN=10 CONNS=8 WARMUP=2
# IDLE_WAIT=300 ROUND_IDLE_WAIT=60 GOAL=0.9. TMPDIR is honoured (mktemp -d);
# the temp dir is removed and suitd stopped at exit. Everything listens on
# 127.0.0.1 only.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
DIE_PREFIX="auth.sh: FAILED: "
cd "$(dirname "$0")/.."
ROOT=$PWD

ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
CONNS=${CONNS:-8}
WARMUP=${WARMUP:-2}
IDLE_WAIT=${IDLE_WAIT:-300}
ROUND_IDLE_WAIT=${ROUND_IDLE_WAIT:-60}
GOAL=${GOAL:-0.9}
KINDS=(healthz token cert)

# ---- tools ----------------------------------------------------------------
need=()
need_cmds curl openssl ss:iproute2 top:procps cc:gcc pkg-config
if ! command -v pkg-config >/dev/null || ! pkg-config --exists libcurl; then
	need+=(libcurl4-openssl-dev)
fi
install_tools "${need[@]}"

# ---- helpers ----------------------------------------------------------------
tmp=$(mktemp -d)
SUITD_PID=
cleanup() {
	if [ -n "$SUITD_PID" ]; then
		kill -TERM "$SUITD_PID" 2>/dev/null || true
		kill_after 50 "$SUITD_PID"
	fi
	backend_stop
	rm -rf "$tmp"
}
install_traps

# "tid ticks" for every thread of the process.
task_ticks() {
	local t
	for t in /proc/"$1"/task/*; do
		awk -v t="${t##*/}" '{ sub(/^.*\) /, ""); print t, $12 + $13 }' "$t/stat" 2>/dev/null || true
	done
}
# How suitd's CPU split over its threads between two task_ticks files, as
# percentages, largest first, e.g. "71+29": libmicrohttpd's thread pool binds
# each connection to the worker thread that accepted it.
thread_split() {
	awk 'NR == FNR { a[$1] = $2; next } { d = $2 - a[$1]; if (d > 0) { s += d; v[++n] = d } }
		END { if (s == 0) { print "-"; exit }
		      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] > v[i]) { x = v[i]; v[i] = v[j]; v[j] = x }
		      out = ""; for (i = 1; i <= n; i++) if (v[i] * 100 / s >= 1) out = out (out == "" ? "" : "+") sprintf("%.0f", v[i] * 100 / s)
		      print out }' "$1" "$2"
}

# Value of KEY in loadgen's "key=value ..." line.
field() {
	awk -v k="$1" '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) print kv[2] } }' <<<"$2"
}

# Other processes above 10 % CPU, and the machine's idle %, from top's
# second sample (the first one averages over each process's whole life).
# Prints "IDLE% busy-list".
top_sample() {
	top -b -n2 -d1 -w 200 2>/dev/null | awk '
		/^top -/ { sample++ }
		sample == 2 && /^%Cpu/ && match($0, /[0-9.]+ id/) { idle = substr($0, RSTART, RLENGTH - 3) }
		sample == 2 && $1 == "PID" { hdr = 1; next }
		sample == 2 && hdr && $9 + 0 > 10 && $12 != "top" { busy = busy sprintf("%s(%s %s%%) ", $12, $1, $9) }
		END { printf "%s %s\n", (idle == "" ? 0 : idle), busy }'
}

# Wait until the machine is idle (at most IDLE_WAIT seconds): 1-minute load
# average < 0.5, or top shows no other process above 10 % CPU and the
# machine >= 85 % idle over one second (short-lived compiler or test
# processes show only in the machine-wide figure).
wait_idle() { # max-seconds
	local start now load sample idle busy
	start=$(date +%s)
	while :; do
		load=$(cut -d' ' -f1 /proc/loadavg)
		if awk -v l="$load" 'BEGIN { exit !(l < 0.5) }'; then
			echo "idle: load average $load"
			return 0
		fi
		sample=$(top_sample)
		idle=${sample%% *}
		busy=${sample#* }
		busy=${busy% }
		if [ -z "$busy" ] && awk -v i="$idle" 'BEGIN { exit !(i >= 85) }'; then
			echo "idle: no other process above 10 % CPU, machine ${idle}% idle (load average $load, still decaying)"
			return 0
		fi
		now=$(date +%s)
		if [ $((now - start)) -ge "$1" ]; then
			echo "WARNING: machine not idle after ${1}s (load average $load, ${idle}% idle, busy: ${busy:-none}); measuring anyway"
			return 0
		fi
		echo "waiting for an idle machine: load average $load, ${idle}% idle, busy: ${busy:-none}"
		sleep 10
	done
}

# Machine-wide CPU ticks from /proc/stat: "processes irq steal" (processes =
# user + nice + system, guest time is inside user; irq = hardirq + softirq,
# which is where the kernel accounts most loopback TCP work: it is not in any
# process's utime/stime).
machine_ticks() {
	awk '$1 == "cpu" { print $2 + $3 + $4, $7 + $8, $9 }' /proc/stat
}

# ---- machine, build ---------------------------------------------------------
print_machine
build_suitd
backend_start
LOADGEN=$ROOT/build/bench/loadgen
mkdir -p "$ROOT/build/bench"
# shellcheck disable=SC2046 # pkg-config prints several words
cc -O2 -o "$LOADGEN" "$ROOT/bench/loadgen.c" $(pkg-config --cflags --libs libcurl) 2>"$tmp/cc.log" ||
	{ cat "$tmp/cc.log" >&2; die "building loadgen failed"; }
# Run copies: other work in the tree may rebuild build/ during the benchmark.
{ cp "$SUITD" "$tmp/suitd" && cp "$LOADGEN" "$tmp/loadgen"; } || die "cannot copy the binaries"
SUITD=$tmp/suitd
LOADGEN=$tmp/loadgen
echo "suitd: $("$SUITD" -V 2>&1 | head -n1); loadgen: libcurl $(pkg-config --modversion libcurl), $(openssl version | cut -d' ' -f1-2)"

# ---- certificates -------------------------------------------------------------
# Server: self-signed ECDSA P-256 for 127.0.0.1. Devices: a CA (P-256) and a
# device certificate CN=dev-1 with EKU clientAuth, issued by that CA.
ossl() { "$@" 2>>"$tmp/openssl.log" || { cat "$tmp/openssl.log" >&2; die "openssl failed: $*"; }; }
ossl openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-keyout "$tmp/key.pem" -out "$tmp/cert.pem" -subj "/CN=localhost" \
	-addext "subjectAltName=IP:127.0.0.1,DNS:localhost"
ossl openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-keyout "$tmp/device-ca.key" -out "$tmp/device-ca.pem" -subj "/CN=suitd bench device CA" \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
ossl openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$tmp/dev-1.key" -out "$tmp/dev-1.csr" -subj "/CN=dev-1"
cat >"$tmp/dev-1.ext" <<EOF
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
EOF
ossl openssl x509 -req -in "$tmp/dev-1.csr" -CA "$tmp/device-ca.pem" -CAkey "$tmp/device-ca.key" \
	-CAcreateserial -days 2 -sha256 -extfile "$tmp/dev-1.ext" -out "$tmp/dev-1.pem"
ossl openssl verify -CAfile "$tmp/device-ca.pem" -purpose sslclient "$tmp/dev-1.pem" >/dev/null

# ---- suitd ---------------------------------------------------------------------
mkdir -p "$tmp/db"
# shellcheck disable=SC2119 # no port to avoid
SUITD_PORT=$(free_port) || die "no free port"
SUITD_CONF=$tmp/suitd.conf
cat >"$SUITD_CONF" <<EOF
[server]
listen = 127.0.0.1:$SUITD_PORT
# The benchmarks measure capacity: no per-client rate limit.
rate_limit = 0
tls_cert = $tmp/cert.pem
tls_key = $tmp/key.pem
[storage]
$(storage_conf "$tmp/db/suitd.db")
[devices]
auth = certificate, token
client_ca = $tmp/device-ca.pem
identity = cn
[payloads]
[log]
level = warning
EOF
TOKEN=$("$SUITD" -c "$SUITD_CONF" device add dev-1 2>"$tmp/device.log" | tail -n1) ||
	{ cat "$tmp/device.log" >&2; die "device add failed"; }
[ -n "$TOKEN" ] || die "device add printed no token"
start_suitd "$SUITD_CONF"
BASE=https://127.0.0.1:$SUITD_PORT
up=0
for _ in $(seq 1 100); do
	kill -0 "$SUITD_PID" 2>/dev/null || break
	code=$(curl -s --cacert "$tmp/cert.pem" -o /dev/null -w '%{http_code}' --max-time 2 "$BASE/healthz" || true)
	if [ "$code" = 200 ]; then
		up=1
		break
	fi
	sleep 0.1
done
[ "$up" = 1 ] || { cat "$tmp/suitd.log" >&2; die "suitd did not start"; }

# ---- the three kinds --------------------------------------------------------------
url_of() {
	case $1 in
	healthz) echo "$BASE/healthz" ;;
	*) echo "$BASE/device/v1/whoami" ;;
	esac
}
# loadgen / curl options per kind (one per line).
creds_of() {
	case $1 in
	healthz) ;;
	token) printf '%s\n' -H "Authorization: Bearer $TOKEN" ;;
	cert) printf '%s\n' --cert "$tmp/dev-1.pem" --key "$tmp/dev-1.key" ;;
	esac
}

# ---- pre-flight checks --------------------------------------------------------------
check() { # kind expected-code expected-body-substring
	local creds out code tls
	mapfile -t creds < <(creds_of "$1")
	out=$(curl -sv --cacert "$tmp/cert.pem" "${creds[@]}" -o "$tmp/check.json" -w '%{http_code}' \
		--max-time 10 "$(url_of "$1")" 2>"$tmp/check.err") || { cat "$tmp/check.err" >&2; die "check $1: curl failed"; }
	code=$out
	tls=$(sed -n 's/^\* SSL connection using //p' "$tmp/check.err" | head -n1)
	[ "$code" = "$2" ] || die "check $1: HTTP $code, expected $2: $(cat "$tmp/check.json")"
	grep -q "$3" "$tmp/check.json" || die "check $1: body lacks '$3': $(cat "$tmp/check.json")"
	printf 'check %-8s HTTP %s %s; TLS %s\n' "$1" "$code" "$(head -c 120 "$tmp/check.json")" "$tls"
}
check healthz 200 ''
check token 200 '"id":"dev-1"'
check cert 200 '"id":"dev-1"'
code=$(curl -s --cacert "$tmp/cert.pem" -o /dev/null -w '%{http_code}' --max-time 10 "$BASE/device/v1/whoami")
[ "$code" = 401 ] || die "whoami without credentials answered $code, expected 401"
echo "check whoami without credentials: HTTP 401"

# If suitd is no longer running, say how it ended and fail.
suitd_gone() {
	local st=0
	kill -0 "$SUITD_PID" 2>/dev/null && return 0
	wait "$SUITD_PID" 2>/dev/null || st=$?
	SUITD_PID=
	if [ "$st" -gt 128 ]; then
		die "suitd is gone: killed by signal $((st - 128)) ($(kill -l $((st - 128)) 2>/dev/null || echo '?'))"
	fi
	die "suitd is gone: exit status $st"
}

run_failed() {
	suitd_gone
	die "$1: non-2xx responses or transport errors (see above)"
}

# Run loadgen for KIND for SECONDS; prints its result line. On any non-2xx
# response or transport error it prints loadgen's report and returns 1 (it
# runs in $(...): the caller calls run_failed).
run_loadgen() {
	local kind=$1 secs=$2 creds out rc=0
	mapfile -t creds < <(creds_of "$kind")
	out=$(timeout $((secs + 60)) "$LOADGEN" -c "$CONNS" -d "$secs" --cacert "$tmp/cert.pem" \
		"${creds[@]}" "$(url_of "$kind")" 2>"$tmp/loadgen.err") || rc=$?
	if [ "$rc" != 0 ] || [ "$(field non2xx "$out")" != 0 ] || [ "$(field errors "$out")" != 0 ]; then
		echo "loadgen ($kind) exit $rc: $out" >&2
		cat "$tmp/loadgen.err" >&2
		tail -n 20 "$tmp/suitd.log" >&2
		return 1
	fi
	echo "$out"
}

# ---- measure ---------------------------------------------------------------------
wait_idle "$IDLE_WAIT"
echo "warm-up: ${WARMUP}s of loadgen -c $CONNS per kind"
for k in "${KINDS[@]}"; do run_loadgen "$k" "$WARMUP" >/dev/null || run_failed "$k (warm-up)"; done

declare -A RPS TICKS REQS CLIENT_CPU
for k in "${KINDS[@]}"; do RPS[$k]='' TICKS[$k]=0 REQS[$k]=0 CLIENT_CPU[$k]=0; done
OTHER_TOTAL=0 STEAL_TOTAL=0 BUSY_RUNS=0
echo
echo "loadgen -c $CONNS -d $SECONDS_PER_RUN per run, $ROUNDS rounds: req/s (requests; CPU-s of suitd, loadgen, irq+softirq (mostly loopback TCP), other processes, steal; capacity $((SECONDS_PER_RUN * $(nproc))) CPU-s per run)"
for i in $(seq 1 "$ROUNDS"); do
	if [ "$i" -gt 1 ]; then
		wait_idle "$ROUND_IDLE_WAIT" | sed 's/^/  /'
	fi
	echo "  round $i:"
	for k in "${KINDS[@]}"; do
		read -r m0 q0 s0 <<<"$(machine_ticks)"
		task_ticks "$SUITD_PID" >"$tmp/tasks0"
		t0=$(cpu_ticks "$SUITD_PID")
		out=$(run_loadgen "$k" "$SECONDS_PER_RUN") || run_failed "$k, round $i"
		t1=$(cpu_ticks "$SUITD_PID")
		task_ticks "$SUITD_PID" >"$tmp/tasks1"
		split=$(thread_split "$tmp/tasks0" "$tmp/tasks1")
		read -r m1 q1 s1 <<<"$(machine_ticks)"
		rps=$(field rps "$out")
		n=$(field requests "$out")
		conn=$(field connects "$out")
		ccpu=$(field cpu "$out")
		RPS[$k]+=" $rps"
		TICKS[$k]=$((TICKS[$k] + t1 - t0))
		REQS[$k]=$((REQS[$k] + n))
		CLIENT_CPU[$k]=$(awk -v a="${CLIENT_CPU[$k]}" -v b="$ccpu" 'BEGIN { print a + b }')
		other=$(awk -v m=$((m1 - m0)) -v t=$((t1 - t0)) -v c="$ccpu" -v hz="$HZ" 'BEGIN { o = (m - t) / hz - c; printf "%.2f", (o > 0 ? o : 0) }')
		steal=$(awk -v s=$((s1 - s0)) -v hz="$HZ" 'BEGIN { printf "%.2f", s / hz }')
		irq=$(awk -v s=$((q1 - q0)) -v hz="$HZ" 'BEGIN { printf "%.2f", s / hz }')
		OTHER_TOTAL=$(awk -v a="$OTHER_TOTAL" -v b="$other" 'BEGIN { print a + b }')
		STEAL_TOTAL=$(awk -v a="$STEAL_TOTAL" -v b="$steal" 'BEGIN { print a + b }')
		mark=""
		if awk -v o="$other" -v s="$steal" -v d="$SECONDS_PER_RUN" 'BEGIN { exit !(o + s > 0.1 * d) }'; then
			mark="  BUSY"
			BUSY_RUNS=$((BUSY_RUNS + 1))
		fi
		printf '    %-8s %9s req/s (%7s req; CPU-s suitd %5.2f [threads %s %%], loadgen %5.2f, irq %5.2f, other %5.2f, steal %5.2f; %s conns)%s\n' \
			"$k" "$rps" "$n" "$(awk -v t=$((t1 - t0)) -v hz="$HZ" 'BEGIN { print t / hz }')" "$split" "$ccpu" "$irq" "$other" "$steal" "$conn" "$mark"
		[ "$conn" = "$CONNS" ] || echo "    WARNING: $k round $i opened $conn connections, expected $CONNS (keep-alive broken?)"
	done
done
suitd_gone

# ---- table -------------------------------------------------------------------------
declare -A MED CPU10K CCPU10K BOTH10K
for k in "${KINDS[@]}"; do
	# shellcheck disable=SC2086
	MED[$k]=$(median ${RPS[$k]})
	CPU10K[$k]=$(awk -v t="${TICKS[$k]}" -v hz="$HZ" -v n="${REQS[$k]}" 'BEGIN { printf "%.3f", (n > 0 ? t / hz / n * 10000 : 0) }')
	CCPU10K[$k]=$(awk -v c="${CLIENT_CPU[$k]}" -v n="${REQS[$k]}" 'BEGIN { printf "%.3f", (n > 0 ? c / n * 10000 : 0) }')
	BOTH10K[$k]=$(awk -v a="${CPU10K[$k]}" -v b="${CCPU10K[$k]}" 'BEGIN { printf "%.3f", a + b }')
done
verdict() { awk -v r="$1" -v g="$GOAL" 'BEGIN { printf "%s", (r >= g ? "ok" : "MISSED") }'; }
echo
echo "RESULTS (loadgen -c $CONNS -d $SECONDS_PER_RUN, HTTPS keep-alive, median of $ROUNDS runs; suitd [log] level = warning)"
fmt='%-8s %-42s %9s %8s %-15s %10s %10s %10s %10s\n'
# shellcheck disable=SC2059 # the format is the variable
printf "$fmt" kind request "req/s" "/healthz" goal "suitd" "suitd" "suitd+" "suitd+"
# shellcheck disable=SC2059
printf "$fmt" "" "" "median" "ratio" "" "CPU-s/10k" "cpu ratio" "loadgen" "loadgen"
# shellcheck disable=SC2059
printf "$fmt" "" "" "" "" "" "" "" "CPU-s/10k" "cpu ratio"
for k in "${KINDS[@]}"; do
	case $k in
	healthz) what="GET /healthz, no credentials" ;;
	token) what="GET /device/v1/whoami, Bearer token" ;;
	cert) what="GET /device/v1/whoami, client certificate" ;;
	esac
	r=$(ratio "${MED[$k]}" "${MED[healthz]}")
	cr=$(ratio "${BOTH10K[healthz]}" "${BOTH10K[$k]}")
	sr=$(ratio "${CPU10K[healthz]}" "${CPU10K[$k]}")
	g=""
	[ "$k" != healthz ] && g="$(verdict "$r") (>= $GOAL)"
	# shellcheck disable=SC2059
	printf "$fmt" "$k" "$what" "${MED[$k]}" "$r" "$g" "${CPU10K[$k]}" "$sr" "${BOTH10K[$k]}" "$cr"
done
echo "cpu ratio = CPU per request for /healthz / CPU per request for the kind (suitd alone; suitd + loadgen: the req/s ratio to expect when both share CPU-bound cores)"
awk -v c="${CLIENT_CPU[healthz]}" -v d=$((ROUNDS * SECONDS_PER_RUN)) 'BEGIN { if (c / d >= 0.9) printf "note: loadgen (one thread) used %.0f %% of a core in the /healthz runs: the generator, not suitd, limits req/s\n", c / d * 100 }'
echo "noise: other processes $OTHER_TOTAL CPU-s, steal $STEAL_TOTAL CPU-s over $((ROUNDS * ${#KINDS[@]})) runs ($((ROUNDS * ${#KINDS[@]} * SECONDS_PER_RUN * $(nproc))) CPU-s of capacity); runs marked BUSY (> 10 % of one core): $BUSY_RUNS"
echo "errors: none (every response 2xx, no transport errors; a failure would have stopped the script)"
lines=$(grep -c . "$tmp/suitd.log" || true)
echo "suitd log ([log] level = warning): $lines lines"
sort "$tmp/suitd.log" | uniq -c | sort -rn | head -n5 | sed 's/^/  suitd: /'
echo "(client and server share the same $(nproc) cores; loadgen's own CPU is included in the wall-clock figures)"
