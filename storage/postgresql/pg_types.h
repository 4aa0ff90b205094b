/* The type OIDs of the result columns the PostgreSQL statements may have
 * (pg_type; fixed since PostgreSQL 7, and catalog/pg_type_d.h is in the
 * server's headers only): every other type is cast in the statement text.
 * The backend reads these (pg_stmt.c); check_pg_statements holds the
 * statements to them. */
#ifndef SUITD_STORAGE_POSTGRESQL_PG_TYPES_H
#define SUITD_STORAGE_POSTGRESQL_PG_TYPES_H

enum {
	OID_BOOL = 16,
	OID_BYTEA = 17,
	OID_INT8 = 20,
	OID_INT2 = 21,
	OID_INT4 = 23,
	OID_TEXT = 25,
	OID_VARCHAR = 1043,
};

#endif
