/* suitd migrate-data: a whole database copied into an empty one, SQLite to
 * PostgreSQL or back (or alike), verified by per-table row counts and
 * digests before the target commits (storage/copy.h; suitd(8),
 * docs/operations.md "Moving between SQLite and PostgreSQL"). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "common/crypto.h"
#include "server/commands.h"
#include "storage/copy.h"

#define MIGRATE_DATA_USAGE                                                                  \
	"usage: suitd migrate-data --from SOURCE --to TARGET [--password-file FILE]\n"      \
	"\n"                                                                                \
	"  SOURCE, TARGET   sqlite:PATH, or a libpq URL postgresql://USER@HOST/DB\n"        \
	"  --password-file  the PostgreSQL password (else PGPASSFILE, ~/.pgpass, PG*);\n"   \
	"                   never in the URL, which the command line shows to every user\n" \
	"\n"                                                                                \
	"Copies every table of SOURCE (at this suitd's schema version: `suitd migrate`\n"   \
	"it first) into TARGET, which must be new or empty and is migrated here. The\n"     \
	"target commits only when every table's row count and SHA-256 digest match.\n"      \
	"Stop suitd first.\n"

/* "sqlite:PATH" or a postgresql:// / postgres:// URL into opt; false if
 * neither. */
static bool parse_end(const char *spec, const char *password_file, struct storage_options *opt)
{
	*opt = (struct storage_options){0};
	if (strncmp(spec, "sqlite:", 7) == 0 && spec[7]) {
		opt->backend = STORAGE_SQLITE;
		opt->path = spec + 7;
		return true;
	}
	if (strncmp(spec, "postgresql://", 13) == 0 || strncmp(spec, "postgres://", 11) == 0) {
		opt->backend = STORAGE_POSTGRESQL;
		opt->url = spec;
		opt->password_file = password_file;
		return true;
	}
	return false;
}

/* The side as messages name it (never a URL, which may hold secrets). */
static const char *end_name(const struct storage_options *opt)
{
	return opt->backend == STORAGE_POSTGRESQL ? "the PostgreSQL database" : opt->path;
}

static void print_results(const struct copy_table_result *r, unsigned n)
{
	printf("%-22s %12s %12s  %-64s  %s\n", "table", "source rows", "target rows",
	       "sha256 of the rows (source)", "check");
	for (unsigned i = 0; i < n; i++) {
		char hex[SHA256_HEX_LEN + 1];
		bool same = r[i].source_rows == r[i].target_rows &&
			    memcmp(r[i].source_digest, r[i].target_digest, 32) == 0;
		hex_encode(r[i].source_digest, 32, hex);
		printf("%-22s %12lld %12lld  %s  %s\n", r[i].name, (long long)r[i].source_rows,
		       (long long)r[i].target_rows, hex, same ? "ok" : "DIFFERS");
	}
}

int command_migrate_data(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"from", required_argument, NULL, 'f'},
		{"to", required_argument, NULL, 't'},
		{"password-file", required_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *from = NULL, *to = NULL, *password_file = NULL;
	struct copy_table_result results[COPY_TABLES_MAX];
	struct storage_options so, to_opt;
	struct copy_end *src = NULL, *dst = NULL;
	struct diag d = {0};
	enum err e;
	int c;

	optind = 0; /* glibc: start over (main's getopt ran already) */
	while ((c = getopt_long(argc + 1, argv - 1, "", longopts, NULL)) != -1) {
		if (c == 'f')
			from = optarg;
		else if (c == 't')
			to = optarg;
		else if (c == 'p')
			password_file = optarg;
		else if (c == 'h') {
			fputs(MIGRATE_DATA_USAGE, stdout);
			return 0;
		} else {
			fputs(MIGRATE_DATA_USAGE, stderr);
			return 2;
		}
	}
	if (optind != argc + 1 || !from || !to) {
		fputs(MIGRATE_DATA_USAGE, stderr);
		return 2;
	}
	if (!parse_end(from, password_file, &so) || !parse_end(to, password_file, &to_opt)) {
		fprintf(stderr,
			"suitd: migrate-data: '%s' is neither sqlite:PATH nor a "
			"postgresql:// URL\n",
			parse_end(from, NULL, &so) ? "--to" : "--from");
		return 2;
	}
	if (so.backend == STORAGE_SQLITE && to_opt.backend == STORAGE_SQLITE &&
	    strcmp(so.path, to_opt.path) == 0) {
		fputs("suitd: migrate-data: the source and the target are the same file\n", stderr);
		return 2;
	}
	e = copy_end_open(&so, false, &src, &d);
	if (e) {
		fprintf(stderr, "suitd: migrate-data: source %s: %s\n", end_name(&so), d.text);
		return 1;
	}
	e = copy_end_open(&to_opt, true, &dst, &d);
	if (e) {
		fprintf(stderr, "suitd: migrate-data: target %s: %s\n", end_name(&to_opt), d.text);
		src->ops->close(src);
		return 1;
	}
	fprintf(stderr, "copying %s (%s) into %s (%s)\n", end_name(&so), src->backend,
		end_name(&to_opt), dst->backend);
	memset(results, 0, sizeof(results));
	e = storage_copy(src, dst, stderr, results, &d);
	if (!e || e == ERR_CONFLICT)
		print_results(results, copy_tables_count);
	dst->ops->close(dst);
	src->ops->close(src);
	if (e == ERR_EXISTS) {
		fprintf(stderr, "suitd: migrate-data: target %s: %s; give a new or empty one\n",
			end_name(&to_opt), d.text);
		return 1;
	}
	if (e) {
		fprintf(stderr, "suitd: migrate-data: %s; nothing was committed to the target\n",
			d.text);
		return 1;
	}
	fprintf(stderr, "verified and committed: every table's rows and digest match\n");
	return 0;
}
