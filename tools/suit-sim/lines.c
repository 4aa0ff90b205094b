#include "tools/suit-sim/lines.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "tools/suit-sim/cli.h"

int sim_file_error(const char *path, unsigned line, const char *fmt, ...)
{
	va_list ap;

	if (line)
		fprintf(stderr, "suit-sim: %s:%u: ", path, line);
	else
		fprintf(stderr, "suit-sim: %s: ", path);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return SIM_EXIT_USAGE;
}

int sim_lines_open(struct sim_lines *l, const char *path, bool missing_ok)
{
	memset(l, 0, sizeof(*l));
	l->path = path;
	l->fp = fopen(path, "r");
	if (!l->fp && !(missing_ok && errno == ENOENT))
		return sim_file_error(path, 0, "%s", strerror(errno));
	return SIM_EXIT_OK;
}

int sim_lines_next(struct sim_lines *l, const char *format, char **ret_a, char **ret_b)
{
	while (l->fp && getline(&l->line, &l->cap, l->fp) != -1) {
		char *p = l->line + strspn(l->line, " \t"), *a, *b;
		size_t a_len, b_len;

		l->lineno++;
		if (*p == '#' || *p == '\n' || *p == '\r' || *p == '\0')
			continue;
		a = p;
		a_len = strcspn(p, " \t\r\n");
		p += a_len;
		p += strspn(p, " \t");
		b = p;
		b_len = strcspn(p, " \t\r\n");
		p += b_len;
		p += strspn(p, " \t\r\n");
		if (!b_len || *p) {
			sim_file_error(l->path, l->lineno, "want two fields: %s", format);
			return -1;
		}
		a[a_len] = '\0';
		b[b_len] = '\0';
		*ret_a = a;
		*ret_b = b;
		return 1;
	}
	if (l->fp && ferror(l->fp)) {
		sim_file_error(l->path, 0, "%s", strerror(errno));
		return -1;
	}
	return 0;
}

void sim_lines_close(struct sim_lines *l)
{
	if (l->fp)
		fclose(l->fp);
	free(l->line);
	memset(l, 0, sizeof(*l));
}
