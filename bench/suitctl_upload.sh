#!/bin/bash
# suitctl upload benchmark: `suitctl payload upload` of a SIZE_MIB payload
# against `curl -T` (the same bytes, the same request) to the same suitd in
# the same run, RUNS rounds, the two alternating who goes first. Between
# uploads the payload is deleted, so each is a new 201 upload of the whole
# file. Reports each client's rate (bytes / wall-clock seconds of the whole
# process, start to exit, as /usr/bin/time sees it) and peak RSS, the
# ratio suitctl/curl (goal >= 0.95) and suitctl's peak RSS (goal < 32 MiB:
# streamed, never loaded whole).
#
# Usage: bench/suitctl_upload.sh     (about 1 minute per round on 2 cores)
# Knobs (environment): RUNS=3, SIZE_MIB=1024, BUILD=build. TMPDIR is
# honoured; the temp dir and suitd are removed/stopped at exit.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=${RUNS:-3}
SIZE_MIB=${SIZE_MIB:-1024}

need=()
need_cmds curl openssl ss:iproute2 /usr/bin/time:time
install_tools "${need[@]}"

tmp=$(mktemp -d)
SUITD_PID=
cleanup() {
	if [ -n "$SUITD_PID" ]; then
		kill -TERM "$SUITD_PID" 2>/dev/null || true
		kill_after 100 "$SUITD_PID"
		wait "$SUITD_PID" 2>/dev/null || true
	fi
	backend_stop
	rm -rf "$tmp"
}
install_traps

print_machine
build_suitd
make ${BUILD:+BUILD=$BUILD} "${BUILD:-build}/suitctl" >"$tmp/make.log" 2>&1 ||
	{ cat "$tmp/make.log" >&2; die "make failed"; }
SUITCTL=$ROOT/${BUILD:-build}/suitctl
echo "suitd: $("$SUITD" -V 2>&1 | head -n1), curl $(curl -V | head -n1 | cut -d' ' -f2)"
print_tmpdir
backend_start

make_server_cert 2
FILE=$tmp/payload.bin
head -c $((SIZE_MIB * 1048576)) /dev/urandom >"$FILE"
BYTES=$((SIZE_MIB * 1048576))
SHA=$(sha256sum "$FILE" | cut -d' ' -f1)
echo "payload: $SIZE_MIB MiB of random bytes, sha256 $SHA"

# shellcheck disable=SC2119 # no port to avoid
port=$(free_port) || die "no free port"
conf=$tmp/suitd.conf
cat >"$conf" <<CONF
[server]
listen = 127.0.0.1:$port
rate_limit = 0
tls_cert = $tmp/cert.pem
tls_key = $tmp/key.pem
[storage]
$(storage_conf "$tmp/suitd.db")
[payloads]
max_size = 4G
[log]
level = warning
CONF
key=$(admin_key "$conf") || exit 1
printf '%s\n' "$key" >"$tmp/admin.key"
chmod 600 "$tmp/admin.key"
start_suitd "$conf"
URL=https://127.0.0.1:$port
wait_up "$URL/api/v1/status" "$SUITD_PID" || { cat "$tmp/suitd.log" >&2; die "suitd did not start"; }

delete_payload() {
	curl -sS --cacert "$tmp/cert.pem" -H "Authorization: Bearer $key" -X DELETE \
		-o /dev/null -w '%{http_code}' "$URL/api/v1/payloads/$SHA" | grep -q 204 ||
		die "DELETE failed"
}

# Sets R_SECS and R_KIB (wall-clock seconds, peak RSS in KiB).
R_SECS= R_KIB=
run_curl() {
	sync
	/usr/bin/time -f '%e %M' -o "$tmp/time" curl -sS --cacert "$tmp/cert.pem" \
		-H "Authorization: Bearer $key" -H 'Content-Type: application/octet-stream' \
		-X POST -T "$FILE" -o "$tmp/out.json" "$URL/api/v1/payloads" || die "curl failed"
	[ "$(json_sha256 "$tmp/out.json")" = "$SHA" ] || die "curl: wrong answer: $(head -c 300 "$tmp/out.json")"
	read -r R_SECS R_KIB <"$tmp/time"
}
run_suitctl() {
	sync
	SUITD_API_KEY_FILE=$tmp/admin.key SUITD_CACERT=$tmp/cert.pem SUITCTL_CONFIG=/nonexistent \
		/usr/bin/time -f '%e %M' -o "$tmp/time" "$SUITCTL" --url "$URL" -q \
		payload upload "$FILE" >"$tmp/out.txt" || die "suitctl failed"
	[ "$(cat "$tmp/out.txt")" = "$SHA" ] || die "suitctl: wrong answer: $(head -c 300 "$tmp/out.txt")"
	read -r R_SECS R_KIB <"$tmp/time"
}

mbs() { awk -v s="$1" -v b="$BYTES" 'BEGIN { printf "%.1f", (s > 0 ? b / s / 1e6 : 0) }'; }
CURL_R='' CTL_R='' CURL_M='' CTL_M=''
echo
echo "$RUNS rounds (MB/s = 10^6 bytes / wall-clock s of the whole process)"
for i in $(seq 1 "$RUNS"); do
	order=(curl suitctl)
	[ $((i % 2)) = 0 ] && order=(suitctl curl)
	for who in "${order[@]}"; do
		"run_$who"
		delete_payload
		r=$(mbs "$R_SECS")
		if [ "$who" = curl ]; then CURL_R+=" $r" CURL_M+=" $R_KIB"; else CTL_R+=" $r" CTL_M+=" $R_KIB"; fi
		printf '  round %d %-8s %8s MB/s  %6.1f s  peak RSS %6d KiB\n' "$i" "$who" "$r" "$R_SECS" "$R_KIB"
	done
done
# shellcheck disable=SC2086
mc=$(median $CURL_R) ms=$(median $CTL_R) rss=$(printf '%s\n' $CTL_M | sort -n | tail -n1)
# shellcheck disable=SC2086
crss=$(printf '%s\n' $CURL_M | sort -n | tail -n1)
echo
echo "RESULTS: $SIZE_MIB MiB uploads over TLS on loopback (client and suitd share $(nproc) cores)"
printf '  curl -T        %8s MB/s (median of %d), peak RSS %d KiB\n' "$mc" "$RUNS" "$crss"
printf '  suitctl        %8s MB/s (median of %d), peak RSS %d KiB\n' "$ms" "$RUNS" "$rss"
printf '  suitctl/curl   %8s (goal >= 0.95: %s); peak RSS goal < 32 MiB: %s\n' "$(ratio "$ms" "$mc")" \
	"$(awk -v a="$ms" -v b="$mc" 'BEGIN { print (a >= 0.95 * b ? "ok" : "MISSED") }')" \
	"$([ "$rss" -lt 32768 ] && echo ok || echo MISSED)"
exit 0
