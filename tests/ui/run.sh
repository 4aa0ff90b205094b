#!/bin/sh
# The console's browser tests (make check): installs the pinned test tools
# from the npm registry (package-lock.json) when they are missing or stale,
# then runs console.test.mjs against BUILD/suitd with Debian's chromium.
#   tests/ui/run.sh BUILD
set -eu
build=$(cd "$1" && pwd)
cd "$(dirname "$0")"
for t in node npm; do
	command -v $t >/dev/null || { echo "tests/ui/run.sh: $t not found (tools/deps.sh check)" >&2; exit 2; }
done
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] ||
	{ echo "tests/ui/run.sh: no chromium (tools/deps.sh check)" >&2; exit 2; }
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
	npm ci --no-audit --no-fund --loglevel=error
fi
exec node --no-warnings console.test.mjs "$build" "$build/screenshots"
