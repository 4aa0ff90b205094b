/* suitd_unhex(TEXT): the bytes that hex digits spell (SQLite gained
 * unhex() only in 3.41; Debian 12 has 3.40). The batch statements of the
 * group commit carry blobs as hex inside one JSON argument
 * (storage/report_batch.c). NULL for NULL, odd length or a non-hex digit. */
#include <stdint.h>
#include <stdlib.h>

#include "common/crypto.h"
#include "storage/sqlite/sqlite.h"

static void sql_unhex(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const unsigned char *hex = sqlite3_value_text(argv[0]);
	int len = sqlite3_value_bytes(argv[0]);
	uint8_t *out;

	(void)argc;
	if (!hex || len % 2) {
		sqlite3_result_null(ctx);
		return;
	}
	out = sqlite3_malloc(len / 2 + 1);
	if (!out) {
		sqlite3_result_error_nomem(ctx);
		return;
	}
	if (!hex_decode((const char *)hex, out, (size_t)len / 2)) {
		sqlite3_free(out);
		sqlite3_result_null(ctx);
		return;
	}
	sqlite3_result_blob(ctx, out, len / 2, sqlite3_free);
}

int sqlite_unhex_attach(sqlite3 *h)
{
	return sqlite3_create_function(h, "suitd_unhex", 1,
				       SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
				       sql_unhex, NULL, NULL);
}
