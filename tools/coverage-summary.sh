#!/bin/sh
# Line coverage per top-level folder from an lcov tracefile (its DA
# records: lcov 1.16 does not always write LF/LH), and a check of the
# folders that must reach a floor.
# usage: tools/coverage-summary.sh LCOV.INFO FLOOR DIR...
set -eu
info=$1
floor=$2
shift 2
rc=0
out=$(awk -v floor="$floor" -v want="$*" -v root="$(pwd)/" '
	/^SF:/ {
		f = substr($0, 4)
		# The project'"'"'s own sources only: not system headers, not tests.
		if (index(f, root) != 1 || index(f, root "tests/") == 1) {
			dir = ""
			next
		}
		f = substr(f, length(root) + 1)
		n = split(f, parts, "/")
		dir = n > 2 ? parts[1] "/" parts[2] : parts[1]
	}
	/^DA:/ && dir != "" {
		split(substr($0, 4), da, ",")
		lf[dir]++
		if (da[2] + 0 > 0)
			lh[dir]++
	}
	END {
		split(want, w, " ")
		for (d in lf) {
			tf += lf[d]; th += lh[d]
			printf "%-10s %6d / %6d lines  %5.1f %%\n", d, lh[d], lf[d], 100 * lh[d] / lf[d]
		}
		printf "%-10s %6d / %6d lines  %5.1f %%\n", "all", th, tf, 100 * th / tf
		bad = 0
		for (i in w) {
			d = w[i]
			if (!(d in lf)) { printf "coverage: no data for %s/\n", d; bad = 1; continue }
			if (100 * lh[d] / lf[d] < floor) {
				printf "coverage: %s/ is below %s %%\n", d, floor; bad = 1
			}
		}
		exit bad
	}' "$info") || rc=$?
printf '%s\n' "$out" | grep -v '^coverage:' | sort
printf '%s\n' "$out" | grep '^coverage:' || true
exit "$rc"
