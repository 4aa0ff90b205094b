#!/bin/bash
# Download benchmark: suitd against a hand-started nginx, same machine, same
# TLS certificate, same bytes, measured alternately in one run.
#
# Usage: bench/download.sh            (about 2.5 minutes on 2 cores)
#
#   (a) one client:    curl the whole 64 MiB payload, CURL_RUNS times each
#                      (median MiB/s), plus server CPU-s per GiB served
#   (b) eight clients: wrk -t2 -c8 -dWRK_SECONDS on the 64 MiB payload,
#                      WRK_RUNS times each (median MiB/s of wrk's Transfer/sec)
#   (c) random ranges: wrk -t2 -c8 with bench/ranges.lua, ~RANGE_TOTAL random
#                      128 KiB ranges per run, RANGE_RUNS runs each (median
#                      req/s and MiB/s)
#   (d) suitd memory:  VmHWM/VmRSS of suitd while 8 curls download a 1 GiB
#                      payload in parallel
#
# Contenders, in this order in every round: suitd ([log] level = warning: no
# access-log line per request), nginx (1 worker), and suitd again with the
# access log on ([log] level = info, switched with SIGHUP; lines go to a file
# in the temp dir). Everything listens on 127.0.0.1 only, on free ports.
#
# Knobs (environment): CURL_RUNS=5 WRK_RUNS=3 WRK_SECONDS=10 RANGE_TOTAL=10000
# RANGE_RUNS=3 BIG=1 (BIG=0 skips (d)) MMAP_SIZE=0 ([storage] mmap_size of suitd). TMPDIR is honoured (mktemp -d); the
# temp dir and both servers are removed/stopped at exit.
#
# Never touches the system nginx service or /etc/nginx: Debian's nginx binary
# runs with its own prefix (-p), config (-c), error log (-e) and pid file.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
ROOT=$PWD

CURL_RUNS=${CURL_RUNS:-5}
WRK_RUNS=${WRK_RUNS:-3}
WRK_SECONDS=${WRK_SECONDS:-10}
RANGE_TOTAL=${RANGE_TOTAL:-10000}
RANGE_RUNS=${RANGE_RUNS:-3}
BIG=${BIG:-1}
RANGE_LEN=131072
SMALL_MIB=64
NGINX=${NGINX:-/usr/sbin/nginx}

# ---- tools ----------------------------------------------------------------
need=()
[ -x "$NGINX" ] || need+=(nginx)
need_cmds wrk curl openssl ss:iproute2
# Note: on a host without a policy-rc.d that denies it, Debian's nginx
# package starts its own service on port 80 when installed. This script
# never uses, stops or reconfigures that service.
install_tools "${need[@]}"

# ---- helpers ----------------------------------------------------------------
tmp=$(mktemp -d)
SUITD_PID=
NGINX_PID=
BG_PIDS=()
cleanup() {
	local p
	for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	if [ -n "$SUITD_PID" ]; then kill -TERM "$SUITD_PID" 2>/dev/null || true; fi
	if [ -n "$NGINX_PID" ]; then kill -QUIT "$NGINX_PID" 2>/dev/null || true; fi
	# shellcheck disable=SC2086 # empty PIDs vanish
	kill_after 50 $SUITD_PID $NGINX_PID
	backend_stop
	rm -rf "$tmp"
}
install_traps

# wrk output -> "req/s MiB/s requests seconds socket_errors timeouts non2xx"
wrk_parse() {
	awk '
	/ requests in / { n = $1; s = $4; sub(/,$/, "", s)
		if (s ~ /ms$/) { sub(/ms$/, "", s); s /= 1000 } else if (s ~ /m$/) { sub(/m$/, "", s); s *= 60 } else sub(/s$/, "", s) }
	/^Requests\/sec:/ { rps = $2 }
	/^Transfer\/sec:/ { v = $2; u = v; sub(/^[0-9.]+/, "", u); sub(/[A-Za-z]+$/, "", v)
		m = (u == "GB") ? v * 1024 : (u == "MB") ? v : (u == "KB") ? v / 1024 : v / 1048576 }
	/Socket errors:/ { gsub(/,/, ""); err = $4 + $6 + $8; to = $10 }
	/Non-2xx or 3xx responses:/ { bad = $NF }
	END { printf "%s %.1f %d %s %d %d %d\n", rps, m, n, s, err, to, bad }' "$1"
}

SUITD_CONF=$tmp/suitd.conf
suitd_log_level() {
	sed -i "s/^level = .*/level = $1/" "$SUITD_CONF"
	kill -HUP "$SUITD_PID"
	sleep 0.2
}

# Switch suitd to the contender's log level; no-op for nginx.
LEVEL_NOW=warning
contender_prepare() {
	local want=warning
	case $1 in
	nginx) return 0 ;;
	suitd+log) want=info ;;
	esac
	if [ "$want" != "$LEVEL_NOW" ]; then
		suitd_log_level "$want"
		LEVEL_NOW=$want
	fi
}

# ---- machine, build ---------------------------------------------------------
print_machine
echo "tools: $("$NGINX" -v 2>&1 | sed 's/^nginx version: //'), $(wrk -v 2>&1 | head -n1 | cut -d' ' -f1-2), curl $(curl -V | head -n1 | cut -d' ' -f2), $(openssl version | cut -d' ' -f1-2)"
build_suitd
echo "suitd: $("$SUITD" -V 2>&1 | head -n1), threads = 0 (one per core)"
print_tmpdir
backend_start

# ---- files --------------------------------------------------------------------
make_server_cert 2
mkdir -p "$tmp/www" "$tmp/db"
SMALL=$tmp/www/p64.bin
SMALL_BYTES=$((SMALL_MIB * 1048576))
head -c "$SMALL_BYTES" /dev/urandom >"$SMALL"
SMALL_SHA=$(sha256sum "$SMALL" | cut -d' ' -f1)

# ---- suitd ---------------------------------------------------------------------
SUITD_PORT=$(free_port) || die "no free port"
cat >"$SUITD_CONF" <<EOF
[server]
listen = 127.0.0.1:$SUITD_PORT
# The benchmarks measure capacity: no per-client rate limit.
rate_limit = 0
tls_cert = $tmp/cert.pem
tls_key = $tmp/key.pem
connection_limit = 1024
[storage]
$(storage_conf "$tmp/db/suitd.db")
$([ "$BACKEND" = sqlite ] && echo "mmap_size = ${MMAP_SIZE:-0}")
[payloads]
anonymous_download = on
max_size = 2G
[log]
level = warning
EOF
KEY=$(admin_key "$SUITD_CONF") || exit 1
start_suitd "$SUITD_CONF"
SUITD_BASE=https://127.0.0.1:$SUITD_PORT
wait_up "$SUITD_BASE/api/v1/status" "$SUITD_PID" -r 0-0 || { cat "$tmp/suitd.log" >&2; die "suitd did not start"; }

# Upload FILE (POST, streamed from the file: curl's --data-binary @FILE reads
# the file into memory and refuses 1 GiB); checks the SHA-256 suitd reports
# against EXPECT and prints curl's upload speed in bytes/s.
upload() {
	local out code sha
	out=$(curl -sk --max-time 300 -o "$tmp/upload.json" -w '%{http_code} %{speed_upload}' \
		-H "Authorization: Bearer $KEY" -H 'Content-Type: application/octet-stream' \
		-X POST -T "$1" "$SUITD_BASE/api/v1/payloads") || die "upload of $1 failed"
	code=${out%% *}
	sha=$(json_sha256 "$tmp/upload.json")
	[ "$code" = 201 ] || [ "$code" = 200 ] || die "upload of $1: HTTP $code: $(cat "$tmp/upload.json")"
	[ "$sha" = "$2" ] || die "upload of $1: suitd says sha256 $sha, expected $2"
	echo "${out#* }"
}
speed=$(upload "$SMALL" "$SMALL_SHA")
echo "uploaded 64 MiB to suitd at $(awk -v b="$speed" 'BEGIN { printf "%.0f", b / 1048576 }') MiB/s"

# ---- nginx ----------------------------------------------------------------------
NGINX_PORT=$(free_port "$SUITD_PORT") || die "no free port"
N=$tmp/nginx
write_nginx_conf 1 "    sendfile on;
    keepalive_requests 1000000;
    default_type application/octet-stream;" "        root $tmp/www;"
start_nginx
NGINX_BASE=https://127.0.0.1:$NGINX_PORT
wait_up "$NGINX_BASE/p64.bin" "$NGINX_PID" -r 0-0 || { cat "$N/logs/error.log" >&2; die "nginx did not start"; }

url_of() {
	case $1 in
	nginx) echo "$NGINX_BASE/$2.bin" ;;
	*) echo "$SUITD_BASE/device/v1/payloads/$3" ;;
	esac
}
CONTENDERS=(suitd nginx suitd+log)

# ---- checks ---------------------------------------------------------------------
for c in suitd nginx; do
	u=$(url_of "$c" p64 "$SMALL_SHA")
	tls=$(curl -skv --http1.1 -r 0-0 -o /dev/null "$u" 2>&1 | sed -n 's/^\* SSL connection using //p' | head -n1)
	full=$(curl -sk --http1.1 -o "$tmp/check.bin" -w '%{http_code}' --max-time 60 "$u")
	cmp -s "$tmp/check.bin" "$SMALL" || die "$c: GET $u returned other bytes (HTTP $full)"
	a=40000001
	code=$(curl -sk --http1.1 -o "$tmp/range.bin" -w '%{http_code} %{size_download}' \
		-H "Range: bytes=$a-$((a + RANGE_LEN - 1))" "$u")
	dd if="$SMALL" of="$tmp/expect.bin" iflag=skip_bytes,count_bytes skip="$a" count="$RANGE_LEN" status=none
	cmp -s "$tmp/expect.bin" "$tmp/range.bin" || die "$c: range bytes differ"
	[ "$code" = "206 $RANGE_LEN" ] || die "$c: range answered '$code', expected '206 $RANGE_LEN'"
	printf 'check %-6s full GET 200 and same bytes; Range bytes=%d-%d -> %s bytes, same bytes; TLS %s\n' \
		"$c" "$a" "$((a + RANGE_LEN - 1))" "$code" "$tls"
done
rm -f "$tmp/check.bin" "$tmp/range.bin" "$tmp/expect.bin"

# Warm-up (not measured): one full GET and a 2 s wrk each.
for c in suitd nginx; do
	u=$(url_of "$c" p64 "$SMALL_SHA")
	curl -sk -o /dev/null "$u"
	wrk -t2 -c8 -d2s --timeout 30s "$u" >/dev/null 2>&1 || true
done

declare -A A_SPEEDS A_TICKS A_BYTES B_MIBS B_TICKS B_GIB B_ERR C_RPS C_MIBS C_TICKS C_REQS C_ERR
for c in "${CONTENDERS[@]}"; do
	A_SPEEDS[$c]='' A_TICKS[$c]=0 A_BYTES[$c]=0 B_MIBS[$c]='' B_TICKS[$c]=0 B_GIB[$c]=0 B_ERR[$c]=''
	C_RPS[$c]='' C_MIBS[$c]='' C_TICKS[$c]=0 C_REQS[$c]=0 C_ERR[$c]=''
done

# ---- (a) single client ------------------------------------------------------------
echo
echo "(a) 1 client, GET 64 MiB, curl x$CURL_RUNS per contender (MiB/s, server CPU ticks of 1/$HZ s)"
for i in $(seq 1 "$CURL_RUNS"); do
	line="  run $i:"
	for c in "${CONTENDERS[@]}"; do
		contender_prepare "$c"
		u=$(url_of "$c" p64 "$SMALL_SHA")
		# shellcheck disable=SC2046
		t0=$(cpu_ticks $(server_pids "$c"))
		out=$(curl -sk --http1.1 -o /dev/null --max-time 120 -w '%{http_code} %{size_download} %{speed_download}' "$u")
		# shellcheck disable=SC2046
		t1=$(cpu_ticks $(server_pids "$c"))
		read -r code size bps <<<"$out"
		if [ "$code" != 200 ] || [ "$size" != "$SMALL_BYTES" ]; then die "(a) $c: HTTP $code, $size bytes"; fi
		mib=$(awk -v b="$bps" 'BEGIN { printf "%.1f", b / 1048576 }')
		A_SPEEDS[$c]+=" $mib"
		A_TICKS[$c]=$((A_TICKS[$c] + t1 - t0))
		A_BYTES[$c]=$((A_BYTES[$c] + size))
		line+=" $c $mib ($((t1 - t0)));"
	done
	echo "$line"
done

# ---- (b) eight clients ---------------------------------------------------------------
echo
echo "(b) 8 clients, wrk -t2 -c8 -d${WRK_SECONDS}s --timeout 30s on the 64 MiB payload, x$WRK_RUNS (MiB/s)"
for i in $(seq 1 "$WRK_RUNS"); do
	line="  run $i:"
	for c in "${CONTENDERS[@]}"; do
		contender_prepare "$c"
		u=$(url_of "$c" p64 "$SMALL_SHA")
		# shellcheck disable=SC2046
		t0=$(cpu_ticks $(server_pids "$c"))
		timeout $((WRK_SECONDS + 60)) wrk -t2 -c8 -d"${WRK_SECONDS}s" --timeout 30s "$u" >"$tmp/wrk.txt" 2>&1 ||
			{ cat "$tmp/wrk.txt" >&2; die "(b) wrk failed for $c"; }
		# shellcheck disable=SC2046
		t1=$(cpu_ticks $(server_pids "$c"))
		read -r rps mibs n secs err to bad <<<"$(wrk_parse "$tmp/wrk.txt")"
		B_MIBS[$c]+=" $mibs"
		B_TICKS[$c]=$((B_TICKS[$c] + t1 - t0))
		B_GIB[$c]=$(awk -v a="${B_GIB[$c]}" -v m="$mibs" -v s="$secs" 'BEGIN { print a + m * s / 1024 }')
		[ $((err + to + bad)) -gt 0 ] && B_ERR[$c]+=" run$i:errors=$err,timeouts=$to,non2xx=$bad"
		line+=" $c $mibs ($n req, err $err, timeout $to, non-2xx $bad);"
	done
	echo "$line"
done

# ---- (c) random ranges ----------------------------------------------------------------
echo
echo "(c) ~$RANGE_TOTAL random 128 KiB ranges, wrk -t2 -c8 -s bench/ranges.lua, x$RANGE_RUNS (req/s, MiB/s)"
for i in $(seq 1 "$RANGE_RUNS"); do
	line="  run $i (seed $i):"
	for c in "${CONTENDERS[@]}"; do
		contender_prepare "$c"
		u=$(url_of "$c" p64 "$SMALL_SHA")
		# shellcheck disable=SC2046
		t0=$(cpu_ticks $(server_pids "$c"))
		timeout 120 wrk -t2 -c8 -d60s --timeout 30s -s "$ROOT/bench/ranges.lua" "$u" \
			-- "$SMALL_BYTES" "$RANGE_LEN" "$RANGE_TOTAL" "$i" >"$tmp/wrk.txt" 2>&1 ||
			{ cat "$tmp/wrk.txt" >&2; die "(c) wrk failed for $c"; }
		# shellcheck disable=SC2046
		t1=$(cpu_ticks $(server_pids "$c"))
		read -r rps mibs n secs err to bad <<<"$(wrk_parse "$tmp/wrk.txt")"
		# A 200 with the whole file instead of a 206 would show as far more bytes per request.
		per=$(awk -v m="$mibs" -v r="$rps" 'BEGIN { printf "%.0f", (r > 0 ? m * 1048576 / r : 0) }')
		[ "$per" -lt $((RANGE_LEN + 4096)) ] || die "(c) $c: $per bytes per response: not 128 KiB ranges"
		C_RPS[$c]+=" $rps"
		C_MIBS[$c]+=" $mibs"
		C_TICKS[$c]=$((C_TICKS[$c] + t1 - t0))
		C_REQS[$c]=$((C_REQS[$c] + n))
		[ $((err + to + bad)) -gt 0 ] && C_ERR[$c]+=" run$i:errors=$err,timeouts=$to,non2xx=$bad"
		line+=" $c $rps / $mibs ($n req in ${secs}s, err $err, timeout $to, non-2xx $bad);"
	done
	echo "$line"
done
contender_prepare suitd
ACCESS_LINES=$(grep -c ' /device/v1/payloads/' "$tmp/suitd.log" || true)
echo "  suitd access-log lines written while log=info: $ACCESS_LINES"
[ "$ACCESS_LINES" -gt 0 ] || echo "  WARNING: no access-log lines: the SIGHUP switch to level = info did not take"

# ---- (d) memory with a 1 GiB payload ------------------------------------------------------
# VmRSS = RssAnon (heap, stacks: memory suitd owns) + RssFile (pages of
# mapped files; SQLite's mmap_size maps the database, those pages are the
# kernel's page cache, shared, counted in every process that maps them).
# There is no per-kind peak in /proc, so RssAnon/RssFile peaks are sampled.
mem() { # prints "VmHWM VmRSS RssAnon RssFile" in KiB
	awk '/^VmHWM/ { h = $2 } /^VmRSS/ { r = $2 } /^RssAnon/ { a = $2 } /^RssFile/ { f = $2 }
		END { print h, r, a, f }' "/proc/$SUITD_PID/status"
}
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
D_LINE=
if [ "$BIG" = 1 ]; then
	echo
	echo "(d) suitd memory: 8 parallel curls of a 1 GiB payload"
	read -r h r a f <<<"$(mem)"
	echo "  after (a)-(c): VmHWM $(mib "$h") MiB; now VmRSS $(mib "$r") = RssAnon $(mib "$a") + RssFile $(mib "$f") MiB (+ shmem)"
	BIGF=$tmp/p1g.bin
	for _ in $(seq 1 16); do cat "$SMALL"; done >"$BIGF"
	BIG_BYTES=$((1024 * 1048576))
	BIG_SHA=$(sha256sum "$BIGF" | cut -d' ' -f1)
	t0=$(cpu_ticks "$SUITD_PID")
	speed=$(upload "$BIGF" "$BIG_SHA")
	t1=$(cpu_ticks "$SUITD_PID")
	read -r h r a f <<<"$(mem)"
	echo "  uploaded 1 GiB at $(awk -v b="$speed" 'BEGIN { printf "%.0f", b / 1048576 }') MiB/s, suitd CPU $(awk -v t=$((t1 - t0)) -v hz="$HZ" 'BEGIN { printf "%.2f", t / hz }') s"
	echo "  after the upload: VmHWM $(mib "$h") MiB; now VmRSS $(mib "$r") = RssAnon $(mib "$a") + RssFile $(mib "$f") MiB"
	rm -f "$BIGF" # suitd has its own copy; keep the page cache for the database
	{ echo 5 >"/proc/$SUITD_PID/clear_refs"; } 2>/dev/null && reset=yes || reset=no
	u=$(url_of suitd p1g "$BIG_SHA")
	start=$(date +%s.%N)
	t0=$(cpu_ticks "$SUITD_PID")
	BG_PIDS=()
	for k in $(seq 1 8); do
		curl -sk --http1.1 -o /dev/null --max-time 180 -w '%{http_code} %{size_download}' "$u" >"$tmp/big$k.txt" 2>&1 &
		BG_PIDS+=($!)
	done
	max_r=0 max_a=0 max_f=0
	for _ in $(seq 1 2000); do # 0.1 s steps, bounded by curl --max-time anyway
		alive=0
		for p in "${BG_PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
		read -r h r a f <<<"$(mem)"
		[ "$r" -gt "$max_r" ] && max_r=$r
		[ "$a" -gt "$max_a" ] && max_a=$a
		[ "$f" -gt "$max_f" ] && max_f=$f
		[ "$alive" = 0 ] && break
		sleep 0.1
	done
	for p in "${BG_PIDS[@]}"; do wait "$p" || true; done
	BG_PIDS=()
	end=$(date +%s.%N)
	t1=$(cpu_ticks "$SUITD_PID")
	for k in $(seq 1 8); do
		[ "$(cat "$tmp/big$k.txt")" = "200 $BIG_BYTES" ] || die "(d) download $k: $(cat "$tmp/big$k.txt")"
	done
	read -r h r a f <<<"$(mem)"
	agg=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.0f", 8 * 1024 / (e - s) }')
	cpug=$(awk -v t=$((t1 - t0)) -v hz="$HZ" 'BEGIN { printf "%.2f", t / hz / 8 }')
	v_hwm=$([ "$h" -lt $((64 * 1024)) ] && echo "ok" || echo "MISSED")
	v_anon=$([ "$max_a" -lt $((64 * 1024)) ] && echo "ok" || echo "MISSED")
	echo "  8 x 1 GiB in $(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", e - s }') s, all 200 with 1 GiB: aggregate $agg MiB/s, suitd CPU-s per GiB $cpug (VmHWM reset before: $reset)"
	D_LINE="(d) suitd during 8 x 1 GiB downloads: VmHWM $(mib "$h") MiB (goal < 64 MiB: $v_hwm); sampled peaks: VmRSS $(mib "$max_r"), RssAnon $(mib "$max_a") ($v_anon), RssFile $(mib "$max_f") MiB; after: VmRSS $(mib "$r") = RssAnon $(mib "$a") + RssFile $(mib "$f") MiB"
fi

# ---- table ------------------------------------------------------------------------------------
cpu_per_gib() { awk -v t="$1" -v hz="$HZ" -v g="$2" 'BEGIN { printf "%.2f", (g > 0 ? t / hz / g : 0) }'; }
goal() { awk -v r="$1" -v g="$2" 'BEGIN { printf "%s", (r >= g ? "ok" : "MISSED") }'; }
declare -A AM BM CR CM ACPU BCPU CCPU
for c in "${CONTENDERS[@]}"; do
	# shellcheck disable=SC2086
	AM[$c]=$(median ${A_SPEEDS[$c]})
	# shellcheck disable=SC2086
	BM[$c]=$(median ${B_MIBS[$c]})
	# shellcheck disable=SC2086
	CR[$c]=$(median ${C_RPS[$c]})
	# shellcheck disable=SC2086
	CM[$c]=$(median ${C_MIBS[$c]})
	ACPU[$c]=$(cpu_per_gib "${A_TICKS[$c]}" "$(awk -v b="${A_BYTES[$c]}" 'BEGIN { print b / 1073741824 }')")
	BCPU[$c]=$(cpu_per_gib "${B_TICKS[$c]}" "${B_GIB[$c]}")
	CCPU[$c]=$(awk -v t="${C_TICKS[$c]}" -v hz="$HZ" -v n="${C_REQS[$c]}" 'BEGIN { printf "%.0f", (n > 0 ? t / hz / n * 1e6 : 0) }')
done
row() { # label suitd nginx suitd+log goal-threshold(or -) lower-is-better(0/1)
	local r rl g=""
	r=$(ratio "$2" "$3")
	rl=$(ratio "$4" "$3")
	[ "$5" != - ] && g="$(goal "$r" "$5") (>= $5)"
	printf '%-44s %9s %9s %7s  %-14s %11s %7s\n' "$1" "$2" "$3" "$r" "$g" "$4" "$rl"
}
echo
echo "RESULTS (BACKEND=$BACKEND; suitd: [log] level = warning, no access log; suitd+log: level = info, access log to a file)"
printf '%-44s %9s %9s %7s  %-14s %11s %7s\n' "metric" "suitd" "nginx" "s/n" "goal" "suitd+log" "s+l/n"
row "(a) 1 client 64 MiB, MiB/s, median of $CURL_RUNS" "${AM[suitd]}" "${AM[nginx]}" "${AM[suitd+log]}" 1.0
row "(a) server CPU-s per GiB" "${ACPU[suitd]}" "${ACPU[nginx]}" "${ACPU[suitd+log]}" -
row "(b) 8 clients 64 MiB, MiB/s, median of $WRK_RUNS" "${BM[suitd]}" "${BM[nginx]}" "${BM[suitd+log]}" 1.0
row "(b) server CPU-s per GiB" "${BCPU[suitd]}" "${BCPU[nginx]}" "${BCPU[suitd+log]}" -
row "(c) 128 KiB ranges, req/s, median of $RANGE_RUNS" "${CR[suitd]}" "${CR[nginx]}" "${CR[suitd+log]}" 0.8
row "(c) 128 KiB ranges, MiB/s (wrk Transfer/sec)" "${CM[suitd]}" "${CM[nginx]}" "${CM[suitd+log]}" -
row "(c) server CPU-us per range request" "${CCPU[suitd]}" "${CCPU[nginx]}" "${CCPU[suitd+log]}" -
[ -n "$D_LINE" ] && echo "$D_LINE"
echo "figure: download_1_mib_s ${AM[suitd]} MiB/s, 64 MiB, 1 client (a)"
echo "figure: download_8_mib_s ${BM[suitd]} MiB/s, 64 MiB, 8 clients (b)"
echo "figure: ranges_per_s ${CR[suitd]} req/s, random 128 KiB ranges (c)"
errs=0
for c in "${CONTENDERS[@]}"; do
	if [ -n "${B_ERR[$c]}${C_ERR[$c]}" ]; then
		echo "wrk errors, $c:${B_ERR[$c]:+ (b)${B_ERR[$c]}}${C_ERR[$c]:+ (c)${C_ERR[$c]}}"
		errs=1
	fi
done
[ "$errs" = 0 ] && echo "wrk: no socket errors, timeouts or non-2xx responses in (b) and (c)"
notices=$(grep -c 'libmicrohttpd' "$tmp/suitd.log" || true)
echo "suitd log: $notices libmicrohttpd messages (logged at notice: only while level = info); nginx error log: $(grep -c . "$N/logs/error.log" || true) lines"
sed 's/^/  nginx: /' "$N/logs/error.log" | head -n5
if [ "$notices" -gt 0 ]; then
	# shellcheck disable=SC2016 # literal backquotes from MHD's message
	grep 'libmicrohttpd' "$tmp/suitd.log" | sed 's/`[^`]*'"'"'/`URL'"'"'/' | sort | uniq -c | sort -rn | head -n5
fi
grep -v 'libmicrohttpd\|/device/v1/payloads/\|/api/v1/payloads' "$tmp/suitd.log" | sort | uniq -c | sed 's/^/  suitd: /' | head -n5 || true
echo "(client and server share the same $(nproc) cores; ratios are suitd/nginx)"
