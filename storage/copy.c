/* The copier of `suitd migrate-data` (storage/copy.h): reads every table
 * of the source through its end and writes it through the target's,
 * converting each value to the target column's type or refusing it,
 * digests both sides the same way and commits only when they agree. */
#include <openssl/evp.h>
#include <string.h>
#include <time.h>

#include "common/crypto.h"
#include "storage/copy.h"

/* A progress line per this many rows inside a large table. */
#define COPY_PROGRESS_ROWS 500000

enum err copy_end_open(const struct storage_options *opt, bool target, struct copy_end **ret,
		       struct diag *d)
{
	return opt->backend == STORAGE_POSTGRESQL ? pg_copy_open(opt, target, ret, d)
						  : sqlite_copy_open(opt, target, ret, d);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Well-formed UTF-8 as PostgreSQL accepts it: no overlong forms, no
 * surrogates, nothing above U+10FFFF. */
static bool utf8_valid(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t n;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (len - i <= n)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

static const char *kind_name(enum copy_kind k)
{
	static const char *const names[] = {"NULL", "integer", "boolean", "text", "blob", "real"};

	return names[k];
}

/* in as a value of column type t into *out; NULL, or why it does not fit
 * (never a silent change: no number from text, no text from bytes). */
static const char *convert(const struct copy_value *in, const struct copy_column *col,
			   struct copy_value *out)
{
	*out = *in;
	if (in->kind == COPY_NULL)
		return NULL;
	switch (col->type) {
	case COPY_T_INT:
		if (in->kind != COPY_INT && in->kind != COPY_BOOL)
			return "does not fit an integer column";
		if (col->int_bytes && col->int_bytes < 8) {
			int64_t max = ((int64_t)1 << (8 * col->int_bytes - 1)) - 1;
			if (in->i > max || in->i < -max - 1)
				return "is out of the integer column's range";
		}
		out->kind = COPY_INT;
		return NULL;
	case COPY_T_BOOL:
		if ((in->kind == COPY_INT || in->kind == COPY_BOOL) && (in->i == 0 || in->i == 1)) {
			out->kind = COPY_BOOL;
			return NULL;
		}
		return "does not fit a boolean column (0 or 1)";
	case COPY_T_TEXT:
		if (in->kind != COPY_TEXT)
			return "does not fit a text column";
		if (in->len && memchr(in->p, '\0', in->len))
			return "has a NUL byte, which text cannot hold";
		if (!utf8_valid(in->p, in->len))
			return "is not valid UTF-8";
		return NULL;
	case COPY_T_BLOB:
		return in->kind == COPY_BLOB ? NULL : "does not fit a bytes column";
	case COPY_T_OTHER:
		break;
	}
	return "has a column type migrate-data does not know";
}

/* The row's key for a message: "num=5", "manifest_id=1,digest=x'00ab..'". */
static void key_render(const struct copy_table *t, const struct copy_column *cols, unsigned n,
		       const struct copy_value *vals, char *out, size_t size)
{
	size_t used = 0;

	out[0] = '\0';
	for (unsigned k = 0; k < COPY_KEY_MAX && t->key[k]; k++) {
		const struct copy_value *v = NULL;
		char val[48];

		for (unsigned c = 0; c < n; c++)
			if (strcmp(cols[c].name, t->key[k]) == 0)
				v = &vals[c];
		if (!v || v->kind == COPY_NULL) {
			snprintf(val, sizeof(val), "NULL");
		} else if (v->kind == COPY_INT || v->kind == COPY_BOOL) {
			snprintf(val, sizeof(val), "%lld", (long long)v->i);
		} else if (v->kind == COPY_TEXT) {
			snprintf(val, sizeof(val), "'%.*s'", (int)(v->len > 32 ? 32 : v->len),
				 (const char *)v->p);
			for (char *p = val; *p; p++)
				if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
					*p = '?';
		} else {
			char hex[2 * 8 + 1];
			size_t len = v->len > 8 ? 8 : v->len;
			hex_encode(v->p, len, hex);
			snprintf(val, sizeof(val), "x'%s%s'", hex, v->len > 8 ? ".." : "");
		}
		int w = snprintf(out + used, size - used, "%s%s=%s", k ? "," : "", t->key[k], val);
		if (w < 0 || (size_t)w >= size - used)
			return;
		used += (size_t)w;
	}
}

/* The rendering both sides digest: per value a tag and its bytes, so that
 * the same rows give the same digest on either backend (a boolean is the
 * integer 0 or 1, as SQLite keeps it). */
static void digest_value(EVP_MD_CTX *md, const struct copy_value *v)
{
	unsigned char buf[9];

	switch (v->kind) {
	case COPY_NULL:
		EVP_DigestUpdate(md, "N", 1);
		return;
	case COPY_INT:
	case COPY_BOOL:
	case COPY_REAL: /* never here: convert() refused it */
		buf[0] = 'I';
		for (int k = 0; k < 8; k++)
			buf[1 + k] = (unsigned char)((uint64_t)v->i >> (56 - 8 * k));
		EVP_DigestUpdate(md, buf, 9);
		return;
	case COPY_TEXT:
	case COPY_BLOB:
		buf[0] = v->kind == COPY_TEXT ? 'T' : 'B';
		for (int k = 0; k < 8; k++)
			buf[1 + k] = (unsigned char)((uint64_t)v->len >> (56 - 8 * k));
		EVP_DigestUpdate(md, buf, 9);
		if (v->len)
			EVP_DigestUpdate(md, v->p, v->len);
		return;
	}
}

static bool listed(const char *name)
{
	for (unsigned i = 0; i < copy_tables_count; i++)
		if (strcmp(copy_tables[i].name, name) == 0)
			return true;
	return false;
}

/* The end's catalog names exactly the tables of copy_tables[]. */
static enum err catalog_check(struct copy_end *e, const char *side, struct diag *d)
{
	char names[COPY_TABLES_MAX][COPY_NAME_MAX];
	unsigned n = 0;
	enum err err = e->ops->tables(e, names, COPY_TABLES_MAX, &n, d);

	if (err)
		return err;
	for (unsigned i = 0; i < n; i++)
		if (!listed(names[i]))
			return diag_set(d, ERR_STORAGE, "tables",
					"the %s has a table '%s' migrate-data does not know "
					"(storage/copy_tables.c)",
					side, names[i]);
	for (unsigned i = 0; i < copy_tables_count; i++) {
		bool found = false;
		for (unsigned k = 0; k < n && !found; k++)
			found = strcmp(names[k], copy_tables[i].name) == 0;
		if (!found)
			return diag_set(d, ERR_STORAGE, "tables", "the %s has no table '%s'", side,
					copy_tables[i].name);
	}
	return ERR_OK;
}

/* The target's columns (their types decide), and the source's columns of
 * the same names in the same order; the two must name the same set. */
static enum err columns_match(struct copy_end *src, struct copy_end *dst, const char *table,
			      struct copy_column *scols, struct copy_column *dcols, unsigned *ret_n,
			      struct diag *d)
{
	struct copy_column s[COPY_COLUMNS_MAX];
	unsigned ns = 0, nd = 0;
	enum err e = dst->ops->columns(dst, table, dcols, COPY_COLUMNS_MAX, &nd, d);

	if (!e)
		e = src->ops->columns(src, table, s, COPY_COLUMNS_MAX, &ns, d);
	if (e)
		return e;
	if (ns != nd)
		return diag_set(d, ERR_STORAGE, table,
				"table %s: the source has %u columns, the target %u", table, ns,
				nd);
	for (unsigned i = 0; i < nd; i++) {
		bool found = false;
		if (dcols[i].type == COPY_T_OTHER)
			return diag_set(d, ERR_STORAGE, table,
					"table %s: column %s has a type migrate-data does not know",
					table, dcols[i].name);
		for (unsigned k = 0; k < ns && !found; k++)
			if (strcmp(s[k].name, dcols[i].name) == 0) {
				scols[i] = s[k];
				found = true;
			}
		if (!found)
			return diag_set(d, ERR_STORAGE, table,
					"table %s: the source has no column %s", table,
					dcols[i].name);
	}
	*ret_n = nd;
	return ERR_OK;
}

/* Read t through e (columns cols), convert each value to types, digest;
 * write it to w when not NULL. */
static enum err stream(struct copy_end *e, struct copy_end *w, const struct copy_table *t,
		       const struct copy_column *cols, const struct copy_column *types, unsigned n,
		       FILE *progress, int64_t *ret_rows, unsigned char digest[32], struct diag *d)
{
	struct copy_value in[COPY_COLUMNS_MAX], out[COPY_COLUMNS_MAX];
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int64_t rows = 0;
	double start = now_s();
	enum err err;

	if (!md)
		return diag_set(d, ERR_NOMEM, t->name, "out of memory");
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	err = e->ops->read_open(e, t, cols, n, d);
	while (!err && (err = e->ops->read_next(e, in, d)) == ERR_OK) {
		for (unsigned c = 0; c < n && !err; c++) {
			const char *why = convert(&in[c], &types[c], &out[c]);
			if (why) {
				char key[96];
				key_render(t, cols, n, in, key, sizeof(key));
				err = diag_set(d, ERR_INVALID, t->name,
					       "%s %s, column %s: a %s value %s", t->name, key,
					       cols[c].name, kind_name(in[c].kind), why);
			} else {
				digest_value(md, &out[c]);
			}
		}
		if (!err && w)
			err = w->ops->write_row(w, out, d);
		rows++;
		if (!err && progress && rows % COPY_PROGRESS_ROWS == 0)
			fprintf(progress, "  %s: %lld rows, %.0f rows/s ...\n", t->name,
				(long long)rows, (double)rows / (now_s() - start));
	}
	e->ops->read_close(e);
	EVP_DigestFinal_ex(md, digest, NULL);
	EVP_MD_CTX_free(md);
	if (err != ERR_NOT_FOUND)
		return err ? err : ERR_INTERNAL;
	*ret_rows = rows;
	return ERR_OK;
}

static enum err copy_table(struct copy_end *src, struct copy_end *dst, const struct copy_table *t,
			   FILE *progress, struct copy_table_result *r, struct diag *d)
{
	struct copy_column scols[COPY_COLUMNS_MAX], dcols[COPY_COLUMNS_MAX];
	unsigned n = 0;
	double start = now_s();
	enum err e = columns_match(src, dst, t->name, scols, dcols, &n, d);

	if (!e && t->derived)
		e = dst->ops->clear(dst, t->name, d);
	if (!e)
		e = dst->ops->write_open(dst, t->name, dcols, n, d);
	if (e)
		return e;
	e = stream(src, dst, t, scols, dcols, n, progress, &r->source_rows, r->source_digest, d);
	enum err e2 = dst->ops->write_close(dst, !e, d);
	if (!e)
		e = e2;
	if (!e && t->id) {
		int64_t v = 0;
		e = src->ops->sequence_get(src, t, &v, d);
		if (!e)
			e = dst->ops->sequence_set(dst, t, v, d);
	}
	r->seconds = now_s() - start;
	if (!e && progress)
		fprintf(progress, "%-22s %10lld rows %8.1f s %12.0f rows/s\n", t->name,
			(long long)r->source_rows, r->seconds,
			r->seconds > 0 ? (double)r->source_rows / r->seconds : 0.0);
	return e;
}

/* Read the target's table back in its own transaction, as the source was
 * read: the same rendering gives the same digest when nothing changed. */
static enum err verify_table(struct copy_end *dst, const struct copy_table *t,
			     struct copy_table_result *r, struct diag *d)
{
	struct copy_column cols[COPY_COLUMNS_MAX];
	unsigned n = 0;
	enum err e = dst->ops->columns(dst, t->name, cols, COPY_COLUMNS_MAX, &n, d);

	if (e)
		return e;
	return stream(dst, NULL, t, cols, cols, n, NULL, &r->target_rows, r->target_digest, d);
}

enum err storage_copy(struct copy_end *src, struct copy_end *dst, FILE *progress,
		      struct copy_table_result *results, struct diag *d)
{
	unsigned bad = 0;
	enum err e = catalog_check(src, "source", d);

	if (!e)
		e = catalog_check(dst, "target", d);
	if (e)
		return e;
	/* Empty: no row but those the migrations seed (the derived tables are
	 * overwritten anyway). */
	for (unsigned i = 0; i < copy_tables_count; i++) {
		int64_t rows = 0;
		results[i] = (struct copy_table_result){.name = copy_tables[i].name};
		if (copy_tables[i].derived)
			continue;
		e = dst->ops->count(dst, copy_tables[i].name, &rows, d);
		if (e)
			return e;
		if (rows)
			return diag_set(d, ERR_EXISTS, copy_tables[i].name,
					"the target is not empty: table %s has %lld rows",
					copy_tables[i].name, (long long)rows);
	}
	for (unsigned i = 0; i < copy_tables_count; i++) {
		e = copy_table(src, dst, &copy_tables[i], progress, &results[i], d);
		if (e)
			return e;
	}
	for (unsigned i = 0; i < copy_tables_count; i++) {
		e = verify_table(dst, &copy_tables[i], &results[i], d);
		if (e)
			return e;
		if (results[i].source_rows != results[i].target_rows ||
		    memcmp(results[i].source_digest, results[i].target_digest, 32) != 0)
			bad++;
	}
	if (bad)
		return diag_set(d, ERR_CONFLICT, "verify",
				"%u tables differ between source and target; nothing was "
				"committed",
				bad);
	return dst->ops->commit(dst, d);
}
