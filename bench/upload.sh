#!/bin/bash
# Upload benchmark: a 1 GiB payload over TLS on loopback, to suitd
# (POST /api/v1/payloads) with [storage] synchronous = normal and = full,
# and to nginx (WebDAV PUT, Debian's package, 1 worker) as the reference,
# RUNS rounds, the three alternating to share the noise. Each contender
# starts empty (fresh database, fresh suitd; an empty nginx folder), takes
# upload 1, then a second, different 1 GiB payload (upload 2) while it
# holds the first. Reports the client's upload speed (median), the ratio
# suitd/nginx, and the server's CPU seconds (utime+stime, all threads or
# processes) per GiB.
#
# The contenders do not do the same work: nginx writes each byte once to a
# temporary file and renames it, without fsync. suitd writes each byte
# twice (SQLite's WAL, then the checkpoint into the database file), syncs
# (at each checkpoint; with synchronous = full also at each commit), and
# hashes it.
#
# Usage: bench/upload.sh         (about 3 minutes on 2 cores)
# Knobs (environment): RUNS=3, SIZE_MIB=1024 (a multiple of 64),
# NGINX=/usr/sbin/nginx. TMPDIR is honoured; the temp dir (files,
# databases) is removed and the servers stopped at exit. Never touches the
# system nginx service or /etc/nginx.
#
# The body is streamed from the file with `curl -T FILE` (curl's
# --data-binary @FILE reads the whole file into memory first and refuses a
# 1 GiB file: "option --data-binary: out of memory").
set -euo pipefail

. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=${RUNS:-3}
SIZE_MIB=${SIZE_MIB:-1024}
NGINX=${NGINX:-/usr/sbin/nginx}
if [ $((SIZE_MIB % 64)) != 0 ] || [ "$SIZE_MIB" -le 0 ]; then
	echo "SIZE_MIB must be a positive multiple of 64" >&2
	exit 1
fi

need=()
[ -x "$NGINX" ] || need+=(nginx)
need_cmds curl openssl ss:iproute2
install_tools "${need[@]}"

tmp=$(mktemp -d)
SUITD_PID=
NGINX_PID=
stop_suitd() {
	[ -n "$SUITD_PID" ] || return 0
	kill -TERM "$SUITD_PID" 2>/dev/null || true
	kill_after 100 "$SUITD_PID"
	wait "$SUITD_PID" 2>/dev/null || true
	SUITD_PID=
}
cleanup() {
	stop_suitd
	if [ -n "$NGINX_PID" ]; then
		kill -TERM "$NGINX_PID" 2>/dev/null || true
		kill_after 100 "$NGINX_PID"
		wait "$NGINX_PID" 2>/dev/null || true
	fi
	backend_stop
	rm -rf "$tmp"
}
install_traps

print_machine
build_suitd
echo "suitd: $("$SUITD" -V 2>&1 | head -n1), $("$NGINX" -v 2>&1 | sed 's/^nginx version: //'), curl $(curl -V | head -n1 | cut -d' ' -f2)"
print_tmpdir
backend_start
DB=$tmp/db/suitd.db

make_server_cert 2
head -c 64M /dev/urandom >"$tmp/r64.bin"
FILE=$tmp/payload.bin
for _ in $(seq 1 $((SIZE_MIB / 64))); do cat "$tmp/r64.bin"; done >"$FILE"
rm -f "$tmp/r64.bin"
BYTES=$((SIZE_MIB * 1048576))
SHA=$(sha256sum "$FILE" | cut -d' ' -f1)
echo "payload: $SIZE_MIB MiB (64 MiB of random bytes repeated), sha256 $SHA"
# The second payload: one byte in front, the last byte dropped.
FILE2=$tmp/payload2.bin
{
	printf x
	head -c $((BYTES - 1)) "$FILE"
} >"$FILE2"
SHA2=$(sha256sum "$FILE2" | cut -d' ' -f1)

# ---- nginx: PUT into $N/www, bodies buffered to a temp file on the same
# file system and renamed into place.
N=$tmp/nginx
mkdir -p "$N/www"
# shellcheck disable=SC2119 # no port to avoid
NGINX_PORT=$(free_port) || die "no free port"
write_nginx_conf 1 "    client_max_body_size 0;" \
	"        root $N/www;
        location / { dav_methods PUT; create_full_put_path on; }"
echo up >"$N/www/index.html" # for wait_up; each round empties www/
start_nginx
wait_up "https://127.0.0.1:$NGINX_PORT/" "$NGINX_PID" ||
	{ cat "$N/logs/error.log" >&2; die "nginx did not start"; }

# Upload FILE (digest EXPECT) to URL with curl METHOD, the CPU of PIDS
# measured; KEY (may be empty) as bearer. Sets R_BPS (curl's bytes/s) and
# R_TICKS. Checks the answer: suitd's JSON digest, or nginx's stored file.
R_BPS= R_TICKS=
put_file() {
	local file=$1 expect=$2 method=$3 url=$4 key=$5 pids=$6 out code bps size t0 t1 hdr=()
	[ -n "$key" ] && hdr=(-H "Authorization: Bearer $key" -H 'Content-Type: application/octet-stream')
	sync # the temp files and earlier uploads should not be written back during this one
	# shellcheck disable=SC2086 # one PID per word
	t0=$(cpu_ticks $pids)
	out=$(curl -sk --max-time 600 -o "$tmp/upload.json" -w '%{http_code} %{speed_upload} %{size_upload}' \
		"${hdr[@]}" -X "$method" -T "$file" "$url") || die "curl failed"
	# shellcheck disable=SC2086
	t1=$(cpu_ticks $pids)
	read -r code bps size <<<"$out"
	[ "$size" = "$BYTES" ] || die "curl sent $size bytes, expected $BYTES"
	case $code in
	201 | 204) ;;
	*) die "$url: HTTP $code: $(head -c 300 "$tmp/upload.json")" ;;
	esac
	if [ -n "$key" ]; then
		[ "$(json_sha256 "$tmp/upload.json")" = "$expect" ] || die "suitd: wrong sha256 for $file"
	fi
	R_BPS=$bps R_TICKS=$((t1 - t0))
}

# Fresh suitd on a fresh database with synchronous = SYNC: both uploads.
# Sets R_BPS1/R_TICKS1, R_BPS2/R_TICKS2, R_DB (database folder bytes).
# Not called in $(...): suitd must be started by this shell so that the
# EXIT trap can stop it.
suitd_round() {
	local sync=$1 port conf key
	stop_suitd
	backend_reset
	# shellcheck disable=SC2119 # no port to avoid
	port=$(free_port) || die "no free port"
	conf=$tmp/suitd.conf
	cat >"$conf" <<CONF
[server]
listen = 127.0.0.1:$port
# The benchmarks measure capacity: no per-client rate limit.
rate_limit = 0
tls_cert = $tmp/cert.pem
tls_key = $tmp/key.pem
[storage]
$(storage_conf "$DB" "$sync")
[payloads]
max_size = 2G
[log]
level = warning
CONF
	key=$(admin_key "$conf") || exit 1
	start_suitd "$conf"
	wait_up "https://127.0.0.1:$port/api/v1/status" "$SUITD_PID" ||
		{ cat "$tmp/suitd.log" >&2; die "suitd did not start"; }
	put_file "$FILE" "$SHA" POST "https://127.0.0.1:$port/api/v1/payloads" "$key" "$SUITD_PID"
	R_BPS1=$R_BPS R_TICKS1=$R_TICKS
	put_file "$FILE2" "$SHA2" POST "https://127.0.0.1:$port/api/v1/payloads" "$key" "$SUITD_PID"
	R_BPS2=$R_BPS R_TICKS2=$R_TICKS
	R_DB=$(db_bytes)
	stop_suitd
}

nginx_round() {
	local base=https://127.0.0.1:$NGINX_PORT pids f
	rm -rf "${N:?}/www/"*
	pids=$(nginx_pids)
	put_file "$FILE" "$SHA" PUT "$base/p1.bin" "" "$pids"
	R_BPS1=$R_BPS R_TICKS1=$R_TICKS
	put_file "$FILE2" "$SHA2" PUT "$base/p2.bin" "" "$pids"
	R_BPS2=$R_BPS R_TICKS2=$R_TICKS
	for f in 1 2; do
		[ "$(stat -c %s "$N/www/p$f.bin")" = "$BYTES" ] || die "nginx stored a short p$f.bin"
	done
	[ "$(sha256sum "$N/www/p2.bin" | cut -d' ' -f1)" = "$SHA2" ] || die "nginx stored a wrong p2.bin"
	R_DB=$(du -cb "$N/www" | awk 'END { print $1 }')
}

mbs_of() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'; }
cpu_of() { awk -v t="$1" -v hz="$HZ" -v n="$BYTES" 'BEGIN { printf "%.2f", t / hz / (n / 1073741824) }'; }

CONTENDERS=(normal full nginx)
# PostgreSQL: synchronous_commit = on only (synchronous is SQLite's key).
[ "$BACKEND" = postgresql ] && CONTENDERS=(full nginx)
declare -A SPEEDS CPUS
for c in normal full nginx; do SPEEDS[$c.1]='' CPUS[$c.1]='' SPEEDS[$c.2]='' CPUS[$c.2]=''; done
echo
echo "$RUNS rounds; in each, every contender starts empty, takes upload 1, then upload 2 while"
echo "it holds upload 1 (MB/s = 10^6 bytes/s; CPU = the server's, per GiB)"
for i in $(seq 1 "$RUNS"); do
	for c in "${CONTENDERS[@]}"; do
		case $c in
		nginx) nginx_round ;;
		*) suitd_round "$c" ;;
		esac
		m1=$(mbs_of "$R_BPS1") c1=$(cpu_of "$R_TICKS1") m2=$(mbs_of "$R_BPS2") c2=$(cpu_of "$R_TICKS2")
		SPEEDS[$c.1]+=" $m1" CPUS[$c.1]+=" $c1" SPEEDS[$c.2]+=" $m2" CPUS[$c.2]+=" $c2"
		printf '  round %d %-6s upload 1 %7s MB/s (CPU-s/GiB %5s), upload 2 %7s MB/s (%5s); stored %d MiB\n' \
			"$i" "$c" "$m1" "$c1" "$m2" "$c2" $((R_DB / 1048576))
	done
done

echo
echo "RESULTS (BACKEND=$BACKEND): $SIZE_MIB MiB uploads over TLS 1.3 on loopback (client and servers share the same $(nproc) cores)"
printf '%-30s %9s %9s %9s %9s %7s %7s  %s\n' "upload" "normal" "full" "nginx" "s/n" "normal" "full" "suitd goal >= 200 MB/s"
printf '%-30s %9s %9s %9s %9s %7s %7s\n' "" "MB/s" "MB/s" "MB/s" "(normal)" "CPU-s" "CPU-s"
for k in 1 2; do
	# shellcheck disable=SC2086
	mn=$(median ${SPEEDS[normal.$k]}) mf=$(median ${SPEEDS[full.$k]}) mx=$(median ${SPEEDS[nginx.$k]})
	# shellcheck disable=SC2086
	cn=$(median ${CPUS[normal.$k]}) cf=$(median ${CPUS[full.$k]}) cx=$(median ${CPUS[nginx.$k]})
	what=$([ "$k" = 1 ] && echo "1: into empty storage" || echo "2: holding $SIZE_MIB MiB")
	printf '%-30s %9.1f %9.1f %9.1f %9s %7s %7s  %s\n' "$what (median of $RUNS)" "$mn" "$mf" "$mx" \
		"$(ratio "$mn" "$mx")" "$cn" "$cf" \
		"$(awk -v a="$mn" -v b="$mf" 'BEGIN { print (a >= 200 && b >= 200 ? "ok" : "MISSED") }')"
	echo "  nginx CPU-s per GiB: $cx"
	echo "figure: upload${k}_mb_s $mf MB/s, upload $what, synchronous = full / synchronous_commit = on"
done
[ -s "$N/logs/error.log" ] && sed 's/^/  nginx: /' "$N/logs/error.log" | head -n5
exit 0
