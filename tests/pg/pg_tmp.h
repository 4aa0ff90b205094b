/* A throwaway PostgreSQL server for Check suites (issue 21): a C face of
 * tests/pg/pg_tmp.sh, which does the work (initdb, a free port, fsync on,
 * the role and its password file, the watchdog that tears the server down
 * when the test process dies). */
#ifndef SUITD_TESTS_PG_TMP_H
#define SUITD_TESTS_PG_TMP_H

#include <stdbool.h>
#include <stddef.h>

struct pg_tmp {
	char dir[64];		 /* /tmp/suitd-pg-XXXXXX: data, socket, files */
	char url[256];		 /* role suitd over TCP 127.0.0.1 (password) */
	char url_socket[256];	 /* role suitd over the unix socket (password) */
	char url_admin[256];	 /* superuser pgtmp over the socket (trust) */
	char password_file[128]; /* the role's password, mode 0600 */
	unsigned port;
};

/* Start a server owned by the calling process (it is stopped by a watchdog
 * if the process dies without pg_tmp_stop). The script is found under
 * $SUITD_SRC (default "."). false, with the reason on stderr, on failure. */
bool pg_tmp_start(struct pg_tmp *t);
/* Stop it at once (-m immediate) and remove its directory. */
void pg_tmp_stop(struct pg_tmp *t);
/* Restart it at once (-m immediate: as after a crash of the server, every
 * connection cut) and wait until it accepts connections; same port. */
bool pg_tmp_restart(const struct pg_tmp *t);
/* Begin an outage: stop it at once (-m immediate), keep it down for
 * seconds, then start it again, in the background (tests/pg/pg_tmp.sh
 * restart DIR SECONDS &); returns once the stop has been asked for. false
 * if the command could not be started. */
bool pg_tmp_outage(const struct pg_tmp *t, unsigned seconds);
/* CREATE DATABASE name OWNER suitd; url of it (role suitd over TCP) into
 * ret_url. false on failure. */
bool pg_tmp_createdb(const struct pg_tmp *t, const char *name, char *ret_url, size_t size);

#endif
