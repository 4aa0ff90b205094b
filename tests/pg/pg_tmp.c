/* Throwaway PostgreSQL for Check suites: see pg_tmp.h. */
#include "tests/pg/pg_tmp.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *src_dir(void)
{
	const char *s = getenv("SUITD_SRC");

	return s && s[0] ? s : ".";
}

/* First line of DIR/name into buf, newline stripped. */
static bool read_line(const struct pg_tmp *t, const char *name, char *buf, size_t size)
{
	char path[128];
	FILE *f;
	bool ok;

	snprintf(path, sizeof(path), "%s/%s", t->dir, name);
	f = fopen(path, "r");
	if (!f)
		return false;
	ok = fgets(buf, (int)size, f) != NULL;
	fclose(f);
	if (ok)
		buf[strcspn(buf, "\n")] = '\0';
	return ok;
}

/* tests/pg/pg_tmp.sh VERB DIR, then tail (more arguments, redirections)
 * as it is, through the shell; true when it exits 0. */
static bool script(const struct pg_tmp *t, const char *verb, const char *tail)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "'%s/tests/pg/pg_tmp.sh' %s '%s'%s", src_dir(), verb, t->dir,
		 tail);
	return system(cmd) == 0;
}

bool pg_tmp_start(struct pg_tmp *t)
{
	char owner[32], port[16];

	memset(t, 0, sizeof(*t));
	snprintf(t->dir, sizeof(t->dir), "/tmp/suitd-pg-XXXXXX");
	if (!mkdtemp(t->dir)) {
		perror("pg_tmp: mkdtemp");
		return false;
	}
	snprintf(owner, sizeof(owner), " %ld", (long)getpid());
	if (!script(t, "start", owner)) {
		fprintf(stderr, "pg_tmp: starting a server in '%s' failed\n", t->dir);
		pg_tmp_stop(t);
		return false;
	}
	snprintf(t->password_file, sizeof(t->password_file), "%s/password", t->dir);
	if (!read_line(t, "url", t->url, sizeof(t->url)) ||
	    !read_line(t, "url_socket", t->url_socket, sizeof(t->url_socket)) ||
	    !read_line(t, "url_admin", t->url_admin, sizeof(t->url_admin)) ||
	    !read_line(t, "port", port, sizeof(port))) {
		fprintf(stderr, "pg_tmp: the server's files are missing in '%s'\n", t->dir);
		pg_tmp_stop(t);
		return false;
	}
	t->port = (unsigned)strtoul(port, NULL, 10);
	return true;
}

void pg_tmp_stop(struct pg_tmp *t)
{
	if (!t->dir[0])
		return;
	if (!script(t, "stop", ""))
		fprintf(stderr, "pg_tmp: stopping the server in '%s' failed\n", t->dir);
	t->dir[0] = '\0';
}

bool pg_tmp_restart(const struct pg_tmp *t)
{
	return script(t, "restart", "");
}

bool pg_tmp_outage(const struct pg_tmp *t, unsigned seconds)
{
	char tail[48];

	snprintf(tail, sizeof(tail), " %u >/dev/null 2>&1 &", seconds);
	return script(t, "restart", tail);
}

bool pg_tmp_createdb(const struct pg_tmp *t, const char *name, char *ret_url, size_t size)
{
	char sql[160];
	PGconn *c = PQconnectdb(t->url_admin);
	PGresult *r;
	bool ok;

	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "pg_tmp: %s", PQerrorMessage(c));
		PQfinish(c);
		return false;
	}
	/* name comes from the test itself: a plain identifier. */
	snprintf(sql, sizeof(sql), "CREATE DATABASE \"%s\" OWNER suitd", name);
	r = PQexec(c, sql);
	ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		fprintf(stderr, "pg_tmp: %s", PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	snprintf(ret_url, size, "postgresql://suitd@127.0.0.1:%u/%s", t->port, name);
	return ok;
}
