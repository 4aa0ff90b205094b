/* suitd device import FILE: the bulk import of POST /api/v1/devices/import
 * on the server's machine, through the same engine (api/device_import.c). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/device_import.h"
#include "server/commands.h"
#include "storage/storage.h"

static int usage_error(void)
{
	fprintf(stderr, "usage: suitd device import [--dry-run] [--generate-tokens] FILE|-\n");
	return 2;
}

/* Feed the whole file; fatal errors only. */
static enum err import_file(struct device_import *im, FILE *in)
{
	char chunk[64 * 1024];
	size_t n;
	enum err e;

	while ((n = fread(chunk, 1, sizeof(chunk), in)) > 0)
		if ((e = device_import_feed(im, chunk, n)))
			return e;
	if (ferror(in))
		return ERR_IO;
	return device_import_finish(im);
}

int command_device_import(const struct config *config, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"dry-run", no_argument, NULL, 'n'},
		{"generate-tokens", no_argument, NULL, 'g'},
		{NULL, 0, NULL, 0},
	};
	struct device_import_options o = {.actor = "local:cli"};
	struct device_import *im = NULL;
	struct storage *s;
	FILE *in;
	int c, rc = 1;
	enum err e;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == 'n')
			o.dry_run = true;
		else if (c == 'g')
			o.generate_tokens = true;
		else
			return usage_error();
	}
	if (optind != argc - 1)
		return usage_error();
	const char *path = argv[optind];
	in = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	if (!in) {
		fprintf(stderr, "suitd: cannot open '%s': %s\n", path, strerror(errno));
		return 1;
	}
	s = command_storage_open(config, true);
	if (!s)
		goto out;
	if ((e = device_import_new(s, NULL, &o, &im))) {
		fprintf(stderr, "suitd: %s\n", err_title(e));
		goto out;
	}
	e = import_file(im, in);
	/* A running daemon sees the mark within a second and reloads what it
	 * keeps in memory of devices and assignments. */
	if (device_import_changed(im) && storage_cli_changes_mark(s) != ERR_OK)
		fprintf(stderr, "suitd: send SIGHUP to a running daemon so that it sees the "
				"imported devices\n");
	json_t *summary = device_import_summary(im);
	if (o.generate_tokens) {
		fputs(device_import_tokens(im), stdout);
		json_t *wrap = json_pack("{s:O}", "summary", summary);
		json_dumpf(wrap, stdout, JSON_COMPACT);
		json_decref(wrap);
	} else {
		json_dumpf(summary, stdout, JSON_INDENT(2));
	}
	fputc('\n', stdout);
	long long failed = json_integer_value(json_object_get(summary, "failed"));
	json_decref(summary);
	if (e)
		fprintf(stderr,
			"suitd: the import stopped at a fatal error (%s); the batches before "
			"it are committed\n",
			err_title(e));
	else if (failed)
		fprintf(stderr,
			"suitd: %lld lines failed (listed in \"errors\"); the others are "
			"imported\n",
			failed);
	rc = e || failed ? 1 : 0;
out:
	device_import_free(im);
	if (s)
		storage_free(s);
	if (in != stdin)
		fclose(in);
	return rc;
}
