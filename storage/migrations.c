#include "storage/migrations.h"

enum err migrations_version_check(unsigned have, unsigned want, bool apply, struct diag *d)
{
	if (have > want)
		return diag_set(d, ERR_DB_TOO_NEW, "database",
				"schema version %u is newer than this suitd knows (%u): refusing "
				"to touch it",
				have, want);
	if (have < want && !apply)
		return diag_set(d, ERR_STORAGE, "database",
				"schema version %u is older than %u: run 'suitd migrate'", have,
				want);
	return ERR_OK;
}
