# suitd — build, test, run, install. `make run` and `make check` are the two
# commands a newcomer needs (README.md).

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
DESTDIR ?=

SANITIZE ?= 0
ifeq ($(SANITIZE),1)
BUILD ?= build/asan
OPT = -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
OPT_LD = -fsanitize=address,undefined
TEST_ENV = CK_FORK=no ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1
else ifeq ($(SANITIZE),thread)
# ThreadSanitizer: the daemon's threads (MHD pool, group commits, WAL
# checkpoints, housekeeping) and the tests' own. The first report stops
# the process, so a race fails the suite.
BUILD ?= build/tsan
OPT = -O1 -g -fsanitize=thread -fno-omit-frame-pointer
OPT_LD = -fsanitize=thread
TEST_ENV = CK_FORK=no TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
else
BUILD ?= build
OPT = -O2 -D_FORTIFY_SOURCE=2
OPT_LD =
TEST_ENV =
endif

VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.1.0)
CC ?= cc
PKG_CONFIG ?= pkg-config
PKGS = libmicrohttpd gnutls jansson sqlite3 libcrypto inih libsystemd libcbor libcurl libpq
TEST_PKGS = check libcurl
# tools/suit-sim, the device simulator: suit/ and common/, plus libcurl.
SIM_PKGS = libcurl libcrypto libcbor jansson
# tools/suitctl, the remote command line: the same, plus libinih (profiles).
CTL_PKGS = libcurl libcrypto libcbor jansson inih

WARN = -Wall -Wextra -Werror -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wformat=2 -Wvla -Wconversion -Wsign-conversion -Wimplicit-fallthrough
CFLAGS ?= -std=c11 -g $(OPT) -fstack-protector-strong -fPIE $(WARN)
CPPFLAGS += -D_GNU_SOURCE -I. -I$(BUILD)/gen
LDFLAGS ?= -pie -Wl,-z,relro,-z,now $(OPT_LD)

PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null) -lpthread
TEST_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(TEST_PKGS) 2>/dev/null)
TEST_LIBS = $(shell $(PKG_CONFIG) --libs $(TEST_PKGS) 2>/dev/null)
SIM_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(SIM_PKGS) 2>/dev/null)
SIM_LIBS = $(shell $(PKG_CONFIG) --libs $(SIM_PKGS) 2>/dev/null) -lm
CTL_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(CTL_PKGS) 2>/dev/null)
CTL_LIBS = $(shell $(PKG_CONFIG) --libs $(CTL_PKGS) 2>/dev/null)

# Layers, bottom up (DESIGN.md §1).
LIB_SRC = $(wildcard common/*.c config/*.c storage/*.c storage/sqlite/*.c storage/postgresql/*.c suit/*.c tracker/*.c events/*.c api/*.c api/ddi/*.c) \
	server/router.c server/routes.c server/ratelimit.c server/daemon.c server/failure_log.c server/client_cert.c server/tls.c server/tls_cache.c server/tls_groups.c server/tls_park.c server/cli.c server/cli_manifest.c server/cli_gc.c server/cli_restore.c server/cli_import.c server/cli_migrate_data.c server/run.c
LIB_OBJ = $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/migrations.o \
	$(BUILD)/obj/gen/pg_migrations.o $(BUILD)/obj/gen/ui_assets.o
MIGRATIONS = $(sort $(wildcard migrations/sqlite/*.sql))
# The PostgreSQL schema (issue 21): its own numbering, its own array.
PG_MIGRATIONS = $(sort $(wildcard migrations/postgresql/*.sql))
# The web console (ui/): index.html and the files it loads, embedded.
UI_FILES = $(sort $(filter-out ui/index.html,$(wildcard ui/*)))
SIM_OBJ = $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tools/suit-sim/*.c))
SIM_LIB_OBJ = $(filter $(BUILD)/obj/common/% $(BUILD)/obj/suit/%,$(LIB_OBJ))
CTL_OBJ = $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tools/suitctl/*.c))

FUZZ_TARGETS = $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_REPLAY = $(FUZZ_TARGETS:%=$(BUILD)/tests/replay_%)
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS = -std=c11 -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
UNIT_TESTS = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/check_*.c))
# Suites of tests/pg/ (each with its throwaway PostgreSQL server).
PG_TESTS = $(patsubst tests/pg/%.c,$(BUILD)/tests/%,$(wildcard tests/pg/check_*.c))
E2E_TESTS = $(patsubst tests/e2e/%.c,$(BUILD)/tests/%,$(wildcard tests/e2e/check_*.c))
TEST_SUPPORT = $(BUILD)/obj/tests/e2e/harness.o $(BUILD)/obj/tests/e2e/fleet.o \
	$(BUILD)/obj/tests/pg/pg_tmp.o

.SECONDARY:

.PHONY: FORCE all deps deps-check deps-fuzz deps-coverage run dev-reset check check-cluster check-pg e2e-pg storage-dialect stress coverage fuzz lint install verify-install clean

all: $(BUILD)/suitd $(BUILD)/suit-sim $(BUILD)/suitctl

deps:
	@tools/deps.sh build

deps-check:
	@tools/deps.sh check

deps-fuzz:
	@tools/deps.sh fuzz

deps-coverage:
	@tools/deps.sh coverage

$(BUILD)/suitd: $(BUILD)/obj/server/main.o $(LIB_OBJ)
	@echo "  LD $@"; $(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(PKG_LIBS)

$(BUILD)/suit-sim: $(SIM_OBJ) $(SIM_LIB_OBJ)
	@echo "  LD $@"; $(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(SIM_LIBS)

$(SIM_OBJ): PKG_CFLAGS += $(SIM_CFLAGS)

$(BUILD)/suitctl: $(CTL_OBJ) $(SIM_LIB_OBJ)
	@echo "  LD $@"; $(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(CTL_LIBS)

$(CTL_OBJ): PKG_CFLAGS += $(CTL_CFLAGS)

# Its e2e suite runs build/suitctl and build/suit-sim.
$(BUILD)/tests/check_e2e_suitctl: | $(BUILD)/suitctl $(BUILD)/suit-sim

$(BUILD)/obj/%.o: %.c | $(BUILD)/gen/suitd_version.h
	@mkdir -p $(@D)
	@echo "  CC $<"; $(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

# The version from git describe, rewritten only when it changes: the files
# that print it (common/version.h) are rebuilt then, and only then.
$(BUILD)/gen/suitd_version.h: FORCE
	@mkdir -p $(@D)
	@v='#define SUITD_VERSION "$(VERSION)"'; \
		[ -f $@ ] && [ "$$(cat $@)" = "$$v" ] || echo "$$v" >$@

FORCE:

$(BUILD)/gen/migrations.c: $(MIGRATIONS) tools/embed-migrations.sh
	@mkdir -p $(@D)
	tools/embed-migrations.sh $@ $(MIGRATIONS)

$(BUILD)/obj/gen/migrations.o: $(BUILD)/gen/migrations.c
	@mkdir -p $(@D)
	@echo "  CC $<"; $(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/gen/pg_migrations.c: $(PG_MIGRATIONS) tools/embed-migrations.sh
	@mkdir -p $(@D)
	tools/embed-migrations.sh -a pg_migrations $@ $(PG_MIGRATIONS)

$(BUILD)/obj/gen/pg_migrations.o: $(BUILD)/gen/pg_migrations.c
	@mkdir -p $(@D)
	@echo "  CC $<"; $(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# Suites and benches that start a throwaway PostgreSQL (tests/pg/).
$(BUILD)/tests/check_pg_schema: $(BUILD)/obj/tests/pg/pg_tmp.o
# The PostgreSQL backend through the storage API (tests/pg/check_pg_backend.c)
# and the statement texts (tests/pg/check_pg_statements.c).
$(BUILD)/tests/check_pg_backend: $(BUILD)/obj/tests/pg/check_pg_backend.o \
		$(BUILD)/obj/tests/pg/pg_tmp.o $(LIB_OBJ)
	@mkdir -p $(@D)
	@echo "  LD $@"; $(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(PKG_LIBS) $(TEST_LIBS)
$(BUILD)/tests/check_pg_statements: $(BUILD)/obj/tests/pg/check_pg_statements.o \
		$(BUILD)/obj/tests/pg/pg_tmp.o $(LIB_OBJ)
	@mkdir -p $(@D)
	@echo "  LD $@"; $(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(PKG_LIBS) $(TEST_LIBS)

$(BUILD)/gen/ui_assets.c: ui/index.html $(UI_FILES) tools/embed-ui.sh
	@mkdir -p $(@D)
	tools/embed-ui.sh $@ ui/index.html $(UI_FILES)

$(BUILD)/obj/gen/ui_assets.o: $(BUILD)/gen/ui_assets.c
	@mkdir -p $(@D)
	@echo "  CC $<"; $(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/obj/tests/%.o: tests/%.c
	@mkdir -p $(@D)
	@echo "  CC $<"; $(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(TEST_CFLAGS) $(CFLAGS) -Wno-missing-prototypes -Wno-format-truncation -MMD -MP -c -o $@ $<

$(BUILD)/tests/check_%: $(BUILD)/obj/tests/unit/check_%.o $(LIB_OBJ)
	@mkdir -p $(@D)
	@echo "  LD $@"; $(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(PKG_LIBS) $(TEST_LIBS)

$(BUILD)/tests/check_e2e_%: $(BUILD)/obj/tests/e2e/check_e2e_%.o $(TEST_SUPPORT) $(LIB_OBJ)
	@mkdir -p $(@D)
	@echo "  LD $@"; $(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(PKG_LIBS) $(TEST_LIBS)

# Fuzz targets replayed over their seed corpus and saved crash inputs with
# the normal compiler (part of `make check`).
$(BUILD)/tests/replay_%: $(BUILD)/obj/tests/fuzz/driver.o $(BUILD)/obj/tests/fuzz/fuzz_%.o $(LIB_OBJ)
	@mkdir -p $(@D)
	@echo "  LD $@"; $(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(PKG_LIBS)

# libFuzzer builds (clang, ASan+UBSan) in build/fuzz; each target runs for
# FUZZ_SECONDS over a working copy of its seed corpus; crashes are written to
# tests/fuzz/regressions/TARGET/ where `make check` replays them from then on.
FUZZ_OBJ = $(LIB_SRC:%.c=build/fuzz/obj/%.o) build/fuzz/obj/gen/migrations.o \
	build/fuzz/obj/gen/pg_migrations.o build/fuzz/obj/gen/ui_assets.o

build/fuzz/obj/%.o: %.c | build/gen/suitd_version.h
	@mkdir -p $(@D)
	@echo "  CC(fuzz) $<"; clang $(CPPFLAGS) -Ibuild/gen $(PKG_CFLAGS) $(FUZZ_CFLAGS) \
		-fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

build/fuzz/obj/gen/migrations.o: build/gen/migrations.c
	@mkdir -p $(@D)
	clang $(CPPFLAGS) $(FUZZ_CFLAGS) -c -o $@ $<

build/fuzz/obj/gen/pg_migrations.o: build/gen/pg_migrations.c
	@mkdir -p $(@D)
	clang $(CPPFLAGS) $(FUZZ_CFLAGS) -c -o $@ $<

build/fuzz/obj/gen/ui_assets.o: build/gen/ui_assets.c
	@mkdir -p $(@D)
	clang $(CPPFLAGS) $(FUZZ_CFLAGS) -c -o $@ $<

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJ)
	@echo "  LD(fuzz) $@"; clang $(CPPFLAGS) $(PKG_CFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer \
		-o $@ $^ $(PKG_LIBS)

# Line coverage of make check (gcov + lcov) in build/cov: a table per folder;
# fails when suit/, storage/, tracker/ or api/ is below COVERAGE_FLOOR %.
COVERAGE_FLOOR ?= 85
coverage: deps-coverage
	@find build/cov -name '*.gcda' -delete 2>/dev/null || true
	@$(MAKE) --no-print-directory BUILD=build/cov OPT="-O0 -fprofile-update=atomic --coverage" \
		OPT_LD=--coverage check
	@lcov --quiet --capture --directory build/cov/obj --output-file build/cov/lcov.info \
		>build/cov/lcov.log 2>&1 || { cat build/cov/lcov.log; exit 1; }
	@tools/coverage-summary.sh build/cov/lcov.info $(COVERAGE_FLOOR) suit storage tracker api

fuzz: deps-fuzz
	@$(MAKE) --no-print-directory BUILD=build $(FUZZ_TARGETS:%=build/fuzz/fuzz_%)
	@set -e; for t in $(FUZZ_TARGETS); do \
		mkdir -p build/fuzz/corpus/$$t tests/fuzz/regressions/$$t; \
		echo "== fuzz_$$t for $(FUZZ_SECONDS) s"; \
		build/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			-artifact_prefix=tests/fuzz/regressions/$$t/ \
			build/fuzz/corpus/$$t tests/fuzz/corpus/$$t 2>build/fuzz/$$t.log || \
			{ tail -40 build/fuzz/$$t.log; exit 1; }; \
		grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss_mb)' build/fuzz/$$t.log \
			| tr '\n' ' '; echo; \
	done

# `make run CONF=FILE DEV_STATE=DIR`: another configuration, and the folder
# of its admin key (one per database; tools/dev-run.sh).
CONF ?= config/dev.conf
DEV_STATE ?= .dev
run: deps all
	@DEV_STATE='$(DEV_STATE)' tools/dev-run.sh $(BUILD)/suitd '$(CONF)'

# Removes DEV_STATE (.dev/): make run's database, keys, certificate and the
# tour's files. Nothing else.
dev-reset:
	@DEV_STATE='$(DEV_STATE)' tools/dev-reset.sh

# The e2e suites that run a second time on PostgreSQL (issue 21): each
# suite process starts a throwaway server (tests/pg/pg_tmp.sh) and every
# test a database of its own on it (tests/e2e/harness.c). A suite is listed
# once it passes fully there; tests about SQLite itself print a SKIP line
# instead (docs/design.md "Every e2e suite on both backends").
# The sanitizer builds run the PostgreSQL pass over the suites that drive
# the backend hardest (every statement kind, the group commit, uploads,
# the fan-out, the threads that keep several nodes coherent) and every
# suite on SQLite: all of them twice more would
# take .ci/run past its 45 minutes; `make check-pg SANITIZE=1
# E2E_PG_SUITES="..."` runs any of the others.
ifneq ($(SANITIZE),0)
E2E_PG_SUITES ?= cluster devices deployments reports payloads
endif
E2E_PG_SUITES ?= cluster ddi dependencies deployments devices events foundation hostile import inventory \
	listen manifests metrics payloads reports restore rollouts scale sim suitctl tls tokens ui \
	webhooks
E2E_PG_TESTS = $(E2E_PG_SUITES:%=$(BUILD)/tests/check_e2e_%)

# The crash-consistency loop on PostgreSQL (kill -9 of suitd, a crash of the
# database server under a running suitd, both; tests/crash/run.sh): 3
# iterations, one of each, about 20 s. Not in the sanitizer builds (.ci/run's
# 45 minutes): the C paths it drives are covered there by check_pg_backend
# (a lost connection, the group commit's reconnect) and the e2e-pg pass;
# `BACKEND=postgresql SUITD_BIN=... tests/crash/run.sh` takes any build.
ifeq ($(SANITIZE),0)
CRASH_PG = @$(TEST_ENV) BACKEND=postgresql SUITD_BIN=$(CURDIR)/$(BUILD)/suitd tests/crash/run.sh 3
endif

# Unit suites, then end-to-end suites against the real binary on SQLite and
# on PostgreSQL (E2E_PG_SUITES), the web console in a headless chromium
# (tests/ui/), then the checks on the shipped files (man pages, systemd
# unit, example config), SWUpdate as a hawkBit DDI device
# (tests/ddi/swupdate.py, as root), make run and the README tour
# (tests/tour.sh), crash consistency (SQLite; PostgreSQL too unless a
# sanitizer build), and the cluster behind haproxy (tests/cluster/run.sh,
# small; not in the sanitizer builds: it runs no C code that
# check_e2e_cluster does not already run there, and CI's time is short).
# The fuzz replays run on PostgreSQL too where the target opens a storage
# (tests/fuzz/replay.sh). The sanitizer builds leave out the console in
# chromium and the README tour as well (.ci/run's 45 minutes): the
# daemon code they drive is driven there by check_e2e_ui, check_e2e_events
# and the other e2e suites.
check: deps-check storage-dialect
	@$(MAKE) --no-print-directory all $(UNIT_TESTS) $(PG_TESTS) $(E2E_TESTS) $(FUZZ_REPLAY)
	@set -e; for t in $(UNIT_TESTS) $(PG_TESTS) $(E2E_TESTS); do \
		echo "== $$t"; \
		$(TEST_ENV) SUITD_TEST_BACKEND=sqlite SUITD_BIN=$(CURDIR)/$(BUILD)/suitd \
			SUITD_SRC=$(CURDIR) $$t; \
	done
	@$(MAKE) --no-print-directory e2e-pg
ifeq ($(SANITIZE),0)
	@echo "== tests/ui (the web console in chromium)"; tests/ui/run.sh $(BUILD)
endif
	@$(TEST_ENV) tests/fuzz/replay.sh $(BUILD) $(FUZZ_TARGETS)
	@tests/files.sh $(BUILD)/suitd
	@$(TEST_ENV) tests/ddi/swupdate.py $(BUILD)
ifeq ($(SANITIZE),0)
	@$(TEST_ENV) tests/tour.sh $(BUILD)
endif
	@$(TEST_ENV) SUITD_BIN=$(CURDIR)/$(BUILD)/suitd tests/crash/run.sh 3
	$(CRASH_PG)
ifeq ($(SANITIZE),0)
	@echo "== tests/cluster/run.sh (3 nodes behind haproxy, small)"
	@SUITD_BIN=$(CURDIR)/$(BUILD)/suitd tests/cluster/run.sh
endif

# The cluster suite at full size: a CLUSTER_DEVICES rollout through haproxy
# while nodes are killed, then one across a PostgreSQL restart, a node cut
# off from PostgreSQL (iptables), a rollout across a failover to a
# streaming replica.
CLUSTER_DEVICES ?= 1000
check-cluster: deps-check
	@$(MAKE) --no-print-directory all
	@CLUSTER_DEVICES=$(CLUSTER_DEVICES) SUITD_BIN=$(CURDIR)/$(BUILD)/suitd tests/cluster/run.sh

# Only the PostgreSQL pass of the e2e suites.
check-pg: deps-check
	@$(MAKE) --no-print-directory all $(E2E_PG_TESTS)
	@$(MAKE) --no-print-directory e2e-pg

# The PostgreSQL pass itself (binaries built): each suite's output, then a
# count of the tests it skipped (SKIP lines: SQLite-only, not passes).
e2e-pg:
	@set -e; mkdir -p $(BUILD)/tests/pg-logs; skipped=0; \
	for t in $(E2E_PG_TESTS); do \
		echo "== $$t (postgresql)"; \
		log=$(BUILD)/tests/pg-logs/$${t##*/}.log; \
		rc=0; $(TEST_ENV) SUITD_TEST_BACKEND=postgresql SUITD_BIN=$(CURDIR)/$(BUILD)/suitd \
			SUITD_SRC=$(CURDIR) $$t >$$log 2>&1 || rc=$$?; \
		cat $$log; \
		[ $$rc -eq 0 ] || exit $$rc; \
		skipped=$$((skipped + $$(grep -c '^SKIP ' $$log || true))); \
	done; \
	echo "== postgresql: $(words $(E2E_PG_SUITES)) e2e suites passed, $$skipped tests skipped (SQLite only)"

# The device-token revocation race test (issue 23) at full size: make check
# runs it with 1000 revocations, this with STRESS_ROTATIONS.
STRESS_ROTATIONS ?= 20000
stress: deps-check
	@$(MAKE) --no-print-directory $(BUILD)/suitd $(BUILD)/tests/check_e2e_tokens
	@$(TEST_ENV) SUITD_STRESS_ROTATIONS=$(STRESS_ROTATIONS) SUITD_BIN=$(CURDIR)/$(BUILD)/suitd \
		SUITD_SRC=$(CURDIR) $(BUILD)/tests/check_e2e_tokens

# The shared code of storage/ speaks no SQL dialect (issue 21): SQLite's API
# only in storage/sqlite/, libpq's only in storage/postgresql/ (sql.h,
# backend.h; docs/design.md "Storage layout").
STORAGE_SHARED = $(wildcard storage/*.c storage/*.h)
storage-dialect:
	@! grep -nE 'sqlite3|SQLITE_|libpq-fe\.h|\bPQ[a-z]+\(' $(STORAGE_SHARED) \
		|| { echo "SQL dialect API in shared storage/ code (see storage/sql.h)"; exit 1; }

lint: storage-dialect
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability --inline-suppr \
		--suppress=missingIncludeSystem --suppress=memleak -I. $$(git ls-files '*.c')
	@# memleak: cppcheck does not know __attribute__((cleanup)); LeakSanitizer
	@# in `make check SANITIZE=1` covers leaks instead.
	clang-tidy --quiet $$(git ls-files 'common/*.c' 'config/*.c' 'storage/*.c' 'suit/*.c' 'tracker/*.c' 'api/*.c' 'server/*.c' 'tools/*.c') \
		-- $(CPPFLAGS) $(PKG_CFLAGS) -std=c11
	@! git grep -nE '\b(strcpy|strcat|strncpy|sprintf|vsprintf|strtok|atoi|gets)\(' -- '*.c' '*.h' \
		|| { echo "banned function used (see STYLE.md)"; exit 1; }

install: $(BUILD)/suitd $(BUILD)/suit-sim $(BUILD)/suitctl
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSCONFDIR)/suitd $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR)
	install -m 0755 $(BUILD)/suitd $(DESTDIR)$(BINDIR)/suitd
	install -m 0755 $(BUILD)/suit-sim $(DESTDIR)$(BINDIR)/suit-sim
	install -m 0755 $(BUILD)/suitctl $(DESTDIR)$(BINDIR)/suitctl
	test -e $(DESTDIR)$(SYSCONFDIR)/suitd/suitd.conf || \
		install -m 0644 config/suitd.conf $(DESTDIR)$(SYSCONFDIR)/suitd/suitd.conf
	install -m 0644 man/suitd.8 $(DESTDIR)$(MANDIR)/man8/suitd.8
	install -m 0644 man/suitd.conf.5 $(DESTDIR)$(MANDIR)/man5/suitd.conf.5
	install -m 0644 man/suit-sim.1 $(DESTDIR)$(MANDIR)/man1/suit-sim.1
	install -m 0644 man/suitctl.1 $(DESTDIR)$(MANDIR)/man1/suitctl.1
	install -d $(DESTDIR)$(BASHCOMPDIR)
	install -m 0644 tools/suitctl/suitctl.bash $(DESTDIR)$(BASHCOMPDIR)/suitctl
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' systemd/suitd.service \
		> $(DESTDIR)$(UNITDIR)/suitd.service
	install -m 0644 systemd/suitd.socket $(DESTDIR)$(UNITDIR)/suitd.socket
	install -m 0644 systemd/suitd.sysusers $(DESTDIR)$(SYSUSERSDIR)/suitd.conf
	install -m 0644 systemd/suitd.tmpfiles $(DESTDIR)$(TMPFILESDIR)/suitd.conf

# systemd-analyze verify on the units `make install` installed, with the
# same PREFIX and DESTDIR (docs/operations.md; tools/verify-units.sh).
verify-install:
	@tools/verify-units.sh '$(DESTDIR)' '$(UNITDIR)' '$(BINDIR)' '$(SYSCONFDIR)' '$(MANDIR)'

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
