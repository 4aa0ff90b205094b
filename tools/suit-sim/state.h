/* suit-sim: the state file (--state FILE), so that a device runs on from
 * where the last run left it: one line "DEVICE_ID SEQUENCE" per device, the
 * sequence number it runs (blank lines and lines starting with # are
 * skipped). A missing file is an empty one. Lines of devices that this run
 * does not simulate are kept. Saved whole and atomically: a temporary file
 * FILE.tmp, fsync, rename over FILE, fsync of the folder. */
#ifndef SUITD_TOOLS_SUIT_SIM_STATE_H
#define SUITD_TOOLS_SUIT_SIM_STATE_H

#include <stdbool.h>
#include <stdint.h>

#define SIM_STATE_SAVE_USEC 1000000u /* a changed state is saved this often at most */

struct sim_state_entry {
	char *id;
	uint64_t seq;
	unsigned line; /* in the file; 0 for a device new to it */
};

struct sim_state {
	char *path;
	struct sim_state_entry *entries; /* the file's in its order, then new ones */
	unsigned count, alloc;
	unsigned *sorted; /* the file's entries by id */
	unsigned listed;  /* entries that came from the file */
	bool dirty;	  /* changed since the last save */
	bool failing;	  /* the last save failed (said once) */
	uint64_t saved_usec;
};

/* Read path into s. SIM_EXIT_USAGE with the reason printed ("suit-sim:
 * FILE:LINE: ...") for a malformed line or a device listed twice. */
int sim_state_load(struct sim_state *s, const char *path);
/* Device id's entry: the file's, else a new one on sequence 0. false when
 * out of memory. Each id is asked for once. */
bool sim_state_entry(struct sim_state *s, const char *id, unsigned *ret);
/* Set entry i's sequence number (dirty when it changed). */
void sim_state_set(struct sim_state *s, unsigned i, uint64_t seq);
/* Save when changed and SIM_STATE_SAVE_USEC have passed since the last
 * save; a failure is said once and tried again later. */
void sim_state_tick(struct sim_state *s, uint64_t now_usec);
/* Save now; false with the reason printed. */
bool sim_state_save(struct sim_state *s);
void sim_state_release(struct sim_state *s);

#endif
