/* SQLSTATE -> enum err: see pg_error.h for the table and the retry rule. */
#include "storage/postgresql/pg_error.h"

#include <string.h>

static bool class_is(const char *sqlstate, const char *cls)
{
	return strncmp(sqlstate, cls, 2) == 0;
}

enum err pg_error_from_sqlstate(const char *sqlstate)
{
	if (!sqlstate || strlen(sqlstate) != 5)
		return ERR_STORAGE;
	if (class_is(sqlstate, "08") || strcmp(sqlstate, "57P01") == 0 ||
	    strcmp(sqlstate, "57P02") == 0 || strcmp(sqlstate, "57P03") == 0 ||
	    strcmp(sqlstate, "53300") == 0)
		return ERR_STORAGE_UNAVAILABLE;
	if (strcmp(sqlstate, "53200") == 0)
		return ERR_NOMEM;
	if (strcmp(sqlstate, "53100") == 0)
		return ERR_NO_SPACE;
	if (strcmp(sqlstate, "57014") == 0)
		return ERR_STORAGE_TIMEOUT;
	if (strcmp(sqlstate, "23505") == 0)
		return ERR_EXISTS;
	if (strcmp(sqlstate, "23503") == 0)
		return ERR_CONFLICT;
	if (pg_error_retryable(sqlstate))
		return ERR_BUSY;
	if (class_is(sqlstate, "28"))
		return ERR_CONFIG;
	return ERR_STORAGE;
}

bool pg_error_retryable(const char *sqlstate)
{
	return sqlstate && (strcmp(sqlstate, "40001") == 0 || strcmp(sqlstate, "40P01") == 0);
}

enum err pg_error_result(PGconn *c, const PGresult *r, struct diag *d)
{
	const char *state, *msg;
	enum err e;

	switch (r ? PQresultStatus(r) : PGRES_FATAL_ERROR) {
	case PGRES_COMMAND_OK:
	case PGRES_TUPLES_OK:
	case PGRES_SINGLE_TUPLE:
	case PGRES_PIPELINE_SYNC:
	case PGRES_COPY_IN:
	case PGRES_COPY_OUT:
	case PGRES_COPY_BOTH:
	case PGRES_EMPTY_QUERY:
		return ERR_OK;
	case PGRES_BAD_RESPONSE:
	case PGRES_NONFATAL_ERROR:
	case PGRES_FATAL_ERROR:
	case PGRES_PIPELINE_ABORTED:
		break;
	}
	state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	if (!msg)
		msg = PQerrorMessage(c);
	if (!state && PQstatus(c) == CONNECTION_BAD)
		e = ERR_STORAGE_UNAVAILABLE;
	else
		e = pg_error_from_sqlstate(state);
	diag_set(d, e, "database", "%s%s%s", state ? state : "", state ? ": " : "",
		 msg && msg[0] ? msg : "no answer from the server");
	/* libpq's own messages end in a newline: one line in the log. */
	if (d)
		d->text[strcspn(d->text, "\n")] = '\0';
	return e;
}
