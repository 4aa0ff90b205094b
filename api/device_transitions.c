/* Device transitions through the group commit: see api/device_transitions.h. */
#include "api/device_transitions.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/log.h"
#include "storage/transitions.h"
#include "tracker/assignments.h"

struct pending_transition {
	struct transition_job job; /* first: the batcher hands back &job.base */
	struct api_ctx *ctx;
	int64_t device_num;
	/* Deferred answers only (res NULL for a recorded fetch). */
	struct response *res;
	const char *what;
	void (*resume)(void *cls);
	void *resume_cls;
};

static struct pending_transition *pending_new(struct api_ctx *ctx,
					      const struct active_assignment *a)
{
	struct pending_transition *p = calloc(1, sizeof(*p));

	if (p) {
		p->ctx = ctx;
		p->device_num = a->device_num;
		p->job.assignment_id = a->id;
	}
	return p;
}

/* On the batch thread, after the commit. */
static void transition_done(struct batch_job *base, enum err e)
{
	struct pending_transition *p = (struct pending_transition *)base;

	/* The index is re-read when the state moved or the race was lost
	 * (it was stale), as assignment_transition() does. */
	if ((e == ERR_OK && p->job.changed) || e == ERR_CONFLICT)
		if (assignment_index_refresh(p->ctx->assignments, p->ctx->storage, p->device_num) !=
		    ERR_OK)
			log_err("assignment %lld: cannot refresh the index",
				(long long)p->job.assignment_id);
	if (e && e != ERR_CONFLICT) {
		log_warn("assignment %lld: %s: %s", (long long)p->job.assignment_id,
			 p->res ? p->what : "cannot record the download", err_title(e));
		if (p->res) {
			/* Not the answer that was prepared: none of its headers. */
			p->res->header_count = 0;
			api_fail(p->res, e, "%s", p->what);
		}
	}
	if (p->resume)
		p->resume(p->resume_cls);
	free(p);
}

/* The server has suspended the connection: queue the job. */
static void transition_start(void *cls, void (*resume)(void *resume_cls), void *resume_cls)
{
	struct pending_transition *p = cls;

	p->resume = resume;
	p->resume_cls = resume_cls;
	storage_transition_submit(p->ctx->reports, &p->job);
}

enum err device_transition_defer(struct api_ctx *ctx, struct response *res,
				 const struct active_assignment *a, enum assignment_state to,
				 const char *reason, const char *what)
{
	struct pending_transition *p;
	enum err e;

	if (!ctx->reports) { /* no group commit (a tool, a test): inline */
		e = assignment_transition(ctx->assignments, ctx->storage, a, to, reason);
		return e && e != ERR_CONFLICT ? api_fail(res, e, "%s", what) : ERR_OK;
	}
	if (!(p = pending_new(ctx, a)))
		return api_fail(res, ERR_NOMEM, "%s", what);
	p->job.from = a->state;
	p->job.to = to;
	snprintf(p->job.reason, sizeof(p->job.reason), "%s", reason ? reason : "");
	p->job.base.done = transition_done;
	p->res = res;
	p->what = what;
	res->defer = (struct response_defer){transition_start, p};
	return ERR_OK;
}

void device_fetch_record(struct api_ctx *ctx, const struct active_assignment *a,
			 enum manifest_need kind, int64_t object_id, bool last_byte)
{
	struct pending_transition *p;

	if (!ctx->reports || !(p = pending_new(ctx, a))) {
		log_warn("assignment %lld: cannot record the download", (long long)a->id);
		return;
	}
	p->job.fetch = true;
	p->job.last_byte = last_byte;
	p->job.manifest_id = a->manifest_id;
	p->job.kind = kind;
	p->job.object_id = object_id;
	p->job.base.done = transition_done;
	storage_transition_submit(ctx->reports, &p->job);
}
