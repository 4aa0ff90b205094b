/* The context every handler receives, and the handler signature. */
#ifndef SUITD_API_API_H
#define SUITD_API_API_H

#include <stdint.h>

#include "api/http.h"
#include "common/metrics.h"
#include "config/config.h"
#include "storage/storage.h"

struct api_ctx {
	const struct config *config;
	struct storage *storage;
	struct metrics *metrics;
	int64_t started_at;
};

typedef enum err (*api_handler)(struct api_ctx *ctx, const struct request *req,
				struct response *res);

#endif
