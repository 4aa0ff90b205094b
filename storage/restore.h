/* suitd restore: check a backup and put a copy of it where the database
 * goes. SQLite and files only; server/cli_restore.c decides and reports. */
#ifndef SUITD_STORAGE_RESTORE_H
#define SUITD_STORAGE_RESTORE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

/* BACKUP, opened read-only and left as it is, is a suitd database (schema
 * version 1 or more; newer than this binary: ERR_DB_TOO_NEW) that passes
 * PRAGMA integrity_check and foreign_key_check. Its schema version goes to
 * *ret_version. Reads the whole file. */
enum err storage_backup_check(const char *backup, unsigned *ret_version, struct diag *d);

/* Put a copy of BACKUP (checked first with storage_backup_check) where
 * DATABASE goes: VACUUM INTO a new file next to it (mode 0600; run by root,
 * owned by the owner of the database it replaces, else of the folder),
 * fsync, rename into place, fsync the folder; DATABASE is never half
 * written.
 * When DATABASE, its -wal or its -shm exists: ERR_EXISTS unless replace;
 * ERR_BUSY while another process has the database open (a running suitd,
 * found by asking SQLite for an exclusive lock, held until the copy is in
 * place); else it is checkpointed and kept as DATABASE.replaced-<UTC time>
 * (with a -wal of that name if its WAL still held pages), whose name goes
 * to aside ("" when nothing was replaced). The copy is not migrated. */
enum err storage_restore(const char *backup, const char *database, bool replace, char *aside,
			 size_t aside_size, struct diag *d);

#endif
