/* Device transitions in the group commit: see storage/transitions.h. */
#include "storage/transitions.h"

#include "storage/db.h"

static enum err transition_apply(struct db *db, struct batch_job *base)
{
	struct transition_job *job = (struct transition_job *)base;
	bool changed = false;
	unsigned left = 1;
	enum err e;

	job->changed = false;
	if (!job->fetch) {
		e = db_assignment_set_state(db, job->assignment_id, job->from, job->to,
					    job->reason[0] ? job->reason : NULL, &changed);
		job->changed = changed;
		return e ? e : changed ? ERR_OK : ERR_CONFLICT;
	}
	/* Each step a compare-and-set: a repeated or late job changes nothing. */
	e = db_assignment_set_state(db, job->assignment_id, ASSIGN_DELIVERED, ASSIGN_DOWNLOADING,
				    NULL, &changed);
	job->changed = changed;
	if (e || !job->last_byte)
		return e;
	e = db_assignment_fetched(db, job->assignment_id, job->manifest_id, job->kind,
				  job->object_id, &left);
	if (e || left)
		return e;
	e = db_assignment_set_state(db, job->assignment_id, ASSIGN_DOWNLOADING, ASSIGN_DOWNLOADED,
				    NULL, &changed);
	job->changed |= changed;
	return e;
}

void storage_transition_submit(struct batcher *b, struct transition_job *job)
{
	job->base.apply = transition_apply;
	job->base.fast = NULL;
	job->changed = false;
	batcher_submit(b, &job->base);
}
