/* `manifest create` options, shared by suitd and suitctl (create_cli.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/crypto.h"
#include "suit/create_cli.h"

const struct option suit_create_longopts[] = {
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
	{"dependency", required_argument, NULL, 'D'},
	{"dependency-uri", required_argument, NULL, 'U'},
	{"dependency-prefix", required_argument, NULL, 'P'},
	{"manifest-component-id", required_argument, NULL, 'M'},
	{NULL, 0, NULL, 0},
};

void suit_create_usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s manifest create --key KEY.pem --payload FILE --vendor-domain D\n"
		"       --class-info C --sequence N [--uri URI] [--component ID] [--description "
		"TEXT]\n"
		"       [--integrated] [--dependency FILE [--dependency-uri URI]\n"
		"       [--dependency-prefix P]]... [--manifest-component-id ID] -o OUT.suit\n",
		prog);
}

int suit_create_read_file(const char *prog, const char *path, uint64_t max, uint8_t **ret,
			  size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	uint8_t *data;

	if (!f || fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		fprintf(stderr, "%s: cannot read '%s': %s\n", prog, path,
			f ? "not a regular file" : strerror(errno));
		if (f)
			fclose(f);
		return 1;
	}
	if ((uint64_t)st.st_size > max) {
		fprintf(stderr, "%s: '%s' is %lld bytes, more than the limit %llu\n", prog, path,
			(long long)st.st_size, (unsigned long long)max);
		fclose(f);
		return 1;
	}
	data = malloc((size_t)st.st_size + 1);
	if (!data || fread(data, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
		fprintf(stderr, "%s: cannot read '%s'\n", prog, path);
		free(data);
		fclose(f);
		return 1;
	}
	fclose(f);
	*ret = data;
	*ret_len = (size_t)st.st_size;
	return 0;
}

int suit_create_write(const char *prog, const char *path, const uint8_t *data, size_t len)
{
	char tmp[4096];
	FILE *f;
	int ok;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "wb");
	if (!f) {
		fprintf(stderr, "%s: cannot write '%s': %s\n", prog, tmp, strerror(errno));
		return 1;
	}
	ok = fwrite(data, 1, len, f) == len && fflush(f) == 0 && fsync(fileno(f)) == 0;
	ok = fclose(f) == 0 && ok;
	if (!ok || rename(tmp, path) != 0) {
		fprintf(stderr, "%s: cannot write '%s'\n", prog, path);
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

int suit_create_args_option(struct suit_create_args *a, const char *prog, int c, const char *arg)
{
	switch (c) {
	case 'k':
		a->o.key_path = arg;
		return 0;
	case 'p':
		a->payload_path = arg;
		return 0;
	case 'v':
		a->o.vendor_domain = arg;
		return 0;
	case 'c':
		a->o.class_info = arg;
		return 0;
	case 's':
		a->seq = arg;
		return 0;
	case 'u':
		a->o.uri = arg;
		return 0;
	case 'C':
		a->o.component = arg;
		return 0;
	case 'd':
		a->o.description = arg;
		return 0;
	case 'i':
		a->o.integrated = true;
		return 0;
	case 'o':
		a->out = arg;
		return 0;
	case 'M':
		a->o.manifest_component_id = arg;
		return 0;
	case 'D':
		if (a->dep_count >= SUIT_CREATE_MAX_DEPENDENCIES) {
			fprintf(stderr, "%s: at most %d --dependency\n", prog,
				SUIT_CREATE_MAX_DEPENDENCIES);
			return 2;
		}
		a->dep_paths[a->dep_count++] = arg;
		return 0;
	case 'U':
	case 'P':
		if (!a->dep_count) {
			fprintf(stderr, "%s: --dependency-%s follows a --dependency\n", prog,
				c == 'U' ? "uri" : "prefix");
			return 2;
		}
		if (c == 'U')
			a->deps[a->dep_count - 1].uri = arg;
		else
			a->deps[a->dep_count - 1].prefix = arg;
		return 0;
	default:
		return -1;
	}
}

int suit_create_args_check(struct suit_create_args *a, const char *prog, bool need_output)
{
	char *end;

	if (!a->o.key_path || !a->payload_path || !a->o.vendor_domain || !a->o.class_info ||
	    !a->seq || (need_output && !a->out)) {
		suit_create_usage(prog);
		return 2;
	}
	errno = 0;
	a->o.sequence = strtoull(a->seq, &end, 10);
	if (errno || *end || !*a->seq || *a->seq == '-') {
		fprintf(stderr, "%s: --sequence '%s' is not a whole number\n", prog, a->seq);
		return 2;
	}
	return 0;
}

int suit_create_args_build(struct suit_create_args *a, const struct suit_create_env *env,
			   uint8_t **ret, size_t *ret_len)
{
	struct suit_create_options *o = &a->o;
	uint8_t sha[SHA256_LEN], *out = NULL;
	size_t out_len = 0;
	struct diag d = {0};

	if (suit_create_read_file(env->prog, a->payload_path, env->max_payload, &a->payload,
				  &a->payload_len))
		return 1;
	crypto_sha256(a->payload, a->payload_len, sha);
	hex_encode(sha, SHA256_LEN, a->hex);
	if (!o->uri && o->integrated) {
		const char *base = strrchr(a->payload_path, '/');
		snprintf(a->uri, sizeof(a->uri), "#%.100s", base ? base + 1 : a->payload_path);
		o->uri = a->uri;
	} else if (!o->uri && env->payload_base) {
		size_t n = strlen(env->payload_base);
		while (n && env->payload_base[n - 1] == '/')
			n--;
		snprintf(a->uri, sizeof(a->uri), "%.*s/device/v1/payloads/%s", (int)n,
			 env->payload_base, a->hex);
		o->uri = a->uri;
	} else if (!o->uri) {
		fprintf(stderr, "%s: no image URI: pass --uri https://HOST/... or --integrated\n",
			env->prog);
		return 1;
	}
	if (!uri_signable(o->uri, env->allow_external_uri)) {
		fprintf(stderr,
			"%s: will not sign the image URI '%s': it is not an absolute https:// "
			"URL that devices can fetch over TLS; set [server] public_url or pass "
			"--uri https://HOST/... (other URIs need [manifests] allow_external_uri = "
			"on)\n",
			env->prog, o->uri);
		return 1;
	}
	o->payload = a->payload;
	o->payload_len = a->payload_len;
	/* Dependencies: integrated as "#<file name>" unless --dependency-uri;
	 * a URI ending in '/' gets the dependency's manifest digest appended
	 * (PUBLIC_URL/device/v1/manifests/ names a manifest stored here). */
	for (unsigned i = 0; i < a->dep_count; i++) {
		struct suit_create_dependency *dep = &a->deps[i];
		uint8_t *bytes = NULL, digest[32];
		size_t n = 0;
		char dhex[65];
		if (suit_create_read_file(env->prog, a->dep_paths[i], env->max_manifest, &bytes,
					  &n))
			return 1;
		dep->envelope = bytes;
		dep->envelope_len = n;
		if (suit_envelope_digest(bytes, n, digest, &d) != ERR_OK) {
			fprintf(stderr, "%s: dependency '%s': %s\n", env->prog, a->dep_paths[i],
				d.text);
			return 1;
		}
		hex_encode(digest, 32, dhex);
		if (!dep->uri) {
			const char *base = strrchr(a->dep_paths[i], '/');
			snprintf(a->dep_uris[i], sizeof(a->dep_uris[i]), "#%.100s",
				 base ? base + 1 : a->dep_paths[i]);
			dep->uri = a->dep_uris[i];
		} else if (dep->uri[0] && dep->uri[strlen(dep->uri) - 1] == '/') {
			snprintf(a->dep_uris[i], sizeof(a->dep_uris[i]), "%.1024s%s", dep->uri,
				 dhex);
			dep->uri = a->dep_uris[i];
		}
		if (!uri_signable(dep->uri, env->allow_external_uri)) {
			fprintf(stderr,
				"%s: will not sign the dependency URI '%s': it is not an "
				"absolute https:// URL (other URIs need [manifests] "
				"allow_external_uri = on)\n",
				env->prog, dep->uri);
			return 1;
		}
		fprintf(stderr, "dependency %u: manifest %s (%zu bytes) at %s\n", i + 1, dhex, n,
			dep->uri);
	}
	o->dependencies = a->deps;
	o->dependency_count = a->dep_count;
	if (suit_manifest_create(o, &out, &out_len, &d) != ERR_OK) {
		fprintf(stderr, "%s: cannot create the envelope: %s\n", env->prog, d.text);
		return 1;
	}
	*ret = out;
	*ret_len = out_len;
	return 0;
}

void suit_create_args_release(struct suit_create_args *a)
{
	for (unsigned i = 0; i < a->dep_count; i++)
		free((void *)(uintptr_t)a->deps[i].envelope);
	free(a->payload);
	a->payload = NULL;
	a->dep_count = 0;
}

int suit_create_main(const struct suit_create_env *env, int argc, char **argv)
{
	struct suit_create_args a = {0};
	uint8_t *out = NULL;
	size_t out_len = 0;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, SUIT_CREATE_SHORTOPTS, suit_create_longopts, NULL)) !=
	       -1) {
		rc = suit_create_args_option(&a, env->prog, c, optarg);
		if (rc) {
			if (rc < 0)
				suit_create_usage(env->prog);
			return 2;
		}
	}
	if (optind != argc) {
		suit_create_usage(env->prog);
		return 2;
	}
	rc = suit_create_args_check(&a, env->prog, true);
	if (rc)
		return rc;
	rc = suit_create_args_build(&a, env, &out, &out_len);
	if (!rc)
		rc = suit_create_write(env->prog, a.out, out, out_len);
	if (!rc)
		fprintf(stderr,
			"wrote '%s' (%zu bytes): sequence %llu, image %s (%zu bytes) at %s\n",
			a.out, out_len, (unsigned long long)a.o.sequence, a.hex, a.payload_len,
			a.o.uri);
	free(out);
	suit_create_args_release(&a);
	return rc;
}
