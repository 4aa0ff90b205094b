/* suitctl: the remote command line of suitd (man/suitctl.1). Global
 * options, then a noun and a verb. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "common/version.h"
#include "suit/create_cli.h"
#include "tools/suitctl/ctl.h"

static const char help[] =
	"suitctl: the remote command line of suitd\n"
	"\n"
	"Examples:\n"
	"  export SUITD_URL=https://fw.example.com:8443\n"
	"  suitctl --api-key-file ~/.suitd-key status\n"
	"  suitctl payload upload build/fw.bin\n"
	"  suitctl manifest create --key author.pem --payload build/fw.bin \\\n"
	"      --vendor-domain example.com --class-info sensor-v2 --sequence 7 -o fw.suit\n"
	"  suitctl manifest upload fw.suit\n"
	"  suitctl deploy DIGEST --group canary --stages 10,100 --wait\n"
	"  suitctl release build/fw.bin --key author.pem --vendor-domain example.com \\\n"
	"      --class-info sensor-v2 --group canary --stages 10,100 --wait\n"
	"  suitctl -o json deployment list --status active\n"
	"  suitctl device list --group canary -q\n"
	"\n"
	"usage: suitctl [GLOBAL OPTIONS] NOUN VERB [ARGS]\n"
	"\n"
	"Nouns and verbs:\n"
	"  status\n"
	"  payload     upload FILE | list | show SHA256 | delete SHA256\n"
	"  manifest    create ... | upload FILE | list | show DIGEST | delete DIGEST\n"
	"              | envelope DIGEST\n"
	"  device      add ID | list | show ID | update ID | delete ID | token ID | reports ID\n"
	"  deploy      MANIFEST --group G | --tag T | --device ID... [--stages ...] [--wait]\n"
	"  deployment  list | show ID | devices ID | pause ID | resume ID | cancel ID | retry ID\n"
	"              | delete ID | watch ID\n"
	"  release     FILE --key K --vendor-domain D --class-info C --group G [--wait]\n"
	"  key         list | create NAME --role R | revoke NAME\n"
	"  events      [--types T,T] [--deployment ID] [--device ID] [--after ID]\n"
	"  audit       [--actor K] [--action TYPE] [--since T] ...\n"
	"  webhook     list | show ID | create URL | update ID | delete ID | deliveries ID\n"
	"              | retry ID N\n"
	"\n"
	"Global options (also accepted after the verb, except in manifest create, whose\n"
	"-o is the envelope file):\n"
	"  --url URL             the server (SUITD_URL; profile's url)\n"
	"  --api-key-file FILE   the API key (SUITD_API_KEY, SUITD_API_KEY_FILE; profile's\n"
	"                        api_key_file or api_key); never on the command line\n"
	"  --cacert FILE         CA certificates to verify the server (SUITD_CACERT)\n"
	"  --profile NAME        [profile NAME] of ~/.config/suitctl/config (mode 0600)\n"
	"  -o, --output FORMAT   table (default), json, ndjson\n"
	"  -q, --quiet           ids only; no progress\n"
	"  --limit N             at most N items of a list\n"
	"  --page-size N         items per request of a list (default 500)\n"
	"\n"
	"Exit status: 0 ok, 1 usage or local error, 2 the API refused (4xx), 3 the\n"
	"deployment paused or was canceled (watch, --wait), 4 --timeout passed, 5 server\n"
	"or transport error. See suitctl(1).\n";

enum { G_URL = 500, G_KEYFILE, G_CACERT, G_PROFILE, G_LIMIT, G_PAGE, G_HELP, G_VERSION };

static const struct option global_opts[] = {
	{"url", required_argument, NULL, G_URL},
	{"api-key-file", required_argument, NULL, G_KEYFILE},
	{"cacert", required_argument, NULL, G_CACERT},
	{"profile", required_argument, NULL, G_PROFILE},
	{"output", required_argument, NULL, 'o'},
	{"quiet", no_argument, NULL, 'q'},
	{"limit", required_argument, NULL, G_LIMIT},
	{"page-size", required_argument, NULL, G_PAGE},
	{"help", no_argument, NULL, G_HELP},
	{"version", no_argument, NULL, G_VERSION},
	{NULL, 0, NULL, 0},
};

struct globals {
	const char *url, *key_file, *cacert, *profile;
};

static int set_global(struct ctl *c, struct globals *g, int opt, const char *arg)
{
	char *end;
	long v;

	switch (opt) {
	case G_URL:
		g->url = arg;
		return 0;
	case G_KEYFILE:
		g->key_file = arg;
		return 0;
	case G_CACERT:
		g->cacert = arg;
		return 0;
	case G_PROFILE:
		g->profile = arg;
		return 0;
	case 'o':
		if (strcmp(arg, "table") == 0)
			c->output = CTL_OUT_TABLE;
		else if (strcmp(arg, "json") == 0)
			c->output = CTL_OUT_JSON;
		else if (strcmp(arg, "ndjson") == 0)
			c->output = CTL_OUT_NDJSON;
		else {
			fprintf(stderr, "suitctl: -o '%s': table, json or ndjson\n", arg);
			return CTL_USAGE;
		}
		return 0;
	case 'q':
		c->quiet = true;
		return 0;
	case G_LIMIT:
	case G_PAGE:
		v = strtol(arg, &end, 10);
		if (*end || end == arg || v < 1 || v > (opt == G_PAGE ? 1000 : 100000000)) {
			fprintf(stderr, "suitctl: --%s '%s' is not a count\n",
				opt == G_PAGE ? "page-size" : "limit", arg);
			return CTL_USAGE;
		}
		if (opt == G_PAGE)
			c->page_size = (unsigned)v;
		else
			c->limit = v;
		return 0;
	default:
		return -1;
	}
}

/* Global options after the verb: taken out of argv, the rest kept in
 * order. Stops at "--". keep_o: -o belongs to the command. */
static int take_globals(struct ctl *c, struct globals *g, int *argc, char **argv, bool keep_o)
{
	int out = 1;

	for (int i = 1; i < *argc; i++) {
		const char *a = argv[i];
		const struct option *hit = NULL;
		const char *val = NULL;
		int code = 0;
		if (strcmp(a, "--") == 0) {
			while (i < *argc)
				argv[out++] = argv[i++];
			break;
		}
		if (!keep_o && (strcmp(a, "-o") == 0 || strncmp(a, "-o", 2) == 0)) {
			code = 'o';
			val = a[2] ? a + 2 : (i + 1 < *argc ? argv[++i] : NULL);
		} else if (strcmp(a, "-q") == 0) {
			code = 'q';
		} else if (strncmp(a, "--", 2) == 0) {
			size_t n = strcspn(a + 2, "=");
			for (const struct option *o = global_opts; o->name; o++)
				if (strlen(o->name) == n && strncmp(o->name, a + 2, n) == 0)
					hit = o;
			/* --output in manifest create is the envelope file. */
			if (hit && hit->val == 'o' && keep_o)
				hit = NULL;
			if (hit && hit->val != G_HELP && hit->val != G_VERSION) {
				code = hit->val;
				if (hit->has_arg == required_argument)
					val = a[2 + n] == '=' ? a + 3 + n
							      : (i + 1 < *argc ? argv[++i] : NULL);
			}
		}
		if (!code) {
			argv[out++] = argv[i];
			continue;
		}
		if ((code != 'q' && !val) || set_global(c, g, code, val ? val : "")) {
			if (!val)
				fprintf(stderr, "suitctl: %s needs a value\n", a);
			return CTL_USAGE;
		}
	}
	argv[out] = NULL;
	*argc = out;
	return 0;
}

struct noun {
	const char *name;
	int (*run)(struct ctl *c, int argc, char **argv);
	bool verb_is_arg; /* argv[0] is the noun itself (deploy, release, ...) */
};

static const struct noun nouns[] = {
	{"status", ctl_cmd_status, true},      {"payload", ctl_cmd_payload, false},
	{"manifest", ctl_cmd_manifest, false}, {"device", ctl_cmd_device, false},
	{"deploy", ctl_cmd_deploy, true},      {"deployment", ctl_cmd_deployment, false},
	{"key", ctl_cmd_key, false},	       {"events", ctl_cmd_events, true},
	{"audit", ctl_cmd_audit, true},	       {"webhook", ctl_cmd_webhook, false},
	{"release", ctl_cmd_release, true},
};

int main(int argc, char **argv)
{
	struct ctl c = {.page_size = 500};
	struct globals g = {0};
	const struct noun *noun = NULL;
	int opt, rc;

	c.tty_out = isatty(STDOUT_FILENO);
	while ((opt = getopt_long(argc, argv, "+o:qh", global_opts, NULL)) != -1) {
		if (opt == G_HELP || opt == 'h') {
			fputs(help, stdout);
			return CTL_OK;
		}
		if (opt == G_VERSION) {
			printf("suitctl %s\n", SUITD_VERSION);
			return CTL_OK;
		}
		if (opt == '?' || set_global(&c, &g, opt, optarg)) {
			fputs("suitctl --help shows the commands\n", stderr);
			return CTL_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		fputs(help, stderr);
		return CTL_USAGE;
	}
	for (size_t i = 0; i < sizeof(nouns) / sizeof(nouns[0]); i++)
		if (strcmp(argv[0], nouns[i].name) == 0)
			noun = &nouns[i];
	/* manifest create: local, no server; its -o is the envelope file. */
	if (strcmp(argv[0], "manifest") == 0 && argc >= 2 && strcmp(argv[1], "create") == 0) {
		struct suit_create_env env = {
			.prog = "suitctl",
			.max_payload = UINT64_MAX,
			.max_manifest = 16u << 20,
		};
		const char *url = g.url ? g.url : getenv("SUITD_URL");
		env.payload_base = url && *url ? url : NULL;
		return suit_create_main(&env, argc - 1, argv + 1) == 0 ? CTL_OK : CTL_USAGE;
	}
	if (!noun) {
		fprintf(stderr, "suitctl: unknown command '%s'; suitctl --help lists them\n",
			argv[0]);
		return CTL_USAGE;
	}
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(help, stdout);
			return CTL_OK;
		}
	if (!noun->verb_is_arg) {
		argc--;
		argv++;
		if (argc < 1) {
			fprintf(stderr, "suitctl: %s what? suitctl --help lists the verbs\n",
				noun->name);
			return CTL_USAGE;
		}
	}
	if (take_globals(&c, &g, &argc, argv, false))
		return CTL_USAGE;
	const char *nc = getenv("NO_COLOR");
	c.progress = isatty(STDERR_FILENO) && !(nc && *nc) && !c.quiet;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = ctl_connect(&c, g.url, g.key_file, g.cacert, g.profile);
	if (!rc) {
		optind = 0;
		rc = noun->run(&c, argc, argv);
	}
	ctl_release(&c);
	curl_global_cleanup();
	return rc;
}
