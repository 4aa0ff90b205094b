/* libFuzzer target: the configuration file (config/config.c over libinih),
 * read from an in-memory file. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *c = NULL;
	struct diag d = {0};
	char path[64];
	int fd = memfd_create("suitd-fuzz.conf", 0);

	if (fd < 0)
		return 0;
	if (write(fd, data, size) == (ssize_t)size) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (config_load(path, &c, &d) == ERR_OK) {
			/* A loaded config is whole: its bounded values hold. */
			if (!c->storage.database || c->server.connection_limit < 1 ||
			    c->server.max_body < 1024)
				abort();
			config_free(c);
		} else if (!d.text[0]) {
			abort(); /* every refusal says why */
		}
	}
	close(fd);
	return 0;
}
