/* suitd manifest verify|create: the checks of an upload, offline. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/manifests.h"
#include "common/crypto.h"
#include "server/commands.h"
#include "storage/storage.h"
#include "suit/create.h"
#include "suit/create_cli.h"

static int manifest_verify(const struct config *config, const char *path)
{
	struct manifest_policy *policy = NULL;
	struct storage *storage = NULL;
	struct suit_facts facts;
	struct manifest_links *links = NULL;
	struct diag d = {0};
	uint8_t *data;
	size_t len;
	enum suit_check c;
	int rc = 1;
	char scratch_dir[] = "/tmp/suitd-verify-XXXXXX", scratch[64] = "";

	if (suit_create_read_file("suitd", path, config->manifests.max_size, &data, &len))
		return 1;
	if (manifest_policy_new(config, &policy, &d) != ERR_OK) {
		command_config_error(config->path, &d);
		free(data);
		return 1;
	}
	/* Stored payloads are checked against the database when there is one. */
	if (config->storage.backend == CONFIG_BACKEND_POSTGRESQL ||
	    access(config->storage.database, F_OK) == 0)
		storage = command_storage_open(config, false);
	if (!storage) {
		fprintf(stderr,
			"suitd: no database at '%s': payloads on this server are not "
			"checked\n",
			command_storage_name(config));
		/* An empty scratch database: every stored-payload check fails,
		 * so only envelopes that need none pass. */
		if (!mkdtemp(scratch_dir)) {
			fprintf(stderr, "suitd: cannot create a scratch folder: %s\n",
				strerror(errno));
			goto out;
		}
		snprintf(scratch, sizeof(scratch), "%s/empty.db", scratch_dir);
		if (storage_open(&(struct storage_options){.path = scratch, .migrate = true},
				 &storage, &d) != ERR_OK) {
			fprintf(stderr, "suitd: %s\n", d.text);
			goto out;
		}
	}
	enum err e;
	links = calloc(1, sizeof(*links));
	if (!links) {
		fprintf(stderr, "suitd: out of memory\n");
		goto out;
	}
	c = manifest_accept(storage, policy, config->server.public_url, data, len, &facts, links,
			    &e, &d);
	if (c) {
		fprintf(stderr, "rejected: %s: %s\n", suit_check_slug(c), d.text);
		goto out;
	}
	char *text = json_dumps(facts.json, JSON_INDENT(2) | JSON_ENSURE_ASCII);
	if (text)
		printf("%s\n", text);
	free(text);
	suit_facts_release(&facts);
	fprintf(stderr, "accepted: suitd would store this envelope\n");
	rc = 0;
out:
	storage_free(storage);
	if (scratch[0]) {
		static const char *const suffixes[] = {"", "-wal", "-shm"};
		for (int i = 0; i < 3; i++) {
			char f[96];
			snprintf(f, sizeof(f), "%s%s", scratch, suffixes[i]);
			unlink(f);
		}
		rmdir(scratch_dir);
	}
	manifest_policy_put(policy);
	free(links);
	free(data);
	return rc;
}

/* The image URI's default: [server] public_url, else the listener. */
static int manifest_create(const struct config *config, int argc, char **argv)
{
	char base[1200];
	struct suit_create_env env = {
		.prog = "suitd",
		.payload_base = base,
		.allow_external_uri = config->manifests.allow_external_uri,
		.max_payload = config->payloads.max_size,
		.max_manifest = config->manifests.max_size,
	};

	if (config->server.public_url[0]) {
		snprintf(base, sizeof(base), "%s", config->server.public_url);
	} else {
		bool v6 = strchr(config->server.listen_host, ':') != NULL;
		snprintf(base, sizeof(base), "%s://%s%.256s%s:%u",
			 config->server.tls ? "https" : "http", v6 ? "[" : "",
			 config->server.listen_host, v6 ? "]" : "", config->server.listen_port);
	}
	return suit_create_main(&env, argc, argv);
}

int command_manifest(const struct config *config, int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[0], "verify") == 0)
		return manifest_verify(config, argv[1]);
	if (argc >= 1 && strcmp(argv[0], "create") == 0)
		return manifest_create(config, argc, argv);
	fprintf(stderr, "usage: suitd manifest verify ENVELOPE\n");
	suit_create_usage("suitd");
	return 2;
}
