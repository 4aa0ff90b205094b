/* Connect to PostgreSQL: see pg_conn.h. */
#include "storage/postgresql/pg_conn.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/postgresql/pg_error.h"

enum err pg_password_file_read(const char *path, char *ret_password, size_t size, struct diag *d)
{
	char buf[PG_PASSWORD_MAX + 3]; /* the password, "\r\n", one byte to see "too long" */
	struct stat st;
	size_t n = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return diag_set(d, ERR_IO, "password_file", "cannot open '%s': %s", path,
				strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return diag_set(d, ERR_CONFIG, "password_file", "'%s' is not a regular file", path);
	}
	/* As libpq refuses a ~/.pgpass others can read. */
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		close(fd);
		return diag_set(d, ERR_CONFIG, "password_file",
				"'%s' is accessible by group or others (mode %04o): chmod 0600 it",
				path, (unsigned)(st.st_mode & 07777));
	}
	while (n < sizeof(buf)) {
		ssize_t r = read(fd, buf + n, sizeof(buf) - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int err = errno;
			close(fd);
			explicit_bzero(buf, sizeof(buf));
			return diag_set(d, ERR_IO, "password_file", "cannot read '%s': %s", path,
					strerror(err));
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	if (n > PG_PASSWORD_MAX || n + 1 > size) {
		explicit_bzero(buf, sizeof(buf));
		return diag_set(d, ERR_TOO_LARGE, "password_file",
				"'%s' holds more than %d bytes (one line: the password)", path,
				PG_PASSWORD_MAX);
	}
	if (n == 0 || memchr(buf, '\0', n) || memchr(buf, '\n', n)) {
		explicit_bzero(buf, sizeof(buf));
		return diag_set(d, ERR_CONFIG, "password_file",
				"'%s' must hold the password on one line", path);
	}
	memcpy(ret_password, buf, n);
	ret_password[n] = '\0';
	explicit_bzero(buf, sizeof(buf));
	return ERR_OK;
}

/* libpq prints NOTICEs and WARNINGs to stderr by default; this layer
 * returns codes and never writes to the log (STYLE.md "Logging"). */
static void notice_ignore(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* The session's settings, one round trip after the connection. */
static enum err session_setup(PGconn *c, const struct pg_conn_options *opt, struct diag *d)
{
	char ms[16];
	const char *values[1] = {ms};
	PGresult *r;
	enum err e;

	snprintf(ms, sizeof(ms), "%u", opt->statement_timeout_ms);
	PQsetNoticeProcessor(c, notice_ignore, NULL);
	r = PQexecParams(c,
			 "SELECT set_config('statement_timeout', $1, false), "
			 "set_config('client_min_messages', 'warning', false)",
			 1, NULL, values, NULL, NULL, 0);
	e = pg_error_result(c, r, d);
	PQclear(r);
	return e;
}

enum err pg_conn_open(const struct pg_conn_options *opt, PGconn **ret_conn, struct diag *d)
{
	char password[PG_PASSWORD_MAX + 1];
	/* TCP defaults before "dbname": libpq keeps the last value of a
	 * repeated key, so the url's own settings win. Without them a
	 * connection whose packets vanish (a partition, a machine gone without
	 * a RST) blocks its thread for the kernel's retransmissions (about 15
	 * minutes) or, idle, forever: statement_timeout is the server's and
	 * cannot fire when the server never sees the statement, and a
	 * housekeeper would go on believing it holds the lease. With them, a
	 * write unacknowledged for 20 s, an idle connection whose probes go
	 * unanswered (after 10 s, 3 probes 5 s apart; tcp_user_timeout bounds
	 * that too) or a connect (each host) that takes 10 s fails, and the
	 * thread reconnects (docs/cluster.md, "A network partition"). */
	const char *keys[10] = {"keepalives",
				"keepalives_idle",
				"keepalives_interval",
				"keepalives_count",
				"tcp_user_timeout",
				"connect_timeout",
				"dbname",
				NULL,
				NULL,
				NULL};
	const char *values[10] = {"1", "10", "5", "3", "20000", "10", opt->url, NULL, NULL, NULL};
	unsigned k = 7;
	PGconn *c;
	enum err e;

	if (opt->password_file) {
		e = pg_password_file_read(opt->password_file, password, sizeof(password), d);
		if (e)
			return e;
		keys[k] = "password";
		values[k++] = password;
	}
	/* Without a name of its own, the server's logs and pg_stat_activity
	 * show the connections as suitd's. */
	keys[k] = "fallback_application_name";
	values[k++] = "suitd";
	/* expand_dbname: the url's parameters, then these over them. */
	c = PQconnectdbParams(keys, values, 1);
	explicit_bzero(password, sizeof(password));
	if (!c)
		return diag_set(d, ERR_NOMEM, "database", "out of memory for a connection");
	if (PQstatus(c) != CONNECTION_OK) {
		char why[sizeof(d->text)];
		/* A refused password or role is the configuration's fault; a
		 * server that does not answer may come back. libpq names no
		 * SQLSTATE here, so its message tells them apart. */
		const char *m = PQerrorMessage(c);
		bool config = strstr(m, "authentication failed") || strstr(m, "password") ||
			      strstr(m, "does not exist") || strstr(m, "invalid");
		/* 53300 (max_connections or the role's CONNECTION LIMIT
		 * used up) and 57P03 (starting up, shutting down,
		 * recovering) pass, whatever words the role's name holds. */
		bool passes = strstr(m, "too many c") ||
			      strstr(m, "connection slots are reserved") ||
			      strstr(m, "the database system is");
		e = config && !passes ? ERR_CONFIG : ERR_STORAGE_UNAVAILABLE;
		snprintf(why, sizeof(why), "%s", m);
		why[strcspn(why, "\n")] = '\0';
		PQfinish(c);
		return diag_set(d, e, "database", "cannot connect: %s", why);
	}
	e = session_setup(c, opt, d);
	if (e) {
		PQfinish(c);
		return e;
	}
	*ret_conn = c;
	return ERR_OK;
}
