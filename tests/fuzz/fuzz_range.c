/* libFuzzer target: the Range header parser (api/range.c). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/range.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t sizes[] = {0, 1, 1000, 65536, UINT64_MAX};
	struct byte_range r[RANGE_MAX];
	char *text = malloc(size + 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		unsigned count = 0;
		enum range_result rr = range_parse(text, sizes[s], r, &count);
		if (rr != RANGE_SATISFIABLE)
			continue;
		/* Invariants every caller relies on. */
		if (count == 0 || count > RANGE_MAX)
			abort();
		for (unsigned i = 0; i < count; i++)
			if (r[i].first > r[i].last || r[i].last >= sizes[s])
				abort();
	}
	free(text);
	return 0;
}
