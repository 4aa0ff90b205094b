/* What a device report may do to its assignment: one table, every current
 * state × every state a device may report (docs/design.md, "Reports"). Pure
 * functions; storage applies the verdict inside the report's transaction. */
#ifndef SUITD_TRACKER_TRANSITIONS_H
#define SUITD_TRACKER_TRANSITIONS_H

#include <stdbool.h>

#include "storage/reports.h" /* enum report_verdict */

/* The states a device may report: what the server cannot observe itself.
 * delivered comes from the check-in, downloading/downloaded are also
 * observed on payload downloads; confirmed only from a SUIT_Report whose
 * records show the invoke section ran (or from a check-in's seq). */
bool report_state_reportable(enum assignment_state s);

/* The verdict for a report of `reported` on an assignment in `current`;
 * on REPORT_REFUSE *ret_why says why (a static string). */
enum report_verdict report_transition(enum assignment_state current, enum assignment_state reported,
				      const char **ret_why);

#endif
