#!/bin/sh
# The README's first tour ("A first tour"): a payload, a signed SUIT
# manifest, a device that downloads part of the image, 100 devices, a staged
# deployment, and suit-sim playing the devices. Run it, after `make run`, from
# the checkout; its files go to .dev/tour/ (git-ignored, removed by
# `make dev-reset`).
#
# It can be run again: each step reuses what is there and says so. The
# payload and the manifest are uploaded again (suitd answers 200: stored
# already); devices that exist keep the tokens kept in .dev/tour/ (lab.txt,
# fleet.txt: "ID TOKEN" lines, mode 0600). A token is never replaced without
# a message: a device that exists without a kept token gets a new one
# (POST /api/v1/devices/{id}/token), and the tour says so. An answer it does
# not expect stops it with the server's problem details.
#
# Environment, for a server other than make run's:
#   SUITD_URL     the server (default https://127.0.0.1:8443)
#   SUITD_CONF    its configuration, for `suitd manifest create` (config/dev.conf)
#   DEV_STATE     make run's state folder (.dev): admin.key, author.key,
#                 author.pub, tls/cert.pem, and the tour's files in tour/
#   SUITD_CACERT  the certificate to trust (DEV_STATE/tls/cert.pem)
#   BUILD         the folder of suitd and suit-sim (build)
set -eu

url=${SUITD_URL:-https://127.0.0.1:8443}
conf=${SUITD_CONF:-config/dev.conf}
state=${DEV_STATE:-.dev}
cacert=${SUITD_CACERT:-$state/tls/cert.pem}
build=${BUILD:-build}
dir=$state/tour
fleet_size=100

die() {
	echo "tools/tour.sh: $*" >&2
	exit 1
}

for f in "$state/admin.key" "$state/author.key" "$state/author.pub" "$cacert"; do
	[ -s "$f" ] || die "no $f: start suitd with 'make run' first (or set DEV_STATE, SUITD_CACERT)"
done
for f in "$build/suitd" "$build/suit-sim"; do
	[ -x "$f" ] || die "no $f: run 'make' first (or set BUILD)"
done
command -v curl >/dev/null || die "curl not found (apt-get install curl)"
key=$(cat "$state/admin.key")
umask 077
mkdir -p "$dir"
body=$dir/.body
trap 'rm -f "$body" "$dir"/*.new' EXIT
trap 'exit 1' INT TERM HUP

# api EXPECTED METHOD PATH [CURL_ARGS...]: one request with the admin key.
# Sets $code and $location (the Location header); the body is in $body. A
# status not in EXPECTED ("200|201") prints the server's answer and stops.
api() {
	expect=$1 method=$2 path=$3
	shift 3
	out=$(curl -sS --cacert "$cacert" -H "Authorization: Bearer $key" -X "$method" \
		-o "$body" -w '%{http_code} %header{location}' "$@" "$url$path") ||
		die "$method $url$path: no answer (is suitd running? 'make run')"
	code=${out%% *}
	location=${out#* }
	case "|$expect|" in
	*"|$code|"*) ;;
	*) die "$method $path answered $code: $(cat "$body")" ;;
	esac
}

# field NAME: the string or number member NAME of the JSON object in $body
# (the first one; suitd writes compact JSON).
field() {
	awk -v k="\"$1\":" 'i = index($0, k) {
		s = substr($0, i + length(k)); sub(/^"/, "", s); sub(/[",}].*/, "", s); print s; exit
	}' "$body"
}

# progress: "STATUS, N of M devices confirmed" of the deployment in $body.
progress() {
	echo "$(field status)," \
		"$(sed -n 's/.*"counts":{[^}]*"confirmed":\([0-9]*\).*"devices":\([0-9]*\)[,}].*$/\1 of \2/p' "$body")" \
		"devices confirmed"
}

# summary NAME: the first number NAME in suit-sim's summary.
summary() {
	sed -n "s/^ *\"$1\": \([0-9]*\),\{0,1\}$/\1/p" "$dir/suit-sim.json" | head -n 1
}

# token_of FILE ID: the token FILE keeps for ID, or nothing.
token_of() {
	if [ -f "$1" ]; then
		awk -v id="$2" '$1 == id { t = $2 } END { if (t != "") print t }' "$1"
	fi
}

# token_keep FILE ID: FILE's line for ID becomes "ID <the token in $body>".
# The new file is written whole, then renamed over the old one.
token_keep() {
	t=$(sed -n 's/.*"token":"\(suitd_dt_[A-Za-z0-9_-]*\)".*/\1/p' "$body")
	[ -n "$t" ] || die "no device token in the answer for $2: $(cat "$body")"
	{
		if [ -f "$1" ]; then awk -v id="$2" '$1 != id' "$1"; fi
		echo "$2 $t"
	} >"$1.new"
	mv "$1.new" "$1"
}

# device FILE ID GROUP: ID is registered (in GROUP when new) and FILE keeps a
# token of it. Sets $made: "new"; "replaced" (new, but FILE had a token of
# an ID of another database); "kept" (registered, FILE has its token); or
# "reissued" (registered, FILE has no token of it: a new one was issued and
# any older one no longer works).
device() {
	had=$(token_of "$1" "$2")
	api '201|409' POST /api/v1/devices -H 'Content-Type: application/json' \
		-d "{\"id\":\"$2\",\"group\":\"$3\"}"
	if [ "$code" = 201 ]; then
		token_keep "$1" "$2"
		made=new
		[ -z "$had" ] || made=replaced
	elif ! grep -q '"urn:suitd:already-exists"' "$body"; then
		die "POST /api/v1/devices for $2 answered $code: $(cat "$body")"
	elif [ -n "$had" ]; then
		made=kept
	else
		api 200 POST "/api/v1/devices/$2/token"
		token_keep "$1" "$2"
		made=reissued
	fi
}

# said MADE FILE: what device() did, in words.
said() {
	case $1 in
	new) echo "registered" ;;
	replaced) echo "registered (the token $2 had for it is of another database: replaced)" ;;
	kept) echo "registered already, keeps its token in $2" ;;
	reissued) echo "registered already, without a token in $2: issued a new one" \
		"(POST /api/v1/devices/{id}/token); an older token of it no longer works" ;;
	esac
}

# 1. A payload: streamed, hashed, content-addressed.
if [ ! -s "$dir/fw.bin" ]; then
	head -c 300000 /dev/urandom >"$dir/fw.bin.new"
	mv "$dir/fw.bin.new" "$dir/fw.bin"
fi
api '200|201' POST /api/v1/payloads?name=fw.bin \
	-H 'Content-Type: application/octet-stream' --data-binary @"$dir/fw.bin"
sha=$(field sha256)
case $code in
201) echo "1. payload $dir/fw.bin stored: $sha (POST /api/v1/payloads, 201)" ;;
*) echo "1. payload $dir/fw.bin was stored already: $sha (POST /api/v1/payloads, 200)" ;;
esac

# 2. A SUIT envelope for it, signed with the development key of make run.
# It is made once and kept, so its digest stays the same. Sequence number 1
# may be taken by another manifest of this class (one of an earlier tour
# whose fw.bin is gone): the next number is tried then.
seq=1
while :; do
	if [ ! -s "$dir/fw.suit" ]; then
		"$build/suitd" -c "$conf" manifest create --key "$state/author.key" \
			--payload "$dir/fw.bin" --vendor-domain example.com --class-info sensor-v1 \
			--sequence $seq --uri "$url/device/v1/payloads/$sha" -o "$dir/fw.suit"
	fi
	api '200|201|409' POST /api/v1/manifests \
		-H 'Content-Type: application/suit-envelope+cose' --data-binary @"$dir/fw.suit"
	[ "$code" = 409 ] || break
	if ! grep -q '"urn:suitd:manifest:sequence-conflict"' "$body" || [ $seq -ge 100 ]; then
		die "POST /api/v1/manifests answered $code: $(cat "$body")"
	fi
	echo "   sequence number $seq is taken by another manifest of this class: trying $((seq + 1))"
	rm "$dir/fw.suit"
	seq=$((seq + 1))
done
manifest=${location##*/}
case $code in
201) echo "2. manifest $dir/fw.suit stored: $manifest (POST /api/v1/manifests, 201)" ;;
*) echo "2. manifest $dir/fw.suit was stored already: $manifest (POST /api/v1/manifests, 200)" ;;
esac

# 3. A device and its token; the device fetches the first 128 bytes of the image.
device "$dir/lab.txt" sensor-0001 lab
echo "3. device sensor-0001 in group lab: $(said $made "$dir/lab.txt")"
token=$(token_of "$dir/lab.txt" sensor-0001)
out=$(curl -sS --cacert "$cacert" -H "Authorization: Bearer $token" -r 0-127 \
	-o "$body" -w '%{http_code} %{size_download}' "$url/device/v1/payloads/$sha") ||
	die "GET /device/v1/payloads/$sha: no answer"
[ "$out" = "206 128" ] ||
	die "sensor-0001's range request answered '$out' (status, bytes), not '206 128': $(cat "$body")"
echo "   with its token it read bytes 0-127 of the image (GET /device/v1/payloads/$sha, 206)"

# 4. 100 devices in group fleet; their ids and tokens are kept in fleet.txt.
new=0 kept=0 changed=
for i in $(seq -w 1 $fleet_size); do
	device "$dir/fleet.txt" "dev-$i" fleet
	case $made in
	new) new=$((new + 1)) ;;
	kept) kept=$((kept + 1)) ;;
	*) changed="$changed dev-$i:$made" ;;
	esac
done
echo "4. $fleet_size devices in group fleet: $new registered, $kept kept their tokens;" \
	"tokens in $dir/fleet.txt"
for c in $changed; do
	echo "   ${c%:*}: $(said "${c#*:}" "$dir/fleet.txt")"
done

# 5. The manifest deployed to the group in three stages: 10 %, 50 %, 100 %.
# The deployment of an earlier run is reused while it exists.
deployment=
if [ -s "$dir/deployment" ]; then
	api '200|404' GET "/api/v1/deployments/$(cat "$dir/deployment")"
	if [ "$code" = 200 ] && [ "$(field manifest)" = "$manifest" ]; then
		deployment=$(field id)
		status=$(field status)
		echo "5. deployment $deployment of the manifest to group fleet exists: $(progress)"
	fi
fi
if [ -z "$deployment" ]; then
	api 201 POST /api/v1/deployments -H 'Content-Type: application/json' \
		-d "{\"manifest\":\"$manifest\",\"target\":{\"group\":\"fleet\"},\"rollout\":{\"stages\":[10,50,100]}}"
	deployment=${location##*/}
	status=new
	echo "$deployment" >"$dir/deployment"
	echo "5. deployment $deployment: the manifest to group fleet in stages of 10, 50, 100 %" \
		"(POST /api/v1/deployments, 201)"
fi

# 6. suit-sim plays the 100 devices: poll, verify, download by Range, report,
# reboot into the new sequence number. The sequence number each device runs
# is kept in fleet.state: once the deployment is completed, they only check
# in and find nothing to install.
case $status in
new)
	echo "6. suit-sim plays the $fleet_size devices of $dir/fleet.txt until each has" \
		"installed the update (about 10 s; GET /api/v1/deployments/$deployment shows the counters move)"
	run="--until-done --duration 120"
	;;
completed)
	echo "6. the deployment is completed: suit-sim's devices check in for 3 s with the" \
		"tokens of $dir/fleet.txt; they run its sequence number and are offered nothing (204)"
	run="--duration 3"
	;;
*)
	echo "6. the deployment is $status: suit-sim plays the devices of $dir/fleet.txt for 20 s"
	run="--duration 20"
	;;
esac
# shellcheck disable=SC2086 # $run is options
"$build/suit-sim" --url "$url" --cacert "$cacert" --trust-anchor "$state/author.pub" \
	--tokens "$dir/fleet.txt" --state "$dir/fleet.state" $run --max-poll 2 \
	--summary "$dir/suit-sim.json" ||
	die "suit-sim failed (above); its summary is $dir/suit-sim.json"
echo "   suit-sim: $(summary cycles_done) update cycles done, $(summary total) errors" \
	"(its JSON summary: $dir/suit-sim.json)"
# suitd closes a deployment within a second of its last confirmation.
i=0
while api 200 GET "/api/v1/deployments/$deployment" && [ "$(field status)" = active ] && [ $i -lt 5 ]; do
	sleep 1
	i=$((i + 1))
done
echo "   deployment $deployment: $(progress)"
[ "$(field status)" != active ] || echo "   (run the tour again to go on)"
