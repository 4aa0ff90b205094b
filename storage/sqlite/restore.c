#include "storage/restore.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/cleanup.h"
#include "storage/migrations.h"

static void cleanup_sqlite(sqlite3 **h)
{
	sqlite3_close(*h); /* a no-op for NULL */
}
#define CLEANUP_SQLITE __attribute__((cleanup(cleanup_sqlite)))

/* Column 0 of the first row of sql as text into out ("" without a row). */
static int query_text(sqlite3 *h, const char *sql, char *out, size_t size)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(h, sql, -1, &st, NULL);

	out[0] = '\0';
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);
		snprintf(out, size, "%s", t ? (const char *)t : "");
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

enum err storage_backup_check(const char *backup, unsigned *ret_version, struct diag *d)
{
	CLEANUP_SQLITE sqlite3 *h = NULL;
	char text[160];
	unsigned long version;
	int rc = sqlite3_open_v2(backup, &h, SQLITE_OPEN_READONLY, NULL);

	if (rc == SQLITE_OK)
		rc = query_text(h, "PRAGMA user_version", text, sizeof(text));
	if (rc != SQLITE_OK)
		return diag_set(d, ERR_IO, "", "cannot read '%s': %s", backup,
				h ? sqlite3_errmsg(h) : sqlite3_errstr(rc));
	version = strtoul(text, NULL, 10);
	if (version == 0)
		return diag_set(d, ERR_STORAGE, "",
				"'%s' is not a suitd database (schema version 0)", backup);
	if (version > migrations_count)
		return diag_set(d, ERR_DB_TOO_NEW, "",
				"'%s' has schema version %lu, newer than this suitd knows (%u): "
				"restore it with the suitd that wrote it",
				backup, version, migrations_count);
	rc = query_text(h, "PRAGMA integrity_check", text, sizeof(text));
	if (rc != SQLITE_OK || strcmp(text, "ok") != 0)
		return diag_set(d, ERR_STORAGE, "", "'%s' fails PRAGMA integrity_check: %s", backup,
				rc != SQLITE_OK ? sqlite3_errmsg(h) : text);
	/* Its first column: the table holding a row whose parent is missing. */
	rc = query_text(h, "PRAGMA foreign_key_check", text, sizeof(text));
	if (rc != SQLITE_OK || text[0])
		return diag_set(d, ERR_STORAGE, "", "'%s' fails PRAGMA foreign_key_check: %s",
				backup, rc != SQLITE_OK ? sqlite3_errmsg(h) : text);
	*ret_version = (unsigned)version;
	return ERR_OK;
}

static char *path_with(const char *path, const char *suffix)
{
	size_t n = strlen(path) + strlen(suffix) + 1;
	char *out = malloc(n);

	if (out)
		snprintf(out, n, "%s%s", path, suffix);
	return out;
}

static char *folder_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return strdup(".");
	return strndup(path, slash == path ? 1 : (size_t)(slash - path));
}

/* So that a rename in the folder survives a crash. */
static void sync_folder(const char *folder)
{
	int fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

/* An exclusive lock on the database, so that no suitd uses it: a daemon
 * holds a shared lock on the file for as long as it runs (WAL mode), and
 * one that starts now waits. Without persist_wal, closing this connection
 * would delete DATABASE-wal by name, by then maybe the WAL of the copy.
 * A file SQLite cannot read at all is replaced without the lock. */
static enum err lock_database(const char *database, sqlite3 **ret, struct diag *d)
{
	CLEANUP_SQLITE sqlite3 *h = NULL;
	int persist_wal = 1;
	int rc = sqlite3_open_v2(database, &h, SQLITE_OPEN_READWRITE, NULL);

	if (rc != SQLITE_OK)
		return diag_set(d, ERR_IO, "", "cannot open '%s': %s", database,
				h ? sqlite3_errmsg(h) : sqlite3_errstr(rc));
	sqlite3_file_control(h, "main", SQLITE_FCNTL_PERSIST_WAL, &persist_wal);
	rc = sqlite3_exec(h, "PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; COMMIT;", NULL,
			  NULL, NULL);
	if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
		return diag_set(d, ERR_BUSY, "",
				"'%s' is in use by another process (a running suitd?): stop it "
				"first",
				database);
	if (rc == SQLITE_OK) {
		/* Everything into the file: it is kept without its WAL. */
		sqlite3_wal_checkpoint_v2(h, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
		*ret = TAKE_PTR(h);
	}
	return ERR_OK;
}

/* VACUUM INTO tmp from a read-only connection to the backup: a new file of
 * mode 0600 (owned by owner's owner and group, when not NULL) that holds
 * every row of the backup, synced to disk. */
static enum err copy_backup(const char *backup, const char *tmp, const struct stat *owner,
			    struct diag *d)
{
	CLEANUP_SQLITE sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	int fd, rc;

	unlink(tmp);
	/* VACUUM INTO writes into an empty file and keeps its mode and owner. */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return diag_set(d, ERR_IO, "", "cannot create '%s': %s", tmp, strerror(errno));
	if (owner && fchown(fd, owner->st_uid, owner->st_gid) != 0) {
		diag_set(d, ERR_IO, "", "cannot give '%s' to uid %u: %s", tmp,
			 (unsigned)owner->st_uid, strerror(errno));
		close(fd);
		unlink(tmp);
		return ERR_IO;
	}
	close(fd);
	rc = sqlite3_open_v2(backup, &h, SQLITE_OPEN_READONLY, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(h, "VACUUM INTO ?1", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 1, tmp, -1, SQLITE_TRANSIENT);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		diag_set(d, ERR_IO, "", "cannot copy '%s' to '%s': %s", backup, tmp,
			 h ? sqlite3_errmsg(h) : sqlite3_errstr(rc));
		unlink(tmp);
		return ERR_IO;
	}
	fd = open(tmp, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0) {
		diag_set(d, ERR_IO, "", "cannot sync '%s': %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(tmp);
		return ERR_IO;
	}
	close(fd);
	return ERR_OK;
}

/* DATABASE as ASIDE (a second name: link() never replaces a file), its
 * WAL as ASIDE-wal when it still holds pages; its -wal and -shm go. */
static enum err move_aside(const char *database, const char *wal, const char *shm,
			   const char *aside, struct diag *d)
{
	CLEANUP_FREE char *aside_wal = path_with(aside, "-wal");
	bool have_db = access(database, F_OK) == 0;
	struct stat st;

	if (!aside_wal)
		return diag_set(d, ERR_NOMEM, "", "out of memory");
	if (have_db && link(database, aside) != 0)
		return diag_set(d, ERR_IO, "", "cannot keep '%s' as '%s': %s", database, aside,
				strerror(errno));
	if (stat(wal, &st) == 0 && st.st_size > 0 && link(wal, aside_wal) != 0) {
		diag_set(d, ERR_IO, "", "cannot keep '%s' as '%s': %s", wal, aside_wal,
			 strerror(errno));
		if (have_db)
			unlink(aside);
		return ERR_IO;
	}
	if ((unlink(wal) != 0 && errno != ENOENT) || (unlink(shm) != 0 && errno != ENOENT))
		return diag_set(d, ERR_IO, "", "cannot remove the -wal and -shm of '%s': %s",
				database, strerror(errno));
	return ERR_OK;
}

enum err storage_restore(const char *backup, const char *database, bool replace, char *aside,
			 size_t aside_size, struct diag *d)
{
	CLEANUP_SQLITE sqlite3 *old = NULL;
	CLEANUP_FREE char *wal = path_with(database, "-wal");
	CLEANUP_FREE char *shm = path_with(database, "-shm");
	CLEANUP_FREE char *folder = folder_of(database);
	CLEANUP_FREE char *tmp = NULL;
	char suffix[48];
	struct stat owner;
	bool exists, as_root;
	enum err e;

	aside[0] = '\0';
	snprintf(suffix, sizeof(suffix), ".restore-%ld", (long)getpid());
	tmp = path_with(database, suffix);
	if (!wal || !shm || !folder || !tmp)
		return diag_set(d, ERR_NOMEM, "", "out of memory");
	/* Root writes for the service: the owner of the database it replaces,
	 * else of the folder (StateDirectory=, suitd.sysusers). */
	as_root = geteuid() == 0 && (stat(database, &owner) == 0 || stat(folder, &owner) == 0);
	exists = access(database, F_OK) == 0 || access(wal, F_OK) == 0 || access(shm, F_OK) == 0;
	if (exists && !replace)
		return diag_set(d, ERR_EXISTS, "", "'%s' exists", database);
	if (exists && access(database, F_OK) == 0 && (e = lock_database(database, &old, d)))
		return e;
	if ((e = copy_backup(backup, tmp, as_root ? &owner : NULL, d)))
		return e;
	if (exists) {
		time_t now = time(NULL);
		struct tm tm;
		char stamp[32];
		strftime(stamp, sizeof(stamp), ".replaced-%Y%m%dT%H%M%SZ", gmtime_r(&now, &tm));
		CLEANUP_FREE char *kept = path_with(database, stamp);
		e = kept ? move_aside(database, wal, shm, kept, d)
			 : diag_set(d, ERR_NOMEM, "", "out of memory");
		if (e) {
			unlink(tmp);
			return e;
		}
		snprintf(aside, aside_size, "%s", kept);
	}
	if (rename(tmp, database) != 0) {
		diag_set(d, ERR_IO, "", "cannot rename '%s' to '%s': %s", tmp, database,
			 strerror(errno));
		unlink(tmp);
		return ERR_IO;
	}
	sync_folder(folder);
	return ERR_OK;
}
