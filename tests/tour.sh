#!/bin/sh
# make run and the README tour, end to end (about 25 s). Run from the
# repository root by `make check`:
#
#   tests/tour.sh BUILD        (BUILD holds suitd and suit-sim)
#
# In a temporary folder laid out like the checkout (config/dev.conf with
# [server] listen = 127.0.0.1:0, state in .dev/), never the checkout's own
# .dev/ nor port 8443:
#
#  1. tools/dev-run.sh (what make run runs) starts suitd: the banner comes
#     after the "listening on" line and names the port really bound, the
#     configuration, the state folder's files; its try-line works as printed;
#     the admin key itself is not printed. `make -n run` passes CONF and
#     DEV_STATE on.
#  2. A second start on that port: a clear error, a non-zero exit, no banner.
#  3. tools/tour.sh twice: the first run registers 101 devices, deploys and
#     suit-sim brings the 100 to the new manifest; the second reuses the
#     payload, the manifest, the devices with the same tokens (files
#     unchanged, the tokens still work) and the deployment. A third run
#     after a token line is lost issues a new token for that device and says
#     so; the old one stops working. The tour writes nothing outside the
#     state folder, and stops loudly on a bad admin key.
#  4. tools/dev-reset.sh refuses while suitd has the state open and a folder
#     make run did not make; after SIGTERM (exit 0), `make dev-reset` removes
#     the state folder and nothing else.
#
# Prints "ok - ..." or "not ok - ..." per check, then "N passed, M failed";
# exits 1 when a check failed. TOUR_KEEP=1 keeps the folder.
set -eu

if [ $# -ne 1 ]; then
	echo "usage: tests/tour.sh BUILD" >&2
	exit 2
fi
if [ ! -f tools/tour.sh ] || [ ! -f config/dev.conf ]; then
	echo "tests/tour.sh: run me from the repository root" >&2
	exit 2
fi
root=$PWD
case $1 in
/*) build=$1 ;;
*) build=$root/$1 ;;
esac
for f in "$build/suitd" "$build/suit-sim"; do
	[ -x "$f" ] || { echo "tests/tour.sh: no $f (make all BUILD=...)" >&2; exit 2; }
done
for t in curl openssl timeout; do
	command -v $t >/dev/null || { echo "tests/tour.sh: $t not found (tools/deps.sh check)" >&2; exit 2; }
done

passed=0
failed=0
pid=
tmp=$(mktemp -d "${TMPDIR:-/tmp}/suitd-tour.XXXXXX")
tmp=$(cd "$tmp" && pwd -P) # as the banner shows paths
cleanup() {
	if [ -n "$pid" ]; then
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	if [ "${TOUR_KEEP:-0}" = 1 ] || [ "$failed" -ne 0 ]; then
		echo "# kept $tmp"
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

ok() {
	passed=$((passed + 1))
	echo "ok - $1"
}

# check WHAT: "ok" when $tmp/err is empty, else "not ok" with its lines.
check() {
	if [ -s "$tmp/err" ]; then
		failed=$((failed + 1))
		echo "not ok - $1"
		sed 's/^/# /' "$tmp/err"
	else
		ok "$1"
	fi
	: >"$tmp/err"
}

# expect FILE TEXT: FILE has a line with TEXT (fixed string), or $tmp/err says so.
expect() {
	grep -qF -- "$2" "$1" || echo "$(basename "$1") has no line with: $2" >>"$tmp/err"
}

# whoami TOKEN: the status of GET /device/v1/whoami with TOKEN.
whoami() {
	curl -sS --cacert "$state/tls/cert.pem" -H "Authorization: Bearer $1" -o /dev/null \
		-w '%{http_code}' "$url/device/v1/whoami" || echo "no answer"
}

# The checkout's layout: config/dev.conf names ../.dev/... .
mkdir -p "$tmp/config" "$tmp/cwd"
state=$tmp/.dev
conf=$tmp/config/dev.conf
sed 's/^listen = .*/listen = 127.0.0.1:0/' config/dev.conf >"$conf"
: >"$tmp/err"

# --- 1. make run's start-up and banner -------------------------------------

: >"$tmp/run.log"
DEV_STATE=$state tools/dev-run.sh "$build/suitd" "$conf" >"$tmp/run.log" 2>&1 &
pid=$!
i=0
while ! grep -q 'Ctrl-C stops the daemon' "$tmp/run.log"; do
	if ! kill -0 "$pid" 2>/dev/null || [ $i -ge 300 ]; then
		echo "no banner within 30 s; the log:" >>"$tmp/err"
		cat "$tmp/run.log" >>"$tmp/err"
		check "tools/dev-run.sh starts suitd and prints the banner"
		exit 1
	fi
	sleep 0.1
	i=$((i + 1))
done
url=$(sed -n 's/.* listening on \(https:[^ ]*\).*/\1/p' "$tmp/run.log")
port=${url##*:}
case $port in
'' | 0 | 8443 | *[!0-9]*) echo "the 'listening on' line gives the port '$port'" >>"$tmp/err" ;;
esac
banner=$(grep -n '(development) — ' "$tmp/run.log" || true)
listening=$(grep -n ' listening on ' "$tmp/run.log" | cut -d: -f1)
case $banner in
"$((listening + 2)):  suitd "*" (development) — $url") ;;
*) echo "the banner's first line is '$banner', not two lines after 'listening on $url'" >>"$tmp/err" ;;
esac
expect "$tmp/run.log" "  configuration    $conf"
expect "$tmp/run.log" "  database         $state/suitd.db"
expect "$tmp/run.log" "  TLS certificate  $state/tls/cert.pem (self-signed)"
expect "$tmp/run.log" "  trust anchor     $state/author.pub"
expect "$tmp/run.log" "  admin API key in $state/admin.key"
grep -qF -- "$(cat "$state/admin.key")" "$tmp/run.log" &&
	echo "the admin key itself is in the output" >>"$tmp/err"
check "the banner follows 'listening on', with the port bound ($port) and the state's files"

try=$(sed -n 's/^    \(curl .*\/api\/v1\/status\)$/\1/p' "$tmp/run.log")
sh -c "$try" >"$tmp/status.json" 2>&1 || echo "exit status $?" >>"$tmp/err"
expect "$tmp/status.json" '"key":{"name":"dev-admin","role":"admin"}'
[ -s "$tmp/err" ] && echo "the try-line: $try" >>"$tmp/err"
check "the banner's try-line answers with the dev-admin key"

make -n --no-print-directory run BUILD=/b CONF=/c.conf DEV_STATE=/s >"$tmp/make-n.log" 2>&1 || true
expect "$tmp/make-n.log" "DEV_STATE='/s' tools/dev-run.sh /b/suitd '/c.conf'"
check "make run passes CONF and DEV_STATE to tools/dev-run.sh"

# --- 2. the port in use ------------------------------------------------------

mkdir -p "$tmp/busy/config"
sed "s/^listen = .*/listen = 127.0.0.1:$port/" config/dev.conf >"$tmp/busy/config/dev.conf"
rc=0
DEV_STATE=$tmp/busy/.dev timeout 30 tools/dev-run.sh "$build/suitd" "$tmp/busy/config/dev.conf" \
	>"$tmp/busy.log" 2>&1 || rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] || echo "exit status $rc" >>"$tmp/err"
expect "$tmp/busy.log" "cannot start: cannot listen on 127.0.0.1:$port: Address already in use"
grep -q '(development)\|Ctrl-C' "$tmp/busy.log" && echo "a banner was printed" >>"$tmp/err"
[ -s "$tmp/err" ] && sed 's/^/busy.log: /' "$tmp/busy.log" >>"$tmp/err"
check "a start on a port in use fails with a clear error and no banner"

# --- 3. the tour, twice, then with a lost token -----------------------------

# tour N: run tools/tour.sh from an empty folder into $tmp/tourN.log.
tour() {
	(cd "$tmp/cwd" && SUITD_URL=$url SUITD_CONF=$conf DEV_STATE=$state BUILD=$build \
		timeout 240 "$root/tools/tour.sh") >"$tmp/tour$1.log" 2>&1
}
tours=$state/tour

if ! tour 1; then
	echo "tools/tour.sh failed:" >>"$tmp/err"
	cat "$tmp/tour1.log" >>"$tmp/err"
fi
expect "$tmp/tour1.log" "1. payload $tours/fw.bin stored: "
expect "$tmp/tour1.log" "2. manifest $tours/fw.suit stored: "
expect "$tmp/tour1.log" "3. device sensor-0001 in group lab: registered"
expect "$tmp/tour1.log" "4. 100 devices in group fleet: 100 registered, 0 kept their tokens;"
expect "$tmp/tour1.log" "   suit-sim: 100 update cycles done, 0 errors"
expect "$tmp/tour1.log" "   deployment 1: completed, 100 of 100 devices confirmed"
# (mawk has no {43}; the tokens are not shown.)
awk '!/^dev-[0-9][0-9][0-9] suitd_dt_[A-Za-z0-9_-]+$/ || length($2) != 52 {
		print "fleet.txt line " NR " is not \"dev-NNN suitd_dt_<43 characters>\""
	}
	END { if (NR != 100) print "fleet.txt has " NR " lines, not 100" }' "$tours/fleet.txt" >>"$tmp/err"
[ "$(cut -d' ' -f1 "$tours/fleet.txt" | sort -u | wc -l)" -eq 100 ] ||
	echo "fleet.txt does not name 100 different devices" >>"$tmp/err"
check "the first tour deploys to 100 devices and keeps their tokens in .dev/tour/fleet.txt"

cp "$tours/fleet.txt" "$tmp/fleet.1"
cp "$tours/lab.txt" "$tmp/lab.1"
if ! tour 2; then
	echo "tools/tour.sh failed the second time:" >>"$tmp/err"
	cat "$tmp/tour2.log" >>"$tmp/err"
fi
expect "$tmp/tour2.log" "1. payload $tours/fw.bin was stored already: "
expect "$tmp/tour2.log" "$(sed -n 's/^2\. manifest \([^ ]*\) stored: \([0-9a-f]*\) .*/2. manifest \1 was stored already: \2 /p' "$tmp/tour1.log")"
expect "$tmp/tour2.log" "3. device sensor-0001 in group lab: registered already, keeps its token in $tours/lab.txt"
expect "$tmp/tour2.log" "4. 100 devices in group fleet: 0 registered, 100 kept their tokens;"
expect "$tmp/tour2.log" "5. deployment 1 of the manifest to group fleet exists: completed, 100 of 100 devices confirmed"
expect "$tmp/tour2.log" "   suit-sim: 0 update cycles done, 0 errors"
cmp -s "$tmp/fleet.1" "$tours/fleet.txt" || echo "fleet.txt changed" >>"$tmp/err"
cmp -s "$tmp/lab.1" "$tours/lab.txt" || echo "lab.txt changed" >>"$tmp/err"
for line in "$(head -n 1 "$tmp/fleet.1")" "$(tail -n 1 "$tmp/fleet.1")" "$(cat "$tmp/lab.1")"; do
	code=$(whoami "${line#* }")
	[ "$code" = 200 ] || echo "${line%% *}'s token from the first run: whoami answered $code" >>"$tmp/err"
done
# suit-sim's devices remember the sequence number they run (fleet.state).
curl -sS --cacert "$state/tls/cert.pem" -H "Authorization: Bearer $(cat "$state/admin.key")" \
	"$url/api/v1/devices/dev-100" >"$tmp/dev-100.json" 2>&1 || true
expect "$tmp/dev-100.json" '"reported_sequence":1,'
check "the second tour succeeds, reusing everything, with the same tokens working"

old=$(awk '$1 == "dev-050" { print $2 }' "$tmp/fleet.1")
grep -v '^dev-050 ' "$tmp/fleet.1" >"$tours/fleet.txt"
if ! tour 3; then
	echo "tools/tour.sh failed the third time:" >>"$tmp/err"
	cat "$tmp/tour3.log" >>"$tmp/err"
fi
expect "$tmp/tour3.log" "   dev-050: registered already, without a token in $tours/fleet.txt: issued a new one"
expect "$tmp/tour3.log" "4. 100 devices in group fleet: 0 registered, 99 kept their tokens;"
new=$(awk '$1 == "dev-050" { print $2 }' "$tours/fleet.txt")
[ -n "$new" ] && [ "$new" != "$old" ] || echo "dev-050's token in fleet.txt: '$new'" >>"$tmp/err"
[ "$(whoami "$new")" = 200 ] || echo "dev-050's new token does not work" >>"$tmp/err"
[ "$(whoami "$old")" = 401 ] || echo "dev-050's lost token still works" >>"$tmp/err"
grep -v '^dev-050 ' "$tmp/fleet.1" >"$tmp/others.1"
grep -v '^dev-050 ' "$tours/fleet.txt" >"$tmp/others.3"
cmp -s "$tmp/others.1" "$tmp/others.3" || echo "the other tokens in fleet.txt changed" >>"$tmp/err"
check "a device whose token line is lost gets a new token, said so; the others keep theirs"

[ -z "$(ls -A "$tmp/cwd")" ] || echo "the tour wrote into its working folder: $(ls -A "$tmp/cwd")" >>"$tmp/err"
for f in fw.bin fw.suit lab.txt fleet.txt fleet.state deployment suit-sim.json; do
	[ -f "$tours/$f" ] || echo "no $tours/$f" >>"$tmp/err"
done
# shellcheck disable=SC2012 # ls -ln is the portable stat
ls -ln "$tours" | awk 'NR > 1 && $1 !~ /^-rw-------/ { print "mode " $1 " of " $NF }' >>"$tmp/err"
check "the tour keeps its files in .dev/tour/, mode 0600, and nothing in its working folder"

# A tour with a wrong admin key stops at the first request, saying why.
mkdir -p "$tmp/bad"
for f in author.key author.pub tls; do ln -s "$state/$f" "$tmp/bad/$f"; done
echo suitd_ak_wrong >"$tmp/bad/admin.key"
rc=0
(cd "$tmp/cwd" && SUITD_URL=$url SUITD_CONF=$conf DEV_STATE=$tmp/bad BUILD=$build \
	timeout 60 "$root/tools/tour.sh") >"$tmp/bad.log" 2>&1 || rc=$?
[ $rc -eq 1 ] || echo "exit status $rc, not 1" >>"$tmp/err"
expect "$tmp/bad.log" "tools/tour.sh: POST /api/v1/payloads?name=fw.bin answered 401: {\"type\":\"urn:suitd:unauthorized\""
[ -s "$tmp/err" ] && sed 's/^/bad.log: /' "$tmp/bad.log" >>"$tmp/err"
check "a tour with a wrong admin key stops with the server's problem details"

# --- 4. make dev-reset ------------------------------------------------------

# refused DIR KEPT TEXT WHAT: tools/dev-reset.sh on DIR exits 1 saying TEXT,
# and the file KEPT is still there.
refused() {
	rc=0
	DEV_STATE=$1 tools/dev-reset.sh >"$tmp/reset.log" 2>&1 || rc=$?
	[ $rc -eq 1 ] || echo "exit status $rc, not 1" >>"$tmp/err"
	expect "$tmp/reset.log" "$3"
	[ -f "$2" ] || echo "$2 was removed" >>"$tmp/err"
	check "$4"
}
refused "$state" "$state/suitd.db" "has files in $state open (make run?): stop it first" \
	"dev-reset refuses while suitd runs on the state folder"
refused "$tmp/config" "$conf" "not a folder of make run" \
	"dev-reset refuses a folder that make run did not make"

kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=
[ $rc -eq 0 ] || { echo "suitd exited with status $rc after SIGTERM:" && tail -n 20 "$tmp/run.log"; } >>"$tmp/err"
check "suitd stops with status 0 on SIGTERM"

rc=0
make -s --no-print-directory dev-reset DEV_STATE="$state" >"$tmp/reset.log" 2>&1 || rc=$?
[ $rc -eq 0 ] || echo "exit status $rc" >>"$tmp/err"
expect "$tmp/reset.log" "removing $state: "
[ ! -e "$state" ] || echo "$state is still there" >>"$tmp/err"
[ -f "$conf" ] && [ -f "$tmp/busy/config/dev.conf" ] && [ -f "$tmp/tour1.log" ] ||
	echo "a file next to $state was removed" >>"$tmp/err"
check "make dev-reset removes the state folder and nothing else"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
