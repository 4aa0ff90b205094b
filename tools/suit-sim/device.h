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

#include "tools/suit-sim/cli.h"
#include "tools/suit-sim/loop.h"
#include "tools/suit-sim/stats.h"

struct sim_fleet;

/* Read the tokens file (the first o->devices lines) and the trust anchors.
 * SIM_EXIT_USAGE with the reason printed on stderr. */
int sim_fleet_new(const struct sim_options *o, uint64_t seed, struct sim_fleet **ret);
void sim_fleet_free(struct sim_fleet *f);
unsigned sim_fleet_size(const struct sim_fleet *f);
/* The callbacks the loop drives the devices with. */
void sim_fleet_ops(struct sim_fleet *f, struct sim_loop_ops *ret);
/* Every device's first check-in, spread over the first second. */
void sim_fleet_start(struct sim_fleet *f, struct sim_loop *loop, struct sim_stats *stats);

#endif
