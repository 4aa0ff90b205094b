#include "tools/suit-sim/identity.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/suit-sim/cli.h"
#include "tools/suit-sim/lines.h"

struct sim_identity *sim_identities_add(struct sim_identities *ids)
{
	if (ids->count == ids->alloc) {
		unsigned n = ids->alloc ? ids->alloc * 2 : 1024;
		struct sim_identity *grown = realloc(ids->v, n * sizeof(*grown));
		if (!grown)
			return NULL;
		ids->v = grown;
		ids->alloc = n;
	}
	memset(&ids->v[ids->count], 0, sizeof(ids->v[0]));
	return &ids->v[ids->count++];
}

int sim_tokens_load(struct sim_identities *ids, const char *path, unsigned want)
{
	struct sim_lines l;
	char *id, *token;
	int rc = sim_lines_open(&l, path, false), got = 0;

	ids->tokens = path;
	while (rc == SIM_EXIT_OK && (!want || ids->count < want) &&
	       (got = sim_lines_next(&l, "DEVICE_ID TOKEN", &id, &token)) == 1) {
		struct sim_identity *d;
		if (strlen(id) > SIM_DEVICE_ID_MAX || strlen(token) > SIM_TOKEN_MAX) {
			rc = sim_file_error(path, l.lineno, "device id or token too long");
			break;
		}
		d = sim_identities_add(ids);
		if (!d || !(d->id = strdup(id)) || !(d->token = strdup(token))) {
			rc = sim_file_error(path, l.lineno, "out of memory");
			break;
		}
		d->line = l.lineno;
	}
	if (got < 0)
		rc = SIM_EXIT_USAGE;
	sim_lines_close(&l);
	return rc;
}

bool sim_device_id_valid(const char *id)
{
	size_t n = strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			      "0123456789._:@-");

	return n > 0 && n <= SIM_DEVICE_ID_MAX && id[n] == '\0';
}

static int by_id(const void *a, const void *b, void *cls)
{
	const struct sim_identities *ids = cls;
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
	int c = strcmp(ids->v[x].id, ids->v[y].id);

	/* Ties in fleet order, so that the later one is named as the repeat. */
	return c ? c : (x < y ? -1 : x > y);
}

int sim_identities_unique(const struct sim_identities *ids)
{
	unsigned *sorted = malloc((ids->count ? ids->count : 1) * sizeof(*sorted));
	int rc = SIM_EXIT_OK;

	if (!sorted) {
		fputs("suit-sim: out of memory\n", stderr);
		return SIM_EXIT_ERRORS;
	}
	for (unsigned i = 0; i < ids->count; i++)
		sorted[i] = i;
	qsort_r(sorted, ids->count, sizeof(*sorted), by_id, (void *)(uintptr_t)ids);
	for (unsigned i = 1; i < ids->count && rc == SIM_EXIT_OK; i++) {
		const struct sim_identity *a = &ids->v[sorted[i - 1]], *b = &ids->v[sorted[i]];
		if (strcmp(a->id, b->id) != 0)
			continue;
		if (a->token && b->token)
			rc = sim_file_error(ids->tokens, b->line,
					    "device '%s' is already on line %u", b->id, a->line);
		else if (!a->token && !b->token)
			rc = sim_file_error(b->cert, 0, "device '%s' is there twice", b->id);
		else
			rc = sim_file_error(ids->tokens, a->token ? a->line : b->line,
					    "device '%s' has a certificate too (%s): give each "
					    "device a token or a certificate, not both",
					    a->id, a->token ? b->cert : a->cert);
	}
	free(sorted);
	return rc;
}

void sim_identities_release(struct sim_identities *ids)
{
	for (unsigned i = 0; ids->v && i < ids->count; i++) {
		free(ids->v[i].id);
		free(ids->v[i].token);
		free(ids->v[i].cert);
		free(ids->v[i].key);
	}
	free(ids->v);
	memset(ids, 0, sizeof(*ids));
}
