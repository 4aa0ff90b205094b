#!/bin/sh
# Checks on the shipped files: man pages, example configuration, systemd
# units. Run from the repository root by `make check`:
#
#   tests/files.sh build/suitd
#
# Prints "ok - ..." or "not ok - ..." per check (details as "# " lines),
# then "N passed, M failed"; exits 1 when a check failed.
set -eu

if [ $# -ne 1 ]; then
	echo "usage: tests/files.sh BINARY" >&2
	exit 2
fi
case $1 in
/*) bin=$1 ;;
*) bin=$PWD/$1 ;;
esac
if [ ! -f config/suitd.conf ] || [ ! -f Makefile ]; then
	echo "tests/files.sh: run me from the repository root" >&2
	exit 2
fi

passed=0
failed=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/suitd-files.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP
tab=$(printf '\t')

ok() {
	passed=$((passed + 1))
	echo "ok - $1"
}

# not_ok TEXT [FILE]: FILE holds the details, shown as "# " lines.
not_ok() {
	failed=$((failed + 1))
	echo "not ok - $1"
	if [ $# -gt 1 ] && [ -s "$2" ]; then
		sed 's/^/# /' "$2"
	fi
}

have() {
	command -v "$1" >/dev/null 2>&1
}

# --- (a) man pages render without warnings --------------------------------

for page in man/suitd.8 man/suitd.conf.5 man/suit-sim.1 man/suitctl.1; do
	if ! have man; then
		not_ok "$page renders with man --warnings (man not found; tools/deps.sh check)"
	elif MANWIDTH=80 man --warnings -l "$page" >/dev/null 2>"$tmp/err" && [ ! -s "$tmp/err" ]; then
		ok "$page renders with man --warnings"
	else
		not_ok "$page renders with man --warnings" "$tmp/err"
	fi
	if ! have groff; then
		not_ok "$page passes groff -man -ww -z (groff not found)"
	elif groff -man -ww -z "$page" >"$tmp/err" 2>&1 && [ ! -s "$tmp/err" ]; then
		ok "$page passes groff -man -ww -z"
	else
		not_ok "$page passes groff -man -ww -z" "$tmp/err"
	fi
done

# --- (b) keys: example config, man page and config.c agree -----------------
#
# Each list is "section.key<TAB>default", sorted.

# config/suitd.conf: "[section]" lines and "key = value" lines. A key without
# a default (empty in keys[], such as a repeatable list) is shown commented
# out with an example value, "#key = value": those go to conf.commented,
# checked below to be keys of keys[] that really have no default.
awk -v commented="$tmp/conf.commented" '
BEGIN { printf "" >commented }
/^\[[a-z_]+\]/ { s = substr($0, 2, index($0, "]") - 2); next }
/^#[a-z_]+[ \t]*=/ {
	k = $0; sub(/^#/, "", k); sub(/[ \t]*=.*/, "", k)
	print s "." k >commented
	next
}
/^[a-z_]+[ \t]*=/ {
	k = $0; sub(/[ \t]*=.*/, "", k)
	v = $0; sub(/^[a-z_]+[ \t]*=[ \t]*/, "", v); sub(/[ \t]+$/, "", v)
	print s "." k "\t" v
}' config/suitd.conf | LC_ALL=C sort >"$tmp/conf.keys"

# man/suitd.conf.5: under ".SH KEYS", ".SS [section]", then per key ".TP",
# ".B key" and a line "Default: \fBvalue\fR" or "Default: empty".
awk '
function flush() {
	if (key != "")
		print key "\t" (have_default ? def : "(no Default: line)")
	key = ""; have_default = 0
}
/^\.SH/ { flush(); inkeys = ($0 ~ /^\.SH[ \t]+"?KEYS"?[ \t]*$/); next }
!inkeys { next }
/^\.SS/ {
	flush()
	s = $0; sub(/^\.SS[ \t]+"?\[/, "", s); sub(/\]"?[ \t]*$/, "", s)
	next
}
/^\.TP/ { flush(); tp = 1; next }
tp && /^\.B[ \t]/ { k = $0; sub(/^\.B[ \t]+/, "", k); sub(/[ \t]+$/, "", k); key = s "." k; tp = 0; next }
{ tp = 0 }
key != "" && !have_default && /^Default:/ {
	def = $0
	sub(/^Default:[ \t]*/, "", def)
	if (def == "empty")
		def = ""
	else {
		sub(/^\\fB/, "", def); sub(/\\f[RP]$/, "", def)
		gsub(/\\-/, "-", def); gsub(/\\&/, "", def)
	}
	have_default = 1
}
END { flush() }' man/suitd.conf.5 | LC_ALL=C sort >"$tmp/man.keys"

# config/config.c: rows of keys[], { "section", "name", KEY_..., OFF(...), "default", min, max }.
awk -F'"' '/^[ \t]*\{ *"[a-z_]+", *"[a-z_]+", *KEY_/ { print $2 "." $4 "\t" $6 }' config/config.c |
	LC_ALL=C sort >"$tmp/code.keys"

for f in conf man code; do
	cut -f1 "$tmp/$f.keys" >"$tmp/$f.names"
done
LC_ALL=C sort -u -o "$tmp/conf.commented" "$tmp/conf.commented"
awk -F'\t' '$2 == "" { print $1 }' "$tmp/code.keys" | LC_ALL=C sort >"$tmp/code.nodefault"

# A commented-out key stands for the key only when keys[] gives it no default:
# a key with a default must be shown with it, uncommented.
LC_ALL=C comm -23 "$tmp/conf.commented" "$tmp/code.nodefault" |
	while IFS= read -r name; do
		if grep -qxF "$name" "$tmp/code.names"; then
			def=$(awk -F'\t' -v k="$name" '$1 == k { print $2 }' "$tmp/code.keys")
			echo "#$name: config.c gives it the default \"$def\": show it uncommented, with it"
		else
			echo "#$name: not a key of keys[] in config/config.c"
		fi
	done >"$tmp/err"
if [ -s "$tmp/err" ]; then
	not_ok "keys commented out in config/suitd.conf are keys of config/config.c without a default" "$tmp/err"
else
	ok "keys commented out in config/suitd.conf are keys of config/config.c without a default"
fi
# From here on config/suitd.conf names its keys and those commented-out keys.
LC_ALL=C comm -12 "$tmp/conf.commented" "$tmp/code.nodefault" |
	LC_ALL=C sort -u - "$tmp/conf.names" >"$tmp/conf.all"
mv "$tmp/conf.all" "$tmp/conf.names"

if [ ! -s "$tmp/conf.names" ] || [ ! -s "$tmp/man.names" ] || [ ! -s "$tmp/code.names" ]; then
	printf 'config/suitd.conf: %s keys, man/suitd.conf.5: %s keys, config/config.c: %s keys\n' \
		"$(wc -l <"$tmp/conf.names")" "$(wc -l <"$tmp/man.names")" \
		"$(wc -l <"$tmp/code.names")" >"$tmp/err"
	not_ok "found the keys in config/suitd.conf, man/suitd.conf.5 and config/config.c" "$tmp/err"
fi

# names_subset A B WHAT: every name in A is in B.
names_subset() {
	LC_ALL=C comm -23 "$tmp/$1.names" "$tmp/$2.names" | sed "s/^/missing: /" >"$tmp/err"
	if [ -s "$tmp/err" ]; then
		not_ok "$3" "$tmp/err"
	else
		ok "$3"
	fi
}
names_subset conf man "every key of config/suitd.conf is documented in man/suitd.conf.5"
names_subset man conf "every key documented in man/suitd.conf.5 is in config/suitd.conf"
names_subset code conf "every key of keys[] in config/config.c is in config/suitd.conf"
names_subset conf code "every key of config/suitd.conf is in keys[] of config/config.c"

# same_defaults A WHAT: for keys both name, A shows the default of config.c.
same_defaults() {
	LC_ALL=C join -t "$tab" "$tmp/$1.keys" "$tmp/code.keys" |
		awk -F'\t' '$2 != $3 { print $1 ": \"" $2 "\", config.c: \"" $3 "\"" }' >"$tmp/err"
	if [ -s "$tmp/err" ]; then
		not_ok "$2" "$tmp/err"
	else
		ok "$2"
	fi
}
same_defaults conf "config/suitd.conf shows the defaults of config/config.c"
same_defaults man "man/suitd.conf.5 states the defaults of config/config.c"

# --- (c) make install, then systemd-analyze verify on the installed unit -----

root=$tmp/root
installed=no
# The binary given is installed: BUILD is its folder.
if make -s install BUILD="$(dirname "$bin")" DESTDIR="$root" PREFIX=/usr >"$tmp/make.log" 2>&1; then
	installed=yes
	: >"$tmp/err"
	for f in usr/bin/suitd usr/bin/suit-sim etc/suitd/suitd.conf usr/share/man/man8/suitd.8 \
		usr/share/man/man5/suitd.conf.5 usr/share/man/man1/suit-sim.1 \
		usr/bin/suitctl usr/share/man/man1/suitctl.1 usr/share/bash-completion/completions/suitctl \
		usr/lib/systemd/system/suitd.service usr/lib/systemd/system/suitd.socket \
		usr/lib/sysusers.d/suitd.conf usr/lib/tmpfiles.d/suitd.conf; do
		[ -f "$root/$f" ] || echo "not installed: /$f" >>"$tmp/err"
	done
	if [ -s "$tmp/err" ]; then
		not_ok "make install DESTDIR=... PREFIX=/usr installs every file" "$tmp/err"
	else
		ok "make install DESTDIR=... PREFIX=/usr installs every file"
	fi
else
	not_ok "make install DESTDIR=... PREFIX=/usr" "$tmp/make.log"
fi

unit=$root/usr/lib/systemd/system/suitd.service
if [ $installed = yes ]; then
	grep -n '@[A-Z_]*@' "$unit" >"$tmp/err" || true
	if ! grep -q '^ExecStart=/usr/bin/suitd -c /etc/suitd/suitd.conf$' "$unit"; then
		echo "no line 'ExecStart=/usr/bin/suitd -c /etc/suitd/suitd.conf'" >>"$tmp/err"
	fi
	if [ -s "$tmp/err" ]; then
		not_ok "installed suitd.service has its paths filled in" "$tmp/err"
	else
		ok "installed suitd.service has its paths filled in"
	fi
fi

if ! have systemd-analyze; then
	not_ok "make verify-install: systemd-analyze verify suitd.service suitd.socket (systemd-analyze not found)"
elif [ $installed = no ]; then
	not_ok "make verify-install: systemd-analyze verify suitd.service suitd.socket (make install failed)"
elif make -s --no-print-directory verify-install DESTDIR="$root" PREFIX=/usr >"$tmp/err" 2>&1; then
	ok "make verify-install: systemd-analyze verify suitd.service suitd.socket"
else
	not_ok "make verify-install: systemd-analyze verify suitd.service suitd.socket" "$tmp/err"
fi

# sysusers.d and tmpfiles.d, applied to an empty root.
sys=$tmp/sysroot
mkdir -p "$sys/etc"
if ! have systemd-sysusers || ! have systemd-tmpfiles; then
	not_ok "suitd.sysusers and suitd.tmpfiles apply (systemd-sysusers or systemd-tmpfiles not found)"
else
	if systemd-sysusers --root="$sys" "$PWD/systemd/suitd.sysusers" >"$tmp/err" 2>&1 &&
		grep -q '^suitd:x:[0-9]*:[0-9]*:suitd firmware server:/var/lib/suitd:' "$sys/etc/passwd"; then
		ok "systemd/suitd.sysusers creates the user suitd with home /var/lib/suitd"
	else
		[ -f "$sys/etc/passwd" ] && sed 's/^/passwd: /' "$sys/etc/passwd" >>"$tmp/err"
		not_ok "systemd/suitd.sysusers creates the user suitd with home /var/lib/suitd" "$tmp/err"
	fi
	rc=0
	systemd-tmpfiles --root="$sys" --create "$PWD/systemd/suitd.tmpfiles" >"$tmp/tmpfiles.log" 2>&1 || rc=$?
	# Without root the chown to suitd cannot work; everything else must.
	if [ "$(id -u)" -ne 0 ]; then
		grep -v 'fchownat() of .* failed: Operation not permitted' "$tmp/tmpfiles.log" >"$tmp/err" || true
	else
		cp "$tmp/tmpfiles.log" "$tmp/err"
		[ $rc -eq 0 ] || echo "systemd-tmpfiles exited with status $rc" >>"$tmp/err"
	fi
	# shellcheck disable=SC2012 # one known name; ls -n is the portable stat
	mode=$(ls -ldn "$sys/var/lib/suitd" 2>/dev/null | awk '{ print substr($1, 1, 10) }') || true
	[ "$mode" = drwxr-x--- ] || echo "/var/lib/suitd has mode '$mode', not drwxr-x---" >>"$tmp/err"
	if [ "$(id -u)" -eq 0 ]; then
		want=$(awk -F: '$1 == "suitd" { print $3 ":" $4 }' "$sys/etc/passwd" 2>/dev/null) || true
		# shellcheck disable=SC2012
		have_owner=$(ls -ldn "$sys/var/lib/suitd" 2>/dev/null | awk '{ print $3 ":" $4 }') || true
		[ -n "$want" ] && [ "$want" = "$have_owner" ] ||
			echo "/var/lib/suitd is owned by '$have_owner', not suitd ('$want')" >>"$tmp/err"
	fi
	if [ -s "$tmp/err" ]; then
		not_ok "systemd/suitd.tmpfiles creates /var/lib/suitd 0750 suitd:suitd" "$tmp/err"
	else
		ok "systemd/suitd.tmpfiles creates /var/lib/suitd 0750 suitd:suitd"
	fi
fi

# --- (d) the configurations pass check-config -------------------------------

# config/dev.conf in a copy of its folder layout, so that the answer does not
# depend on the state `make run` left in .dev/ (its paths are ../.dev/...).
mkdir -p "$tmp/dev/config" "$tmp/dev/.dev"
cp config/dev.conf "$tmp/dev/config/dev.conf"
# What `make run` (tools/dev-run.sh) creates before the first start.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/dev/.dev/author.key" 2>/dev/null
openssl pkey -in "$tmp/dev/.dev/author.key" -pubout -out "$tmp/dev/.dev/author.pub"
if "$bin" -c "$tmp/dev/config/dev.conf" check-config >"$tmp/out" 2>"$tmp/err" &&
	[ "$(cat "$tmp/out")" = "configuration OK" ]; then
	ok "suitd -c config/dev.conf check-config prints 'configuration OK'"
else
	cat "$tmp/out" >>"$tmp/err"
	not_ok "suitd -c config/dev.conf check-config prints 'configuration OK'" "$tmp/err"
fi

# config/suitd.conf names /var/lib/suitd: every value must still load when
# that folder is moved to a temporary one (with a generated certificate).
mkdir -p "$tmp/example/state"
sed -e "s|/var/lib/suitd|$tmp/example/state|g" -e 's/^tls_self_signed = off$/tls_self_signed = on/' \
	config/suitd.conf >"$tmp/example/suitd.conf"
if "$bin" -c "$tmp/example/suitd.conf" check-config >"$tmp/out" 2>"$tmp/err" &&
	[ "$(cat "$tmp/out")" = "configuration OK" ]; then
	ok "config/suitd.conf (state folder moved) passes check-config"
else
	cat "$tmp/out" >>"$tmp/err"
	not_ok "config/suitd.conf (state folder moved) passes check-config" "$tmp/err"
fi

# api/openapi.yaml must be YAML that a generator can read: every path has
# operations, every operation has an operationId and responses with
# three-digit status codes. (check_router compares its routes with the
# daemon's; this checks the document as a whole.)
if python3 - api/openapi.yaml >"$tmp/openapi.err" 2>&1 <<'PY'; then
import sys
import yaml

doc = yaml.safe_load(open(sys.argv[1], encoding="utf-8"))
bad = []
for path, item in doc["paths"].items():
    ops = {m: o for m, o in item.items() if m in ("get", "put", "post", "delete", "patch", "head")}
    if not ops:
        bad.append(f"{path}: no operation")
    for method, op in ops.items():
        if not op.get("operationId"):
            bad.append(f"{method.upper()} {path}: no operationId")
        codes = list(op.get("responses", {}))
        if not codes or any(not (isinstance(c, str) and len(c) == 3 and c.isdigit()) for c in codes):
            bad.append(f"{method.upper()} {path}: responses {codes}")
print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
	ok "api/openapi.yaml parses, every operation has an operationId and status codes"
else
	not_ok "api/openapi.yaml parses, every operation has an operationId and status codes" "$tmp/openapi.err"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
