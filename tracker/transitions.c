#include "tracker/transitions.h"

#include <stddef.h>

/* Columns: the reportable states, in this order. */
enum reported {
	R_DOWNLOADING,
	R_DOWNLOADED,
	R_INSTALLING,
	R_INSTALLED,
	R_CONFIRMED,
	R_FAILED,
	R__COUNT,
};

#define M REPORT_MOVE
#define K REPORT_KEEP
#define S REPORT_SAME
#define X REPORT_REFUSE

/* Rows: the assignment's state. A report never moves an assignment the
 * server has not delivered (pending: held back by a closed stage or a pause,
 * or simply not polled for yet): only what the server observed or a rule
 * allows moves a state. After delivery: forward only, failed from anywhere
 * active; a closed assignment takes nothing but its own final state again. */
/* clang-format off */
static const unsigned char table[ASSIGN__COUNT][R__COUNT] = {
	/*                      downloading downloaded installing installed confirmed failed */
	[ASSIGN_PENDING]     = {X,          X,         X,         X,        X,        X},
	[ASSIGN_DELIVERED]   = {M,          M,         M,         M,        M,        M},
	[ASSIGN_DOWNLOADING] = {K,          M,         M,         M,        M,        M},
	[ASSIGN_DOWNLOADED]  = {K,          K,         M,         M,        M,        M},
	[ASSIGN_INSTALLING]  = {K,          K,         K,         M,        M,        M},
	[ASSIGN_INSTALLED]   = {K,          K,         K,         K,        M,        M},
	[ASSIGN_CONFIRMED]   = {X,          X,         X,         X,        S,        X},
	[ASSIGN_FAILED]      = {X,          X,         X,         X,        X,        S},
	[ASSIGN_TIMED_OUT]   = {X,          X,         X,         X,        X,        X},
	[ASSIGN_CANCELED]    = {X,          X,         X,         X,        X,        X},
	[ASSIGN_SKIPPED]     = {X,          X,         X,         X,        X,        X},
};
/* clang-format on */

#undef M
#undef K
#undef S
#undef X

/* Why a report is refused, by the assignment's state. */
static const char *const refused_why[ASSIGN__COUNT] = {
	[ASSIGN_PENDING] = "the manifest has not been delivered to this device",
	[ASSIGN_CONFIRMED] = "the assignment is already confirmed",
	[ASSIGN_FAILED] = "the assignment has failed",
	[ASSIGN_TIMED_OUT] = "the assignment has timed out",
	[ASSIGN_CANCELED] = "the assignment was canceled",
	[ASSIGN_SKIPPED] = "the assignment was skipped",
};

static bool column(enum assignment_state s, enum reported *ret)
{
	switch (s) {
	case ASSIGN_DOWNLOADING:
		*ret = R_DOWNLOADING;
		return true;
	case ASSIGN_DOWNLOADED:
		*ret = R_DOWNLOADED;
		return true;
	case ASSIGN_INSTALLING:
		*ret = R_INSTALLING;
		return true;
	case ASSIGN_INSTALLED:
		*ret = R_INSTALLED;
		return true;
	case ASSIGN_CONFIRMED:
		*ret = R_CONFIRMED;
		return true;
	case ASSIGN_FAILED:
		*ret = R_FAILED;
		return true;
	default:
		return false;
	}
}

bool report_state_reportable(enum assignment_state s)
{
	enum reported c;

	return column(s, &c);
}

enum report_verdict report_transition(enum assignment_state current, enum assignment_state reported,
				      const char **ret_why)
{
	enum reported c;

	if ((unsigned)current >= ASSIGN__COUNT || !column(reported, &c)) {
		*ret_why = "a device cannot report that state";
		return REPORT_REFUSE;
	}
	enum report_verdict v = (enum report_verdict)table[current][c];
	if (v == REPORT_REFUSE)
		*ret_why = refused_why[current] ? refused_why[current]
						: "the report does not fit the assignment";
	return v;
}
