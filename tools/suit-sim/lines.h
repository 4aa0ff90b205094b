/* suit-sim: the line files it reads, the tokens file and the state file:
 * two fields a line separated by blanks; blank lines and lines starting
 * with # are skipped. Errors name the file and the line. */
#ifndef SUITD_TOOLS_SUIT_SIM_LINES_H
#define SUITD_TOOLS_SUIT_SIM_LINES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct sim_lines {
	const char *path;
	FILE *fp;
	char *line;
	size_t cap;
	unsigned lineno; /* of the line last read */
};

/* Open path. A missing file is an error unless missing_ok, when it reads
 * as empty. SIM_EXIT_USAGE with the reason printed. */
int sim_lines_open(struct sim_lines *l, const char *path, bool missing_ok);
/* The next line of two fields (NUL-terminated, valid until the next call):
 * 1, or 0 at the end of the file; -1 (the reason printed: "want two
 * fields: FORMAT") when a line has another number of fields or reading
 * failed. */
int sim_lines_next(struct sim_lines *l, const char *format, char **ret_a, char **ret_b);
void sim_lines_close(struct sim_lines *l);

/* "suit-sim: PATH:LINE: TEXT" (no ":LINE" when line is 0) on stderr;
 * returns SIM_EXIT_USAGE. */
int sim_file_error(const char *path, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
