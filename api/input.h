/* Request input helpers in the "...OrReply" style: each checks one thing and,
 * when it fails, fills the problem in res and returns the error, so handlers
 * stay flat: `if ((e = api_json_body(req, res, &body))) return e;`. */
#ifndef SUITD_API_INPUT_H
#define SUITD_API_INPUT_H

#include <jansson.h>
#include <stdint.h>

#include "api/http.h"

/* Body must be Content-Type application/json holding an object; duplicate
 * keys are refused. *ret_json is a new reference. */
enum err api_json_body(const struct request *req, struct response *res, json_t **ret_json);
/* Required string member of at most max bytes. */
enum err api_json_string(json_t *obj, const char *member, size_t max, struct response *res,
			 const char **ret);
/* ?limit= (default BOUND_PAGE_DEFAULT, 1..BOUND_PAGE_MAX) and ?after= cursor
 * (a non-negative integer; 0 when absent). */
enum err api_page_params(const struct request *req, struct response *res, unsigned *ret_limit,
			 int64_t *ret_after);
/* ?limit= alone, for a list with a cursor of its own form. */
enum err api_page_limit(const struct request *req, struct response *res, unsigned *ret_limit);
/* {"items": items, "next": "<last>" or null} */
json_t *api_page_json(json_t *items, bool more, int64_t last);
/* The same with the cursor's text. */
json_t *api_page_json_text(json_t *items, bool more, const char *cursor);

#endif
