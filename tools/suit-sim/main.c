/* suit-sim: a fleet of simulated SUIT devices against suitd, from one
 * process and one event loop (man/suit-sim.1). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "common/crypto.h"
#include "common/timeutil.h"
#include "tools/suit-sim/cli.h"
#include "tools/suit-sim/device.h"
#include "tools/suit-sim/loop.h"
#include "tools/suit-sim/stats.h"

static const char *stop_name(enum sim_stop s)
{
	switch (s) {
	case SIM_STOP_DONE:
		return "done";
	case SIM_STOP_DURATION:
		return "duration";
	case SIM_STOP_SIGNAL:
		return "signal";
	case SIM_STOP_FAILURE:
		return "failure";
	}
	return "failure";
}

static bool write_summary(const struct sim_options *o, json_t *summary)
{
	const size_t flags = JSON_INDENT(2) | JSON_REAL_PRECISION(12);

	if (o->summary) {
		if (json_dump_file(summary, o->summary, flags) != 0) {
			fprintf(stderr, "suit-sim: cannot write the summary to %s\n", o->summary);
			return false;
		}
		return true;
	}
	if (json_dumpf(summary, stdout, flags) != 0 || fputc('\n', stdout) == EOF ||
	    fflush(stdout) != 0) {
		fputs("suit-sim: cannot write the summary\n", stderr);
		return false;
	}
	return true;
}

/* Run the fleet; the exit status. */
static int simulate(const struct sim_options *o, uint64_t seed)
{
	struct sim_fleet *fleet = NULL;
	struct sim_loop *loop = NULL;
	struct sim_loop_ops ops;
	struct sim_stats *stats = NULL;
	uint64_t start = time_mono_usec();
	enum sim_stop stop;
	json_t *summary, *sequences_start;
	int rc;

	rc = sim_fleet_new(o, seed, &fleet);
	if (rc != SIM_EXIT_OK)
		return rc;
	stats = malloc(sizeof(*stats));
	if (!stats) {
		sim_fleet_free(fleet);
		fputs("suit-sim: out of memory\n", stderr);
		return SIM_EXIT_ERRORS;
	}
	bool progress = !o->quiet && isatty(STDERR_FILENO);
	sim_stats_init(stats, sim_fleet_size(fleet), o->quiet, progress);
	sim_fleet_ops(fleet, &ops);
	struct sim_loop_config lc = {
		.base_url = o->base_url,
		.cacert = o->cacert,
		.concurrency = o->concurrency,
		.devices = sim_fleet_size(fleet),
		.duration = o->duration,
		.progress = progress,
	};
	if (sim_loop_new(&lc, &ops, stats, &loop) != ERR_OK) {
		fputs("suit-sim: cannot set up the event loop (libcurl)\n", stderr);
		sim_fleet_free(fleet);
		free(stats);
		return SIM_EXIT_ERRORS;
	}
	sequences_start = sim_fleet_sequences(fleet);
	sim_fleet_start(fleet, loop, stats);
	stop = sim_loop_run(loop);
	if (progress) {
		sim_stats_progress(stats, stderr);
		fputc('\n', stderr);
	}
	summary = sim_stats_json(stats, (double)(time_mono_usec() - start) / 1e6);
	json_object_set_new(summary, "stopped", json_string(stop_name(stop)));
	json_object_set_new(summary, "protocol",
			    json_string(o->protocol == SIM_PROTOCOL_DDI ? "ddi" : "suit"));
	json_object_set_new(summary, "report",
			    json_string(o->report == SIM_REPORT_SUIT ? "suit" : "json"));
	json_object_set_new(summary, "chunk", json_integer((json_int_t)o->chunk));
	json_object_set_new(summary, "concurrency", json_integer(o->concurrency));
	json_object_set_new(summary, "seed", json_integer((json_int_t)seed));
	json_object_set_new(summary, "identities", sim_fleet_identities(fleet));
	json_object_set_new(summary, "sequences",
			    json_pack("{s:o, s:o}", "start", sequences_start, "end",
				      sim_fleet_sequences(fleet)));
	rc = SIM_EXIT_OK;
	if (!sim_fleet_save(fleet))
		rc = SIM_EXIT_ERRORS;
	if (stop == SIM_STOP_FAILURE) {
		fputs("suit-sim: the event loop failed (libcurl)\n", stderr);
		rc = SIM_EXIT_ERRORS;
	}
	if (o->until_done && stop != SIM_STOP_DONE) {
		fprintf(stderr, "suit-sim: %u of %u devices did not finish an update cycle\n",
			stats->devices - stats->finished, stats->devices);
		rc = SIM_EXIT_ERRORS;
	}
	if (sim_stats_error_total(stats)) {
		if (!o->quiet)
			fprintf(stderr, "suit-sim: %llu unexpected errors (see \"errors\")\n",
				(unsigned long long)sim_stats_error_total(stats));
		rc = SIM_EXIT_ERRORS;
	}
	if (!write_summary(o, summary))
		rc = SIM_EXIT_ERRORS;
	json_decref(summary);
	sim_loop_free(loop);
	sim_fleet_free(fleet);
	free(stats);
	return rc;
}

int main(int argc, char **argv)
{
	struct sim_options o;
	uint64_t seed;
	int rc = sim_options_parse(argc, argv, &o);

	if (rc < 0)
		return SIM_EXIT_OK;
	if (rc != SIM_EXIT_OK)
		return rc;
	/* The seed is printed in the summary, so that a run can be repeated
	 * (JSON integers are signed 64-bit: 63 random bits). */
	seed = o.seed;
	if (!o.has_seed) {
		if (crypto_random(&seed, sizeof(seed)) != ERR_OK)
			seed = time_mono_usec();
		seed &= (uint64_t)INT64_MAX;
	}
	signal(SIGPIPE, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fputs("suit-sim: cannot initialise libcurl\n", stderr);
		return SIM_EXIT_ERRORS;
	}
	rc = simulate(&o, seed);
	curl_global_cleanup();
	return rc;
}
