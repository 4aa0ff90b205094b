/* suitd backup and the integrity check on the live SQLite database. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "storage/sqlite/sqlite.h"

enum err sqlite_backup(struct storage *s, const char *out, struct diag *d)
{
	struct db *db;
	sqlite3_stmt *st = NULL;
	CLEANUP_FREE char *tmp = NULL;
	enum err e = db_get(s, &db);
	size_t n;
	int rc, fd;

	if (e)
		return diag_set(d, e, "", "cannot open database");
	if (access(out, F_OK) == 0)
		return diag_set(d, ERR_EXISTS, "", "'%s' exists: refusing to overwrite it", out);
	n = strlen(out) + 32;
	tmp = malloc(n);
	if (!tmp)
		return diag_set(d, ERR_NOMEM, "", "out of memory");
	snprintf(tmp, n, "%s.partial-%ld", out, (long)getpid());
	unlink(tmp);
	/* VACUUM INTO reads one snapshot: consistent while writers go on. */
	rc = sqlite3_prepare_v2(sqlite_db(db)->handle, "VACUUM INTO ?1", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 1, tmp, -1, SQLITE_TRANSIENT);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_DONE) {
		diag_set(d, ERR_IO, "", "backup to '%s' failed: %s", out,
			 sqlite3_errmsg(sqlite_db(db)->handle));
		sqlite3_finalize(st);
		unlink(tmp);
		return ERR_IO;
	}
	sqlite3_finalize(st);
	fd = open(tmp, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0) {
		e = diag_set(d, ERR_IO, "", "cannot sync '%s': %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(tmp);
		return e;
	}
	close(fd);
	/* link() does not replace an existing file, unlike rename(). */
	if (link(tmp, out) != 0) {
		e = diag_set(d, errno == EEXIST ? ERR_EXISTS : ERR_IO, "", "cannot create '%s': %s",
			     out, strerror(errno));
		unlink(tmp);
		return e;
	}
	unlink(tmp);
	/* The new name must survive a crash too: sync the folder. */
	CLEANUP_FREE char *dir = strdup(out);
	char *slash = dir ? strrchr(dir, '/') : NULL;
	if (slash)
		*slash = '\0';
	fd = open(slash ? (slash == dir ? "/" : dir) : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	return ERR_OK;
}

enum err sqlite_integrity_check(struct storage *s, bool *ret_ok)
{
	struct db *db;
	sqlite3_stmt *st = NULL;
	enum err e = db_get(s, &db);
	int rc;

	if (e)
		return e;
	rc = sqlite3_prepare_v2(sqlite_db(db)->handle, "PRAGMA integrity_check", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(st);
		return ERR_STORAGE;
	}
	const unsigned char *t = sqlite3_column_text(st, 0);
	*ret_ok = t && strcmp((const char *)t, "ok") == 0;
	sqlite3_finalize(st);
	return ERR_OK;
}
