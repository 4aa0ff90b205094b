#include "tools/suit-sim/state.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/parse.h"
#include "tools/suit-sim/cli.h"
#include "tools/suit-sim/identity.h"
#include "tools/suit-sim/lines.h"

#define FORMAT "DEVICE_ID SEQUENCE"

static struct sim_state_entry *add(struct sim_state *s, const char *id, uint64_t seq, unsigned line)
{
	struct sim_state_entry *e;

	if (s->count == s->alloc) {
		unsigned n = s->alloc ? s->alloc * 2 : 1024;
		struct sim_state_entry *grown = realloc(s->entries, n * sizeof(*grown));
		if (!grown)
			return NULL;
		s->entries = grown;
		s->alloc = n;
	}
	e = &s->entries[s->count];
	e->id = strdup(id);
	if (!e->id)
		return NULL;
	e->seq = seq;
	e->line = line;
	s->count++;
	return e;
}

static int by_id(const void *a, const void *b, void *cls)
{
	const struct sim_state *s = cls;
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
	int c = strcmp(s->entries[x].id, s->entries[y].id);

	return c ? c : (x < y ? -1 : x > y);
}

/* The sorted index of the file's entries; a device listed twice is an
 * error. */
static int index_entries(struct sim_state *s)
{
	s->listed = s->count;
	s->sorted = malloc((s->listed ? s->listed : 1) * sizeof(*s->sorted));
	if (!s->sorted)
		return sim_file_error(s->path, 0, "out of memory");
	for (unsigned i = 0; i < s->listed; i++)
		s->sorted[i] = i;
	qsort_r(s->sorted, s->listed, sizeof(*s->sorted), by_id, s);
	for (unsigned i = 1; i < s->listed; i++) {
		const struct sim_state_entry *a = &s->entries[s->sorted[i - 1]],
					     *b = &s->entries[s->sorted[i]];
		if (strcmp(a->id, b->id) == 0)
			return sim_file_error(s->path, b->line, "device '%s' is already on line %u",
					      b->id, a->line);
	}
	return SIM_EXIT_OK;
}

int sim_state_load(struct sim_state *s, const char *path)
{
	struct sim_lines l;
	char *id, *seq;
	uint64_t v;
	int rc, got = 0;

	memset(s, 0, sizeof(*s));
	s->path = strdup(path);
	if (!s->path) {
		fputs("suit-sim: out of memory\n", stderr);
		return SIM_EXIT_ERRORS;
	}
	rc = sim_lines_open(&l, path, true);
	while (rc == SIM_EXIT_OK && (got = sim_lines_next(&l, FORMAT, &id, &seq)) == 1) {
		/* Ids as the tokens file allows them, which it writes back. */
		if (strlen(id) > SIM_DEVICE_ID_MAX)
			rc = sim_file_error(path, l.lineno, "device id too long");
		else if (!parse_u64(seq, &v))
			rc = sim_file_error(path, l.lineno,
					    "sequence '%s' is not a number from 0 to 2^64-1", seq);
		else if (!add(s, id, v, l.lineno))
			rc = sim_file_error(path, l.lineno, "out of memory");
	}
	if (got < 0)
		rc = SIM_EXIT_USAGE;
	sim_lines_close(&l);
	if (rc == SIM_EXIT_OK)
		rc = index_entries(s);
	if (rc != SIM_EXIT_OK)
		sim_state_release(s);
	return rc;
}

bool sim_state_entry(struct sim_state *s, const char *id, unsigned *ret)
{
	unsigned lo = 0, hi = s->listed;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		int c = strcmp(id, s->entries[s->sorted[mid]].id);
		if (c == 0) {
			*ret = s->sorted[mid];
			return true;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (!add(s, id, 0, 0))
		return false;
	s->dirty = true;
	*ret = s->count - 1;
	return true;
}

void sim_state_set(struct sim_state *s, unsigned i, uint64_t seq)
{
	if (s->entries[i].seq == seq)
		return;
	s->entries[i].seq = seq;
	s->dirty = true;
}

/* fsync the folder of path, so that the rename survives a power cut (best
 * effort: the file itself is written and synced). */
static void sync_folder(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : NULL;
	int fd;

	if (slash && !dir)
		return;
	fd = open(dir ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(dir);
}

/* Write every entry to PATH.tmp and rename it over PATH: 0 or an errno. */
static int write_atomically(const struct sim_state *s, const char *tmp)
{
	FILE *f = NULL;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0666), err = 0;

	if (fd < 0)
		return errno;
	f = fdopen(fd, "w");
	if (!f) {
		err = errno;
		close(fd);
		unlink(tmp);
		return err;
	}
	if (fprintf(f, "# suit-sim --state: " FORMAT ", rewritten by each run\n") < 0)
		err = errno;
	for (unsigned i = 0; !err && i < s->count; i++)
		if (fprintf(f, "%s %" PRIu64 "\n", s->entries[i].id, s->entries[i].seq) < 0)
			err = errno;
	if (!err && (fflush(f) != 0 || fsync(fd) != 0))
		err = errno;
	if (fclose(f) != 0 && !err)
		err = errno;
	if (!err && rename(tmp, s->path) != 0)
		err = errno;
	if (err)
		unlink(tmp);
	return err;
}

/* Save; a failure is printed unless quiet. */
static bool save(struct sim_state *s, bool quiet)
{
	size_t n = strlen(s->path) + 5;
	char *tmp = malloc(n);
	int err = ENOMEM;

	if (tmp) {
		snprintf(tmp, n, "%s.tmp", s->path);
		err = write_atomically(s, tmp);
		free(tmp);
	}
	if (err) {
		if (!quiet)
			fprintf(stderr, "suit-sim: cannot write the state file %s: %s\n", s->path,
				strerror(err));
		s->failing = true;
		return false;
	}
	sync_folder(s->path);
	s->dirty = s->failing = false;
	return true;
}

bool sim_state_save(struct sim_state *s)
{
	return save(s, false);
}

void sim_state_tick(struct sim_state *s, uint64_t now_usec)
{
	if (!s->dirty || now_usec - s->saved_usec < SIM_STATE_SAVE_USEC)
		return;
	s->saved_usec = now_usec;
	save(s, s->failing);
}

void sim_state_release(struct sim_state *s)
{
	for (unsigned i = 0; s->entries && i < s->count; i++)
		free(s->entries[i].id);
	free(s->entries);
	free(s->sorted);
	free(s->path);
	memset(s, 0, sizeof(*s));
}
