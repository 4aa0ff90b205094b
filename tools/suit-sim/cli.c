#include "tools/suit-sim/cli.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "common/parse.h"
#include "common/version.h"

#define CHUNK_MAX	((uint64_t)64 << 20)
#define CONCURRENCY_MAX 65536u
#define SECONDS_MAX	(365.0 * 86400.0)

static const char usage_text[] =
	"usage: suit-sim --url URL --trust-anchor PEM {--tokens FILE | --certs DIR} [options]\n"
	"       suit-sim --protocol ddi --url URL {--tokens FILE | --certs DIR} [options]\n"
	"\n"
	"Simulate SUIT devices against suitd: one per line of FILE (\"DEVICE_ID TOKEN\"),\n"
	"one per client certificate of DIR (DEVICE_ID.pem and DEVICE_ID.key), or both.\n"
	"\n"
	"  suit-sim --url https://127.0.0.1:8443 --cacert ca.pem --trust-anchor author.pub \\\n"
	"      --tokens tokens.txt --state fleet.state --until-done --max-poll 2\n"
	"\n"
	"  --url URL             suitd on a loopback address (127.0.0.0/8, ::1, localhost)\n"
	"  --protocol suit|ddi   suitd's device API (default) or hawkBit DDI\n"
	"  --tenant NAME         DDI: the tenant of the paths (default DEFAULT)\n"
	"  --cacert PEM          CA certificate(s) to verify the server with\n"
	"  --trust-anchor PEM    manifest author's public key or certificate (repeatable;\n"
	"                        not with ddi: DDI devices check the artifact's SHA-1)\n"
	"  --tokens FILE         one device per line: DEVICE_ID TOKEN (a bearer token)\n"
	"  --certs DIR           one device per client certificate: DEVICE_ID.pem + .key\n"
	"  --devices N           only the first N devices (FILE's first, then DIR's)\n"
	"  --state FILE          each device's sequence number, read at start, kept up to date\n"
	"  --chunk BYTES         Range chunk size (K and M suffixes; default 131072)\n"
	"  --report json|suit    final report as JSON or as SUIT_Report (default json)\n"
	"  --fail-rate P         share of devices whose install fails (0..1)\n"
	"  --silent-rate P       share of devices that never report (0..1)\n"
	"  --corrupt-rate P      share of image downloads with a flipped byte (0..1)\n"
	"  --crash-rate P        share of image downloads cut by a crash (0..1)\n"
	"  --max-poll SECONDS    cap on the server's Cache-Control max-age\n"
	"  --duration SECONDS    stop after this time\n"
	"  --until-done          stop when every device has finished one update cycle\n"
	"  --concurrency N       transfers in flight at most (default 256)\n"
	"  --summary FILE        write the JSON summary here (default: stdout)\n"
	"  --seed N              seed of the fault injection and jitter\n"
	"  -q, --quiet           no progress line, no error lines\n"
	"  -h, --help            this text\n"
	"  -V, --version         the version\n";

enum {
	OPT_URL = 256,
	OPT_CACERT,
	OPT_ANCHOR,
	OPT_TOKENS,
	OPT_CERTS,
	OPT_STATE,
	OPT_DEVICES,
	OPT_CHUNK,
	OPT_REPORT,
	OPT_FAIL,
	OPT_SILENT,
	OPT_CORRUPT,
	OPT_CRASH,
	OPT_MAX_POLL,
	OPT_DURATION,
	OPT_UNTIL_DONE,
	OPT_CONCURRENCY,
	OPT_SUMMARY,
	OPT_SEED,
	OPT_PROTOCOL,
	OPT_TENANT,
};

static const struct option long_options[] = {
	{"url", required_argument, NULL, OPT_URL},
	{"cacert", required_argument, NULL, OPT_CACERT},
	{"trust-anchor", required_argument, NULL, OPT_ANCHOR},
	{"tokens", required_argument, NULL, OPT_TOKENS},
	{"certs", required_argument, NULL, OPT_CERTS},
	{"state", required_argument, NULL, OPT_STATE},
	{"devices", required_argument, NULL, OPT_DEVICES},
	{"chunk", required_argument, NULL, OPT_CHUNK},
	{"report", required_argument, NULL, OPT_REPORT},
	{"fail-rate", required_argument, NULL, OPT_FAIL},
	{"silent-rate", required_argument, NULL, OPT_SILENT},
	{"corrupt-rate", required_argument, NULL, OPT_CORRUPT},
	{"crash-rate", required_argument, NULL, OPT_CRASH},
	{"max-poll", required_argument, NULL, OPT_MAX_POLL},
	{"duration", required_argument, NULL, OPT_DURATION},
	{"until-done", no_argument, NULL, OPT_UNTIL_DONE},
	{"concurrency", required_argument, NULL, OPT_CONCURRENCY},
	{"summary", required_argument, NULL, OPT_SUMMARY},
	{"seed", required_argument, NULL, OPT_SEED},
	{"protocol", required_argument, NULL, OPT_PROTOCOL},
	{"tenant", required_argument, NULL, OPT_TENANT},
	{"quiet", no_argument, NULL, 'q'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("suit-sim: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'suit-sim --help'.\n", stderr);
	return SIM_EXIT_USAGE;
}

static bool parse_u64_range(const char *s, uint64_t min, uint64_t max, uint64_t *ret)
{
	uint64_t v;

	if (!parse_u64(s, &v) || v < min || v > max)
		return false;
	*ret = v;
	return true;
}

static bool parse_double(const char *s, double min, double max, bool min_open, double *ret)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < min || v > max ||
	    (min_open && v <= min))
		return false;
	*ret = v;
	return true;
}

bool sim_url_loopback(const char *url, char *base, size_t base_size, char *why, size_t why_size)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *user = NULL, *query = NULL,
	     *fragment = NULL;
	bool ok = false;
	unsigned char addr[16];

	if (!u) {
		snprintf(why, why_size, "out of memory");
		return false;
	}
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
		snprintf(why, why_size, "'%s' is not a URL (scheme://host:port)", url);
		goto out;
	}
	curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
	curl_url_get(u, CURLUPART_HOST, &host, 0);
	curl_url_get(u, CURLUPART_PORT, &port, 0);
	curl_url_get(u, CURLUPART_PATH, &path, 0);
	curl_url_get(u, CURLUPART_USER, &user, 0);
	curl_url_get(u, CURLUPART_QUERY, &query, 0);
	curl_url_get(u, CURLUPART_FRAGMENT, &fragment, 0);
	if (!scheme || (strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0)) {
		snprintf(why, why_size, "'%s': only http and https URLs", url);
		goto out;
	}
	if (user || query || fragment || (path && strcmp(path, "/") != 0)) {
		snprintf(why, why_size,
			 "'%s': give the server's origin only (no path, query or credentials)",
			 url);
		goto out;
	}
	if (host && strcasecmp(host, "localhost") == 0) {
		ok = true;
	} else if (host && host[0] == '[') {
		char inner[64];
		size_t n = strlen(host);
		if (n > 2 && n - 2 < sizeof(inner)) {
			memcpy(inner, host + 1, n - 2);
			inner[n - 2] = '\0';
			ok = inet_pton(AF_INET6, inner, addr) == 1 &&
			     memcmp(addr, &in6addr_loopback, 16) == 0;
		}
	} else if (host) {
		ok = inet_pton(AF_INET, host, addr) == 1 && addr[0] == 127;
	}
	if (!ok) {
		snprintf(why, why_size,
			 "'%s': only loopback hosts are accepted (127.0.0.0/8, ::1, localhost)",
			 url);
		goto out;
	}
	if ((size_t)snprintf(base, base_size, "%s://%s%s%s", scheme, host, port ? ":" : "",
			     port ? port : "") >= base_size) {
		snprintf(why, why_size, "'%s' is too long", url);
		ok = false;
	}
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_free(user);
	curl_free(query);
	curl_free(fragment);
	curl_url_cleanup(u);
	return ok;
}

static int check_rate(const char *name, const char *arg, double *ret)
{
	if (!parse_double(arg, 0.0, 1.0, false, ret))
		return usage_error("%s '%s': a share from 0 to 1", name, arg);
	return SIM_EXIT_OK;
}

int sim_options_parse(int argc, char **argv, struct sim_options *o)
{
	const char *url = NULL;
	char why[600];
	uint64_t v;
	int c, rc = SIM_EXIT_OK;

	memset(o, 0, sizeof(*o));
	o->chunk = SIM_DEFAULT_CHUNK;
	snprintf(o->tenant, sizeof(o->tenant), "DEFAULT");
	o->concurrency = SIM_DEFAULT_CONCUR;
	opterr = 0;
	while (rc == SIM_EXIT_OK &&
	       (c = getopt_long(argc, argv, ":qhV", long_options, NULL)) != -1) {
		switch (c) {
		case OPT_URL:
			url = optarg;
			break;
		case OPT_CACERT:
			o->cacert = optarg;
			break;
		case OPT_ANCHOR:
			if (o->anchor_count == SIM_MAX_ANCHORS)
				return usage_error("at most %d --trust-anchor options",
						   SIM_MAX_ANCHORS);
			o->anchors[o->anchor_count++] = optarg;
			break;
		case OPT_TOKENS:
			o->tokens = optarg;
			break;
		case OPT_CERTS:
			o->certs = optarg;
			break;
		case OPT_STATE:
			o->state = optarg;
			break;
		case OPT_DEVICES:
			if (!parse_u64_range(optarg, 1, UINT32_MAX, &v))
				return usage_error("--devices '%s': a number from 1", optarg);
			o->devices = (unsigned)v;
			break;
		case OPT_CHUNK:
			/* common/parse.c: K, M (KiB, MiB), as in suitd.conf. */
			if (!parse_size(optarg, &o->chunk) || o->chunk < 1 || o->chunk > CHUNK_MAX)
				return usage_error(
					"--chunk '%s': bytes from 1 to 64M (K, M suffixes)",
					optarg);
			break;
		case OPT_REPORT:
			if (strcmp(optarg, "json") == 0)
				o->report = SIM_REPORT_JSON;
			else if (strcmp(optarg, "suit") == 0)
				o->report = SIM_REPORT_SUIT;
			else
				return usage_error("--report '%s': json or suit", optarg);
			break;
		case OPT_FAIL:
			rc = check_rate("--fail-rate", optarg, &o->fail_rate);
			break;
		case OPT_SILENT:
			rc = check_rate("--silent-rate", optarg, &o->silent_rate);
			break;
		case OPT_CORRUPT:
			rc = check_rate("--corrupt-rate", optarg, &o->corrupt_rate);
			break;
		case OPT_CRASH:
			rc = check_rate("--crash-rate", optarg, &o->crash_rate);
			break;
		case OPT_MAX_POLL:
			if (!parse_double(optarg, 0.0, SECONDS_MAX, true, &o->max_poll))
				return usage_error("--max-poll '%s': seconds, more than 0", optarg);
			break;
		case OPT_DURATION:
			if (!parse_double(optarg, 0.0, SECONDS_MAX, true, &o->duration))
				return usage_error("--duration '%s': seconds, more than 0", optarg);
			break;
		case OPT_UNTIL_DONE:
			o->until_done = true;
			break;
		case OPT_CONCURRENCY:
			if (!parse_u64_range(optarg, 1, CONCURRENCY_MAX, &v))
				return usage_error("--concurrency '%s': from 1 to 65536", optarg);
			o->concurrency = (unsigned)v;
			break;
		case OPT_SUMMARY:
			o->summary = optarg;
			break;
		case OPT_SEED:
			if (!parse_u64_range(optarg, 0, INT64_MAX, &o->seed))
				return usage_error("--seed '%s': a number from 0 to 2^63-1",
						   optarg);
			o->has_seed = true;
			break;
		case OPT_PROTOCOL:
			if (strcmp(optarg, "suit") == 0)
				o->protocol = SIM_PROTOCOL_SUIT;
			else if (strcmp(optarg, "ddi") == 0)
				o->protocol = SIM_PROTOCOL_DDI;
			else
				return usage_error("--protocol '%s': suit or ddi", optarg);
			break;
		case OPT_TENANT:
			if (!optarg[0] || strlen(optarg) > SIM_TENANT_MAX ||
			    strspn(optarg, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					   "0123456789._:@-") != strlen(optarg))
				return usage_error(
					"--tenant '%s': 1 to 64 of A-Z a-z 0-9 . _ : @ -", optarg);
			snprintf(o->tenant, sizeof(o->tenant), "%s", optarg);
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return -1;
		case 'V':
			printf("suit-sim %s\n", SUITD_VERSION);
			return -1;
		case ':':
			return usage_error("option '%s' needs a value", argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (rc != SIM_EXIT_OK)
		return rc;
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (!url)
		return usage_error("--url is required");
	if (!o->anchor_count && o->protocol == SIM_PROTOCOL_SUIT)
		return usage_error("--trust-anchor is required");
	if (!o->tokens && !o->certs)
		return usage_error("--tokens or --certs is required (or both)");
	if (!sim_url_loopback(url, o->base_url, sizeof(o->base_url), why, sizeof(why)))
		return usage_error("%s", why);
	return SIM_EXIT_OK;
}
