#include "common/file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/cleanup.h"

enum err file_read_text(const char *path, long max, char **ret, struct diag *d)
{
	CLEANUP_FCLOSE FILE *f = fopen(path, "re");
	CLEANUP_FREE char *data = NULL;
	struct stat st;
	size_t n;

	if (!f)
		return diag_set(d, ERR_CONFIG, "", "cannot open '%s': %s", path, strerror(errno));
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > max)
		return diag_set(d, ERR_CONFIG, "",
				"'%s' is not a regular file of at most %ld bytes", path, max);
	data = malloc((size_t)st.st_size + 1);
	if (!data)
		return diag_set(d, ERR_NOMEM, "", "out of memory");
	n = fread(data, 1, (size_t)st.st_size, f);
	if (n != (size_t)st.st_size)
		return diag_set(d, ERR_IO, "", "cannot read '%s'", path);
	data[n] = '\0';
	*ret = TAKE_PTR(data);
	return ERR_OK;
}
