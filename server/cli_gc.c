/* suitd gc: what finished deployments, unused manifests and unused payloads
 * older than a cutoff hold, and with --delete, free it. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/parse.h"
#include "common/timeutil.h"
#include "server/commands.h"
#include "storage/deployments.h"
#include "storage/gc.h"
#include "storage/manifests.h"
#include "storage/payloads.h"

#define GC_DEFAULT_AGE "720h" /* 30 days */

static const char *const kind_names[GC__KINDS] = {"deployments", "manifests", "payloads"};

struct gc_run {
	struct storage *s;
	bool delete;
	bool verbose;
	unsigned count[GC__KINDS], failed[GC__KINDS];
	uint64_t bytes[GC__KINDS];
};

static void item_name(const struct gc_item *it, char *out, size_t size)
{
	char hex[2 * sizeof(it->key) + 1];

	if (it->kind == GC_DEPLOYMENT) {
		snprintf(out, size, "deployment %" PRId64, it->id);
		return;
	}
	hex_encode(it->key, it->key_len, hex);
	snprintf(out, size, "%s %s", it->kind == GC_MANIFEST ? "manifest" : "payload", hex);
}

static enum err gc_one(void *cls, const struct gc_item *it)
{
	struct gc_run *run = cls;
	char name[160];
	enum err e = ERR_OK;

	item_name(it, name, sizeof(name));
	if (run->delete) {
		if (it->kind == GC_DEPLOYMENT)
			e = storage_deployment_delete(run->s, it->id, "local:cli");
		else if (it->kind == GC_MANIFEST)
			e = storage_manifest_delete(run->s, it->key, it->key_len, "local:cli");
		else
			e = storage_payload_delete(run->s, it->key, "local:cli");
	}
	if (e) {
		/* Something started to use it meanwhile: leave it. */
		fprintf(stderr, "suitd: %s kept: %s\n", name, err_title(e));
		run->failed[it->kind]++;
		return e == ERR_CONFLICT || e == ERR_NOT_FOUND ? ERR_OK : e;
	}
	run->count[it->kind]++;
	run->bytes[it->kind] += it->bytes;
	if (run->verbose)
		fprintf(stderr, "%s %s\n", run->delete ? "deleted" : "unused", name);
	return ERR_OK;
}

int command_gc(const struct config *config, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"older-than", required_argument, NULL, 'a'},
		{"delete", no_argument, NULL, 'd'},
		{"verbose", no_argument, NULL, 'v'},
		{NULL, 0, NULL, 0},
	};
	struct gc_run run = {0};
	const char *age = GC_DEFAULT_AGE;
	char when[RFC3339_LEN];
	uint64_t seconds;
	enum err e = ERR_OK;
	int c;

	optind = 0; /* glibc: start over (main's getopt ran already) */
	while ((c = getopt_long(argc + 1, argv - 1, "a:dv", longopts, NULL)) != -1) {
		if (c == 'a') {
			age = optarg;
		} else if (c == 'd') {
			run.delete = true;
		} else if (c == 'v') {
			run.verbose = true;
		} else {
			fprintf(stderr, "usage: suitd gc [--older-than DURATION] [--delete] "
					"[--verbose]\n");
			return 2;
		}
	}
	if (optind != argc + 1 || !parse_duration(age, &seconds) || seconds > INT32_MAX) {
		fprintf(stderr, "suitd: gc takes --older-than DURATION (seconds, or with s, m, h; "
				"default " GC_DEFAULT_AGE ") and --delete\n");
		return 2;
	}
	int64_t cutoff = time_now() - (int64_t)seconds;
	if (!(run.s = command_storage_open(config, false)))
		return 1;
	/* In order: deleting the deployments frees their manifests, which
	 * free their payloads; a dry run counts as if it had. */
	for (int k = 0; !e && k < GC__KINDS; k++)
		e = storage_gc_scan(run.s, (enum gc_kind)k, cutoff, gc_one, &run);
	if (!e && run.delete &&run.count[GC_DEPLOYMENT] && storage_cli_changes_mark(run.s))
		fprintf(stderr, "suitd: send SIGHUP to a running daemon\n");
	storage_free(run.s);
	if (e) {
		fprintf(stderr, "suitd: gc stopped: %s\n", err_title(e));
		return 1;
	}
	time_format_rfc3339(cutoff, when);
	printf("%-12s %8s %14s\n", "", run.delete ? "deleted" : "unused", "bytes");
	for (int k = 0; k < GC__KINDS; k++) {
		if (k == GC_DEPLOYMENT)
			printf("%-12s %8u %14s (%" PRIu64 " assignments)\n", kind_names[k],
			       run.count[k], "-", run.bytes[k]);
		else
			printf("%-12s %8u %14" PRIu64 "\n", kind_names[k], run.count[k],
			       run.bytes[k]);
	}
	printf("%-12s %8s %14" PRIu64 "\n", "total", "",
	       run.bytes[GC_MANIFEST] + run.bytes[GC_PAYLOAD]);
	fprintf(stderr,
		"%s: deployments completed or canceled, and manifests and payloads uploaded, "
		"before %s%s\n",
		run.delete ? "deleted" : "nothing deleted (dry run; --delete deletes)", when,
		run.failed[GC_DEPLOYMENT] + run.failed[GC_MANIFEST] + run.failed[GC_PAYLOAD]
			? "; some were kept because they are in use again"
			: "");
	return 0;
}
