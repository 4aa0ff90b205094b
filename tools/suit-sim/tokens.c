#include "tools/suit-sim/tokens.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/suit-sim/cli.h"

static int load_error(const char *path, unsigned line, const char *what)
{
	if (line)
		fprintf(stderr, "suit-sim: %s:%u: %s\n", path, line, what);
	else
		fprintf(stderr, "suit-sim: %s: %s\n", path, what);
	return SIM_EXIT_USAGE;
}

/* Split a line into its two fields; false unless there are exactly two. */
static bool fields(char *line, char **id, size_t *id_len, char **token, size_t *token_len)
{
	char *p = line;

	*id = p;
	*id_len = strcspn(p, " \t\r\n");
	p += *id_len;
	p += strspn(p, " \t");
	*token = p;
	*token_len = strcspn(p, " \t\r\n");
	p += *token_len;
	p += strspn(p, " \t\r\n");
	return *token_len && !*p;
}

int sim_tokens_load(const char *path, unsigned want, struct sim_identity **ret, unsigned *ret_count)
{
	FILE *fp = fopen(path, "r");
	struct sim_identity *ids = NULL;
	char *line = NULL;
	size_t cap = 0, alloc = 0;
	unsigned lineno = 0, count = 0;
	int rc = SIM_EXIT_OK;

	if (!fp)
		return load_error(path, 0, strerror(errno));
	while ((!want || count < want) && getline(&line, &cap, fp) != -1) {
		char *p = line + strspn(line, " \t"), *id, *token;
		size_t id_len, token_len;

		lineno++;
		if (*p == '#' || *p == '\n' || *p == '\r' || *p == '\0')
			continue;
		if (!fields(p, &id, &id_len, &token, &token_len)) {
			rc = load_error(path, lineno, "want two fields: DEVICE_ID TOKEN");
			break;
		}
		if (id_len > SIM_DEVICE_ID_MAX || token_len > SIM_TOKEN_MAX) {
			rc = load_error(path, lineno, "device id or token too long");
			break;
		}
		if (count == alloc) {
			size_t n = alloc ? alloc * 2 : 1024;
			struct sim_identity *grown = realloc(ids, n * sizeof(*grown));
			if (!grown) {
				rc = load_error(path, lineno, "out of memory");
				break;
			}
			ids = grown;
			alloc = n;
		}
		ids[count].id = strndup(id, id_len);
		ids[count].token = strndup(token, token_len);
		count++;
		if (!ids[count - 1].id || !ids[count - 1].token) {
			rc = load_error(path, lineno, "out of memory");
			break;
		}
	}
	if (rc == SIM_EXIT_OK && ferror(fp))
		rc = load_error(path, 0, strerror(errno));
	free(line);
	fclose(fp);
	if (rc == SIM_EXIT_OK && count == 0)
		rc = load_error(path, 0, "no devices (want lines DEVICE_ID TOKEN)");
	if (rc == SIM_EXIT_OK && want && count < want) {
		fprintf(stderr, "suit-sim: %s: --devices %u, but it lists %u\n", path, want, count);
		rc = SIM_EXIT_USAGE;
	}
	if (rc != SIM_EXIT_OK) {
		sim_tokens_free(ids, count);
		return rc;
	}
	*ret = ids;
	*ret_count = count;
	return SIM_EXIT_OK;
}

void sim_tokens_free(struct sim_identity *ids, unsigned count)
{
	for (unsigned i = 0; ids && i < count; i++) {
		free(ids[i].id);
		free(ids[i].token);
	}
	free(ids);
}
