#!/bin/sh
# Install the Debian packages a make target needs, or say exactly how.
# usage: tools/deps.sh build|check|fuzz|coverage
set -eu
build="gcc make pkg-config libmicrohttpd-dev libgnutls28-dev libjansson-dev libsqlite3-dev libssl-dev libsystemd-dev libinih-dev libcbor-dev libcurl4-openssl-dev libpq-dev openssl curl"
check="$build check postgresql man-db groff-base systemd sqlite3 python3 python3-yaml prometheus jq swupdate cpio chromium fonts-dejavu-core haproxy iptables"
# The console's browser tests (tests/ui/) run node and npm; a node installed
# outside Debian's packages (nodesource, nvm) is used as it is.
if ! command -v npm >/dev/null 2>&1; then
	check="$check nodejs npm"
fi
fuzz="$build clang libclang-rt-14-dev"
coverage="$check lcov"
case "${1:-build}" in
build) want=$build ;;
check) want=$check ;;
fuzz) want=$fuzz ;;
coverage) want=$coverage ;;
*) echo "usage: $0 build|check|fuzz|coverage" >&2; exit 2 ;;
esac
missing=
for p in $want; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$status" = installed ] || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
line="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" -ne 0 ]; then
	echo "suitd: missing build dependencies; as root run:" >&2
	echo "  apt-get update && $line" >&2
	exit 1
fi
echo "suitd: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# Test tools must not leave services running: the prometheus package (for
# promtool) would start a Prometheus server. policy-rc.d (exit 101) keeps
# maintainer scripts from starting any service during this install; units
# the packages enabled are disabled again below.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 0755 "$policy"
	trap 'rm -f "$policy"' EXIT
fi
apt-get update -qq >&2
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >&2
case " $missing " in
*" prometheus "*)
	if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
		systemctl disable --now prometheus.service >/dev/null 2>&1 || true
	fi
	;;
esac
# haproxy: tests/cluster/run.sh runs its own on loopback, never the
# service the package enables (whose default config serves nothing).
case " $missing " in
*" haproxy "*)
	if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
		systemctl disable --now haproxy.service >/dev/null 2>&1 || true
	fi
	;;
esac
# postgresql: the tests start throwaway servers of their own
# (tests/pg/pg_tmp.sh), never the cluster the package creates and enables.
case " $missing " in
*" postgresql "*)
	if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
		systemctl disable --now postgresql.service >/dev/null 2>&1 || true
	fi
	;;
esac
# swupdate (the hawkBit client of tests/ddi/swupdate.py) enables its own
# daemon and socket: the tests run their own instances, never the service.
case " $missing " in
*" swupdate "*)
	if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
		systemctl disable --now swupdate.socket swupdate.service \
			swupdate-progress.service >/dev/null 2>&1 || true
	fi
	;;
esac
