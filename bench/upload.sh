#!/bin/bash
# Upload benchmark: POST a 1 GiB payload to suitd over TLS on loopback,
# RUNS times with [storage] synchronous = normal and RUNS times with
# synchronous = full (alternating, to share noise), each on a fresh database
# and a freshly started suitd. Reports curl's upload speed (median) and
# suitd's CPU seconds (utime+stime, all threads) per GiB uploaded.
#
# Usage: bench/upload.sh         (about 1.5 minutes on 2 cores)
# Knobs (environment): RUNS=3, SIZE_MIB=1024 (a multiple of 64). TMPDIR is
# honoured; the temp dir (file, databases) is removed and suitd stopped at exit.
#
# The body is streamed from the file with `curl -X POST -T FILE` (curl's
# --data-binary @FILE reads the whole file into memory first and refuses a
# 1 GiB file: "option --data-binary: out of memory").
set -euo pipefail

. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=${RUNS:-3}
SIZE_MIB=${SIZE_MIB:-1024}
if [ $((SIZE_MIB % 64)) != 0 ] || [ "$SIZE_MIB" -le 0 ]; then
	echo "SIZE_MIB must be a positive multiple of 64" >&2
	exit 1
fi

need=()
need_cmds curl openssl ss:iproute2
install_tools "${need[@]}"

tmp=$(mktemp -d)
SUITD_PID=
stop_suitd() {
	[ -n "$SUITD_PID" ] || return 0
	kill -TERM "$SUITD_PID" 2>/dev/null || true
	kill_after 100 "$SUITD_PID"
	wait "$SUITD_PID" 2>/dev/null || true
	SUITD_PID=
}
cleanup() {
	stop_suitd
	rm -rf "$tmp"
}
install_traps

print_machine
build_suitd
echo "suitd: $("$SUITD" -V 2>&1 | head -n1), curl $(curl -V | head -n1 | cut -d' ' -f2)"
print_tmpdir

make_server_cert 2
head -c 64M /dev/urandom >"$tmp/r64.bin"
FILE=$tmp/payload.bin
for _ in $(seq 1 $((SIZE_MIB / 64))); do cat "$tmp/r64.bin"; done >"$FILE"
rm -f "$tmp/r64.bin"
BYTES=$((SIZE_MIB * 1048576))
SHA=$(sha256sum "$FILE" | cut -d' ' -f1)
echo "payload: $SIZE_MIB MiB (64 MiB of random bytes repeated), sha256 $SHA"

# One upload on a fresh database with the given synchronous mode; sets
# R_BPS (curl's bytes/s), R_TICKS (suitd CPU) and R_DB (database bytes).
# Not called in $(...): suitd must be started by this shell so that the
# EXIT trap can stop it.
one_upload() {
	local sync=$1 port conf key out code sha t0 t1 dbsize
	stop_suitd
	rm -rf "$tmp/db"
	mkdir -p "$tmp/db"
	# shellcheck disable=SC2119 # no port to avoid
	port=$(free_port) || die "no free port"
	conf=$tmp/suitd.conf
	cat >"$conf" <<EOF
[server]
listen = 127.0.0.1:$port
# The benchmarks measure capacity: no per-client rate limit.
rate_limit = 0
tls_cert = $tmp/cert.pem
tls_key = $tmp/key.pem
connection_limit = 1024
[storage]
database = $tmp/db/suitd.db
synchronous = $sync
[payloads]
anonymous_download = on
max_size = 2G
[log]
level = warning
EOF
	key=$(admin_key "$conf") || exit 1
	start_suitd "$conf"
	for _ in $(seq 1 100); do
		kill -0 "$SUITD_PID" 2>/dev/null || { cat "$tmp/suitd.log" >&2; die "suitd exited"; }
		code=$(curl -sk -o /dev/null -w '%{http_code}' --max-time 2 "https://127.0.0.1:$port/api/v1/status" || true)
		[ "$code" != 000 ] && break
		sleep 0.1
	done
	[ "$code" != 000 ] || die "suitd did not start"
	sync # the temp file and the new database should not be written back during the upload
	t0=$(cpu_ticks "$SUITD_PID")
	out=$(curl -sk --max-time 600 -o "$tmp/upload.json" -w '%{http_code} %{speed_upload} %{size_upload}' \
		-H "Authorization: Bearer $key" -H 'Content-Type: application/octet-stream' \
		-X POST -T "$FILE" "https://127.0.0.1:$port/api/v1/payloads") || die "curl failed"
	t1=$(cpu_ticks "$SUITD_PID")
	read -r code bps size <<<"$out"
	sha=$(json_sha256 "$tmp/upload.json")
	[ "$code" = 201 ] || die "HTTP $code: $(cat "$tmp/upload.json")"
	[ "$size" = "$BYTES" ] || die "curl sent $size bytes, expected $BYTES"
	[ "$sha" = "$SHA" ] || die "suitd says sha256 $sha, expected $SHA"
	dbsize=$(du -cb "$tmp/db" | awk 'END { print $1 }')
	stop_suitd
	R_BPS=$bps R_TICKS=$((t1 - t0)) R_DB=$dbsize
}

declare -A SPEEDS CPUS
SPEEDS[normal]='' SPEEDS[full]='' CPUS[normal]='' CPUS[full]=''
echo
echo "$RUNS runs per mode, fresh database and fresh suitd each (MB/s = 10^6 bytes/s)"
for i in $(seq 1 "$RUNS"); do
	for sync in normal full; do
		one_upload "$sync"
		bps=$R_BPS ticks=$R_TICKS dbsize=$R_DB
		mbs=$(awk -v b="$bps" 'BEGIN { printf "%.1f", b / 1e6 }')
		cpu=$(awk -v t="$ticks" -v hz="$HZ" -v n="$BYTES" 'BEGIN { printf "%.2f", t / hz / (n / 1073741824) }')
		SPEEDS[$sync]+=" $mbs"
		CPUS[$sync]+=" $cpu"
		printf '  run %d synchronous=%-6s %7s MB/s  suitd CPU-s per GiB %5s  database dir after %d MiB\n' \
			"$i" "$sync" "$mbs" "$cpu" $((dbsize / 1048576))
	done
done

echo
echo "RESULTS: POST $SIZE_MIB MiB to suitd (TLS 1.3 on loopback; client and server share the same $(nproc) cores)"
printf '%-22s %10s %10s %20s  %s\n' "synchronous" "MB/s" "MiB/s" "suitd CPU-s per GiB" "goal >= 200 MB/s"
for sync in normal full; do
	# shellcheck disable=SC2086
	m=$(median ${SPEEDS[$sync]})
	# shellcheck disable=SC2086
	c=$(median ${CPUS[$sync]})
	printf '%-22s %10.1f %10.1f %20s  %s\n' "$sync (median of $RUNS)" "$m" \
		"$(awk -v m="$m" 'BEGIN { print m * 1e6 / 1048576 }')" "$c" \
		"$(awk -v m="$m" 'BEGIN { print (m >= 200 ? "ok" : "MISSED") }')"
done
