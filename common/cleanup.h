/* __attribute__((cleanup)) helpers for locals (systemd style). */
#ifndef SUITD_COMMON_CLEANUP_H
#define SUITD_COMMON_CLEANUP_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void cleanup_free(void *p)
{
	free(*(void **)p);
}

static inline void cleanup_fclose(FILE **f)
{
	if (*f)
		fclose(*f);
}

static inline void cleanup_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}

#define CLEANUP_FREE   __attribute__((cleanup(cleanup_free)))
#define CLEANUP_FCLOSE __attribute__((cleanup(cleanup_fclose)))
#define CLEANUP_CLOSE  __attribute__((cleanup(cleanup_close)))

/* Hand ownership out of a cleanup-managed local. */
#define TAKE_PTR(p)                         \
	__extension__({                     \
		__typeof__(p) taken_ = (p); \
		(p) = NULL;                 \
		taken_;                     \
	})

#endif
