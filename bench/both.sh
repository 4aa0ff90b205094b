#!/bin/bash
# Run one benchmark on SQLite, then on PostgreSQL, back to back, REPEAT
# times (issue 21): the two columns come from the same machine in the same
# minutes, and the ratio says what the backend costs.
#
# Usage: bench/both.sh SCRIPT [REPEAT]     e.g. bench/both.sh bench/reports.sh 3
#
# Each run's whole output goes to OUT (default: a new folder under
# ${TMPDIR:-/tmp}, kept), named SCRIPT-BACKEND-N.txt. The scripts print
# their headline figures as lines "figure: NAME VALUE UNIT, what"; this
# prints, per figure, the median over the runs of each backend and the
# ratio postgresql/sqlite. The environment goes to every run (DEVICES=...);
# BACKEND is set by this script. A run that fails stops it.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -ge 1 ] || die "usage: $0 SCRIPT [REPEAT]"
SCRIPT=$1
REPEAT=${2:-1}
[ -x "$SCRIPT" ] || die "$SCRIPT is not an executable script"
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/bench-both.XXXXXX")}
mkdir -p "$OUT"
name=$(basename "$SCRIPT" .sh)

print_machine
echo "runs: $REPEAT x (BACKEND=sqlite, BACKEND=postgresql) of $SCRIPT; outputs in $OUT"
for i in $(seq 1 "$REPEAT"); do
	for b in sqlite postgresql; do
		f=$OUT/$name-$b-$i.txt
		echo "  run $i $b: started $(date -u +%H:%M:%S), load average $(cut -d' ' -f1-3 /proc/loadavg)"
		BACKEND=$b "$SCRIPT" >"$f" 2>&1 || { tail -n 30 "$f" >&2; die "$SCRIPT failed with BACKEND=$b (run $i): $f"; }
		grep '^figure: ' "$f" | sed 's/^figure: /    /' || true
	done
done

echo
echo "RESULTS: $SCRIPT, median of $REPEAT run(s) each, load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-28s %12s %12s %8s  %s\n' figure sqlite postgresql "pg/sq" unit
names=$(cat "$OUT/$name"-*-*.txt | sed -n 's/^figure: \([^ ]*\) .*/\1/p' | awk '!seen[$0]++')
for n in $names; do
	# shellcheck disable=SC2046 # one value per word
	s=$(median $(cat "$OUT/$name"-sqlite-*.txt | awk -v n="$n" '$1 == "figure:" && $2 == n { print $3 }'))
	# shellcheck disable=SC2046
	p=$(median $(cat "$OUT/$name"-postgresql-*.txt | awk -v n="$n" '$1 == "figure:" && $2 == n { print $3 }'))
	# awk reads the files itself: with `cat | awk ... exit`, a long output
	# gave cat SIGPIPE, and pipefail ended the script before the table.
	unit=$(awk -v n="$n" '$1 == "figure:" && $2 == n { $1 = $2 = $3 = ""; sub(/^ +/, ""); print; exit }' "$OUT/$name"-*-*.txt)
	printf '%-28s %12s %12s %8s  %s\n' "$n" "$s" "$p" "$(ratio "$p" "$s")" "$unit"
done
