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

/* Read a whole file of at most max bytes. */
static int read_file(const char *path, uint64_t max, uint8_t **ret, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	uint8_t *data;

	if (!f || fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		fprintf(stderr, "suitd: cannot read '%s': %s\n", path,
			f ? "not a regular file" : strerror(errno));
		if (f)
			fclose(f);
		return 1;
	}
	if ((uint64_t)st.st_size > max) {
		fprintf(stderr, "suitd: '%s' is %lld bytes, more than the limit %llu\n", path,
			(long long)st.st_size, (unsigned long long)max);
		fclose(f);
		return 1;
	}
	data = malloc((size_t)st.st_size + 1);
	if (!data || fread(data, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
		fprintf(stderr, "suitd: cannot read '%s'\n", path);
		free(data);
		fclose(f);
		return 1;
	}
	fclose(f);
	*ret = data;
	*ret_len = (size_t)st.st_size;
	return 0;
}

static int manifest_verify(const struct config *config, const char *path)
{
	struct manifest_policy *policy = NULL;
	struct storage *storage = NULL;
	struct suit_facts facts;
	int64_t ids[SUIT_MAX_IMAGES];
	unsigned n = 0;
	struct diag d = {0};
	uint8_t *data;
	size_t len;
	enum suit_check c;
	int rc = 1;
	char scratch_dir[] = "/tmp/suitd-verify-XXXXXX", scratch[64] = "";

	if (read_file(path, config->manifests.max_size, &data, &len))
		return 1;
	if (manifest_policy_new(config, &policy, &d) != ERR_OK) {
		command_config_error(config->path, &d);
		free(data);
		return 1;
	}
	/* Stored payloads are checked against the database when there is one. */
	if (access(config->storage.database, F_OK) == 0)
		storage = command_storage_open(config, false);
	if (!storage) {
		fprintf(stderr,
			"suitd: no database at '%s': payloads on this server are not "
			"checked\n",
			config->storage.database);
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
	c = manifest_accept(storage, policy, config->server.public_url, data, len, &facts, ids, &n,
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
	free(data);
	return rc;
}

/* Payloads read by create are bounded like uploads. */
static int write_atomically(const char *path, const uint8_t *data, size_t len)
{
	char tmp[4096];
	FILE *f;
	int ok;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "wb");
	if (!f) {
		fprintf(stderr, "suitd: cannot write '%s': %s\n", tmp, strerror(errno));
		return 1;
	}
	ok = fwrite(data, 1, len, f) == len && fflush(f) == 0 && fsync(fileno(f)) == 0;
	ok = fclose(f) == 0 && ok;
	if (!ok || rename(tmp, path) != 0) {
		fprintf(stderr, "suitd: cannot write '%s'\n", path);
		unlink(tmp);
		return 1;
	}
	return 0;
}

/* An image URI that create signs: '#name' of an integrated payload, or an
 * absolute https:// URL with a host, which devices fetch over TLS. Others
 * (http://, a path, a "*" host from a wildcard listen) only when
 * [manifests] allow_external_uri = on says the operator chose them: a
 * signed URI cannot be taken back from the devices that hold it. */
static bool uri_signable(const char *uri, bool allow_external)
{
	const char *host = uri + strlen("https://");
	size_t host_len;

	if (uri[0] == '#' || allow_external)
		return true;
	if (strncmp(uri, "https://", strlen("https://")) != 0)
		return false;
	for (const char *p = uri; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return false;
	host_len = strcspn(host, "/?#");
	return host_len && host[0] != ':' && !memchr(host, '*', host_len) &&
	       !memchr(host, '@', host_len);
}

static const char create_usage[] =
	"usage: suitd manifest create --key KEY.pem --payload FILE --vendor-domain D\n"
	"       --class-info C --sequence N [--uri URI] [--component ID] [--description TEXT]\n"
	"       [--integrated] -o OUT.suit\n";

static int manifest_create(const struct config *config, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"key", required_argument, NULL, 'k'},
		{"payload", required_argument, NULL, 'p'},
		{"vendor-domain", required_argument, NULL, 'v'},
		{"class-info", required_argument, NULL, 'c'},
		{"sequence", required_argument, NULL, 's'},
		{"uri", required_argument, NULL, 'u'},
		{"component", required_argument, NULL, 'C'},
		{"description", required_argument, NULL, 'd'},
		{"integrated", no_argument, NULL, 'i'},
		{"output", required_argument, NULL, 'o'},
		{NULL, 0, NULL, 0},
	};
	struct suit_create_options o = {0};
	const char *payload_path = NULL, *out = NULL, *seq = NULL;
	char uri[1200], hex[SHA256_HEX_LEN + 1], *end;
	uint8_t *payload = NULL, *env = NULL, sha[SHA256_LEN];
	size_t payload_len = 0, env_len = 0;
	struct diag d = {0};
	int c, rc = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:", longopts, NULL)) != -1) {
		switch (c) {
		case 'k':
			o.key_path = optarg;
			break;
		case 'p':
			payload_path = optarg;
			break;
		case 'v':
			o.vendor_domain = optarg;
			break;
		case 'c':
			o.class_info = optarg;
			break;
		case 's':
			seq = optarg;
			break;
		case 'u':
			o.uri = optarg;
			break;
		case 'C':
			o.component = optarg;
			break;
		case 'd':
			o.description = optarg;
			break;
		case 'i':
			o.integrated = true;
			break;
		case 'o':
			out = optarg;
			break;
		default:
			fputs(create_usage, stderr);
			return 2;
		}
	}
	if (!o.key_path || !payload_path || !o.vendor_domain || !o.class_info || !seq || !out ||
	    optind != argc) {
		fputs(create_usage, stderr);
		return 2;
	}
	errno = 0;
	o.sequence = strtoull(seq, &end, 10);
	if (errno || *end || !*seq || *seq == '-') {
		fprintf(stderr, "suitd: --sequence '%s' is not a whole number\n", seq);
		return 2;
	}
	if (read_file(payload_path, config->payloads.max_size, &payload, &payload_len))
		return 1;
	crypto_sha256(payload, payload_len, sha);
	hex_encode(sha, SHA256_LEN, hex);
	if (!o.uri && o.integrated) {
		const char *base = strrchr(payload_path, '/');
		snprintf(uri, sizeof(uri), "#%.100s", base ? base + 1 : payload_path);
		o.uri = uri;
	} else if (!o.uri && config->server.public_url[0]) {
		size_t n = strlen(config->server.public_url);
		while (n && config->server.public_url[n - 1] == '/')
			n--;
		snprintf(uri, sizeof(uri), "%.*s/device/v1/payloads/%s", (int)n,
			 config->server.public_url, hex);
		o.uri = uri;
	} else if (!o.uri) {
		bool v6 = strchr(config->server.listen_host, ':') != NULL;
		snprintf(uri, sizeof(uri), "%s://%s%.256s%s:%u/device/v1/payloads/%s",
			 config->server.tls ? "https" : "http", v6 ? "[" : "",
			 config->server.listen_host, v6 ? "]" : "", config->server.listen_port,
			 hex);
		o.uri = uri;
	}
	if (!uri_signable(o.uri, config->manifests.allow_external_uri)) {
		fprintf(stderr,
			"suitd: will not sign the image URI '%s': it is not an absolute https:// "
			"URL that devices can fetch over TLS; set [server] public_url or pass "
			"--uri https://HOST/... (other URIs need [manifests] allow_external_uri = "
			"on)\n",
			o.uri);
		goto out;
	}
	o.payload = payload;
	o.payload_len = payload_len;
	if (suit_manifest_create(&o, &env, &env_len, &d) != ERR_OK) {
		fprintf(stderr, "suitd: cannot create the envelope: %s\n", d.text);
		goto out;
	}
	rc = write_atomically(out, env, env_len);
	if (!rc)
		fprintf(stderr,
			"wrote '%s' (%zu bytes): sequence %llu, image %s (%zu bytes) at %s\n", out,
			env_len, (unsigned long long)o.sequence, hex, payload_len, o.uri);
out:
	free(env);
	free(payload);
	return rc;
}

int command_manifest(const struct config *config, int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[0], "verify") == 0)
		return manifest_verify(config, argv[1]);
	if (argc >= 1 && strcmp(argv[0], "create") == 0)
		return manifest_create(config, argc, argv);
	fprintf(stderr, "usage: suitd manifest verify ENVELOPE\n%s", create_usage);
	return 2;
}
