/* suitd restore: a backup back in place of the database, checked before and
 * after, migrated, never over a database in use (suitd(8), operations.md). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "server/commands.h"
#include "storage/restore.h"
#include "storage/storage.h"

#define RESTORE_USAGE "usage: suitd restore [--force] BACKUP\n"

static bool same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

int command_restore(const struct config *config, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"force", no_argument, NULL, 'f'},
		{NULL, 0, NULL, 0},
	};
	const char *database = config->storage.database, *backup;
	unsigned version = 0, have = 0, want = 0;
	char aside[4096];
	struct diag d = {0};
	struct storage *s;
	bool force = false, ok = false;
	enum err e;
	int c;

	optind = 0; /* glibc: start over (main's getopt ran already) */
	while ((c = getopt_long(argc + 1, argv - 1, "f", longopts, NULL)) != -1) {
		if (c != 'f') {
			fputs(RESTORE_USAGE, stderr);
			return 2;
		}
		force = true;
	}
	if (optind != argc) {
		fputs(RESTORE_USAGE, stderr);
		return 2;
	}
	backup = argv[optind - 1];
	if (config->storage.backend == CONFIG_BACKEND_POSTGRESQL) {
		fprintf(stderr, "suitd: restore puts back SQLite backups; restore a PostgreSQL "
				"database with pg_restore or psql (docs/operations.md)\n");
		return 1;
	}
	if (same_file(backup, database)) {
		fprintf(stderr, "suitd: '%s' is the database itself; give a backup file\n", backup);
		return 1;
	}
	if (storage_backup_check(backup, &version, &d) != ERR_OK) {
		fprintf(stderr, "suitd: %s; nothing was changed\n", d.text);
		return 1;
	}
	fprintf(stderr, "'%s': schema version %u, integrity_check ok\n", backup, version);
	e = storage_restore(backup, database, force, aside, sizeof(aside), &d);
	if (e == ERR_EXISTS) {
		fprintf(stderr,
			"suitd: %s: stop suitd, then add --force to replace it (it is kept "
			"next to it as %s.replaced-TIME)\n",
			d.text, database);
		return 1;
	}
	if (e) {
		fprintf(stderr, "suitd: %s\n", d.text);
		return 1;
	}
	if (aside[0])
		fprintf(stderr, "the database it replaced is kept as '%s'\n", aside);
	/* The migrations of this binary, as the daemon would apply at start. */
	s = command_storage_open(config, true);
	if (!s)
		return 1;
	e = storage_schema_version(s, &have, &want);
	if (!e)
		e = storage_integrity_check(s, &ok);
	storage_free(s);
	if (e || !ok) {
		fprintf(stderr, "suitd: the restored '%s' fails integrity_check%s%s\n", database,
			e ? ": " : "", e ? err_title(e) : "");
		return 1;
	}
	printf("restored '%s' to '%s' (schema version %u, now %u)\n", backup, database, version,
	       have);
	fprintf(stderr, "start suitd now (systemctl start suitd)\n");
	return 0;
}
