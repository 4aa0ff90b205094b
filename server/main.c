/* suitd: SUIT Firmware Server and Status Tracker. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/version.h"
#include "server/commands.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: suitd [-c FILE] [COMMAND]\n"
		"\n"
		"  (no command)                 run the daemon\n"
		"  check-config                 validate the configuration and certificates\n"
		"  migrate                      apply pending database migrations\n"
		"  key create --name N --role reader|operator|admin [--expires-in D]\n"
		"                               create an API key (ending after D: 90m, 720h);\n"
		"                               the key is printed once\n"
		"  key list                     list API keys (never the secrets)\n"
		"  key revoke NAME              revoke the active key NAME\n"
		"  backup FILE                  consistent copy of the live database\n"
		"  restore [--force] BACKUP     check BACKUP and put it in place of the stopped\n"
		"                               database, then migrate\n"
		"  migrate-data --from SRC --to DST [--password-file F]\n"
		"                               copy a whole database into an empty one\n"
		"                               (sqlite:PATH or postgresql://...), verified\n"
		"  gc [--older-than D] [--delete] [--verbose]\n"
		"                               what finished deployments and unused manifests\n"
		"                               and payloads older than D (720h) hold; delete "
		"them\n"
		"  device add ID [--group G] [--tag T]...\n"
		"                               register a device; its token is printed once\n"
		"  device import [--dry-run] [--generate-tokens] FILE|-\n"
		"                               create or update devices from NDJSON, one\n"
		"                               device object per line (as the API's import)\n"
		"  manifest verify ENVELOPE     check a SUIT envelope as an upload would\n"
		"  manifest create --key KEY.pem --payload FILE --vendor-domain D --class-info C\n"
		"        --sequence N [--uri URI] [--component ID] [--description TEXT]\n"
		"        [--integrated] [--dependency FILE [--dependency-uri URI]\n"
		"        [--dependency-prefix P]]... [--manifest-component-id ID]\n"
		"        -o OUT.suit\n"
		"                               build and sign an envelope: one image, and\n"
		"                               dependency manifests integrated or by URI\n"
		"\n"
		"  -c, --config FILE            configuration file (default %s)\n"
		"  -h, --help                   this text\n"
		"  -V, --version                print the version\n",
		CONFIG_DEFAULT_PATH);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const char *path = CONFIG_DEFAULT_PATH, *verb;
	struct config *config;
	int c, rc;

	/* What suitd and its commands create holds payloads, credential
	 * digests and keys: the database (SQLite gives its -wal and -shm files
	 * the database's mode), backups, manifests, the self-signed key. For
	 * the owner only, whatever the caller's umask, as the unit's
	 * UMask=0077 does for the service; run the commands as its user. */
	umask(077);
	/* '+': stop at the first non-option, the verb, whose options are its own. */
	while ((c = getopt_long(argc, argv, "+c:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("suitd %s\n", SUITD_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	verb = optind < argc ? argv[optind] : NULL;
	/* Both of its databases are arguments: no configuration needed. */
	if (verb && strcmp(verb, "migrate-data") == 0)
		return command_migrate_data(argc - optind - 1, argv + optind + 1);
	if (verb && strcmp(verb, "check-config") != 0 && strcmp(verb, "migrate") != 0 &&
	    strcmp(verb, "key") != 0 && strcmp(verb, "backup") != 0 &&
	    strcmp(verb, "manifest") != 0 && strcmp(verb, "device") != 0 &&
	    strcmp(verb, "gc") != 0 && strcmp(verb, "restore") != 0) {
		fprintf(stderr, "suitd: unknown command '%s'\n", verb);
		usage(stderr);
		return 2;
	}
	config = command_config_load(path);
	if (!config)
		return 1;
	if (!verb)
		rc = command_run(config);
	else if (strcmp(verb, "check-config") == 0)
		rc = command_check_config(config);
	else if (strcmp(verb, "migrate") == 0)
		rc = command_migrate(config);
	else if (strcmp(verb, "key") == 0)
		rc = command_key(config, argc - optind - 1, argv + optind + 1);
	else if (strcmp(verb, "device") == 0)
		rc = command_device(config, argc - optind - 1, argv + optind + 1);
	else if (strcmp(verb, "manifest") == 0)
		rc = command_manifest(config, argc - optind - 1, argv + optind + 1);
	else if (strcmp(verb, "gc") == 0)
		rc = command_gc(config, argc - optind - 1, argv + optind + 1);
	else if (strcmp(verb, "restore") == 0)
		rc = command_restore(config, argc - optind - 1, argv + optind + 1);
	else
		rc = command_backup(config, argc - optind - 1, argv + optind + 1);
	config_free(config);
	return rc;
}
