/* Internal to storage/: WAL checkpoints on a thread of their own, so that
 * the thread whose commit filled the WAL does not copy it into the database
 * file before it can answer its client (bench/upload.sh: the copy was about
 * a third of an upload's CPU). */
#ifndef SUITD_STORAGE_SQLITE_CHECKPOINT_H
#define SUITD_STORAGE_SQLITE_CHECKPOINT_H

#include "common/error.h"

struct storage;
struct checkpointer;

enum err checkpointer_start(struct storage *s, struct checkpointer **ret);
/* Ask for a checkpoint; never blocks on the database. */
void checkpointer_poke(struct checkpointer *c);
/* Ask for a checkpoint and wait until one that started after this call has
 * ended, at most TIMEOUT_MS: how a writer that filled the WAL is slowed
 * down to the checkpoint's pace. */
void checkpointer_wait(struct checkpointer *c, unsigned timeout_ms);
/* Finish a checkpoint in progress, then stop the thread. */
void checkpointer_stop(struct checkpointer *c);

struct checkpoint_stats {
	unsigned long long runs, waits;
};
void checkpointer_stats(struct checkpointer *c, struct checkpoint_stats *ret);

#endif
