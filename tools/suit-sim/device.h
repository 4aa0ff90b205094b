/* suit-sim: the simulated devices. Each is a small state machine driven by
 * the event loop (loop.h): poll the check-in with its running sequence
 * number, verify an offered envelope with suitd's own suit/ module and the
 * trust anchors, download each image by Range in chunks while hashing it,
 * report progress, install (or fail, by --fail-rate), "reboot" and confirm
 * with the new sequence number. Faults are injected per device from its
 * own random stream (--seed), so a run is reproducible whatever the
 * scheduling. */
#ifndef SUITD_TOOLS_SUIT_SIM_DEVICE_H
#define SUITD_TOOLS_SUIT_SIM_DEVICE_H

#include <jansson.h>

#include "tools/suit-sim/cli.h"
#include "tools/suit-sim/loop.h"
#include "tools/suit-sim/stats.h"

struct sim_fleet;

/* Read the trust anchors, the devices (the tokens file's, then the
 * certificate folder's: the first o->devices of them) and the state file,
 * which is written back at once. SIM_EXIT_USAGE with the reason printed on
 * stderr. */
int sim_fleet_new(const struct sim_options *o, uint64_t seed, struct sim_fleet **ret);
void sim_fleet_free(struct sim_fleet *f);
unsigned sim_fleet_size(const struct sim_fleet *f);
/* The callbacks the loop drives the devices with. */
void sim_fleet_ops(struct sim_fleet *f, struct sim_loop_ops *ret);
/* Every device's first check-in, spread over the first second. */
void sim_fleet_start(struct sim_fleet *f, struct sim_loop *loop, struct sim_stats *stats);
/* Write the state file (--state) now; false with the reason printed. The
 * loop's tick writes it, too, within a second of a device's new sequence
 * number. */
bool sim_fleet_save(struct sim_fleet *f);
/* {"SEQUENCE": devices running it, ...} now (new reference). */
json_t *sim_fleet_sequences(const struct sim_fleet *f);
/* {"token": n, "certificate": n}: the devices by kind of identity. */
json_t *sim_fleet_identities(const struct sim_fleet *f);

#endif
