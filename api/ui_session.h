/* Web console sessions: an API key exchanged once at POST /ui/session for an
 * HttpOnly cookie that the management API accepts in place of
 * "Authorization: Bearer" (docs/design.md, "Web console"). */
#ifndef SUITD_API_UI_SESSION_H
#define SUITD_API_UI_SESSION_H

#include "api/api.h"

#define UI_SESSION_COOKIE "suitd_session"
#define UI_CSRF_HEADER	  "X-CSRF-Token"

/* Authenticate a management request by its session cookie: the session must
 * exist, be within [ui] session_idle and session_lifetime, its key active
 * and of role need; a state-changing method must carry csrf equal to the
 * session's. ERR_UNAUTHORIZED, ERR_FORBIDDEN (role; urn:suitd:csrf-token
 * for the token) with res set, or ERR_OK with *ret_key. */
enum err ui_session_require(struct api_ctx *ctx, const char *cookie, enum http_method method,
			    const char *csrf, enum role need, struct api_key *ret_key,
			    struct response *res);

/* POST /ui/session: {"api_key": "..."} or Authorization: Bearer → 201,
 * Set-Cookie and {"key", "role", "csrf_token", "expires_at"}. */
enum err api_ui_session_create(struct api_ctx *ctx, const struct request *req,
			       struct response *res);
/* GET /ui/session: 200 and the same for the cookie's live session (a
 * reloaded page), 204 when there is none. */
enum err api_ui_session_get(struct api_ctx *ctx, const struct request *req, struct response *res);
/* DELETE /ui/session: sign out (CSRF token required), 204. */
enum err api_ui_session_delete(struct api_ctx *ctx, const struct request *req,
			       struct response *res);

#endif
