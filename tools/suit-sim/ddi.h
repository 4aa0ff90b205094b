/* suit-sim --protocol ddi: the devices as hawkBit DDI clients (SWUpdate's
 * suricatta, rauc-hawkbit-updater), for load tests of suitd's DDI door
 * (docs/ddi.md): poll the base resource; follow deploymentBase, download
 * each artifact by Range in --chunk pieces while hashing it with SHA-1 (what
 * those clients check), send "proceeding" feedback, then "closed" with
 * success (or failure, by --fail-rate); follow cancelAction and answer it.
 * Every answer is checked for DDI's shapes: a wrong one is a protocol
 * error. */
#ifndef SUITD_TOOLS_SUIT_SIM_DDI_H
#define SUITD_TOOLS_SUIT_SIM_DDI_H

#include "tools/suit-sim/cli.h"
#include "tools/suit-sim/identity.h"
#include "tools/suit-sim/loop.h"
#include "tools/suit-sim/stats.h"

struct sim_ddi;

/* Devices for the identities (kept by the caller until sim_ddi_free). */
struct sim_ddi *sim_ddi_new(const struct sim_options *o, const struct sim_identities *ids,
			    uint64_t seed);
void sim_ddi_free(struct sim_ddi *x);
void sim_ddi_ops(struct sim_ddi *x, struct sim_loop_ops *ret);
/* Every device's first poll, spread over the first second. */
void sim_ddi_start(struct sim_ddi *x, struct sim_loop *loop, struct sim_stats *stats);

#endif
