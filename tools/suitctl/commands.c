/* suitctl nouns and verbs over the REST API: status, payload, manifest,
 * device, deploy, deployment, key, audit, webhook. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "suit/create_cli.h"
#include "tools/suitctl/ctl.h"
#include "tools/suitctl/views.h"

/* A path with escaped segments and query parameters. */
struct req {
	struct ctl *c;
	struct buf b;
	bool query;
};

static void req_init(struct req *r, struct ctl *c, const char *prefix)
{
	r->c = c;
	r->query = false;
	buf_init(&r->b, 8192);
	buf_append_str(&r->b, prefix);
}

static void req_seg(struct req *r, const char *seg)
{
	buf_append_str(&r->b, "/");
	ctl_escape(r->c, &r->b, seg);
}

static void req_query(struct req *r, const char *name, const char *value)
{
	if (!value)
		return;
	buf_append_str(&r->b, r->query ? "&" : "?");
	r->query = true;
	buf_append_str(&r->b, name);
	buf_append_str(&r->b, "=");
	ctl_escape(r->c, &r->b, value);
}

static int usage(const char *text)
{
	fprintf(stderr, "usage: suitctl %s\n", text);
	return CTL_USAGE;
}

static bool verb(int argc, char **argv, const char *name)
{
	return argc >= 1 && strcmp(argv[0], name) == 0;
}

/* getopt_long over argv (argv[0] is the verb); unknown options print
 * the usage. Returns the option code, -1 at the end, '?' on error. */
static int next_opt(int argc, char **argv, const struct option *o)
{
	return getopt_long(argc, argv, "+", o, NULL);
}

/* GET path and show it. */
static int get_show(struct ctl *c, const char *path, const struct ctl_view *v)
{
	json_t *obj = NULL;
	int rc = ctl_json(c, "GET", path, NULL, &obj);

	if (!rc)
		ctl_show(c, obj, v);
	json_decref(obj);
	return rc;
}

/* method path body and show the answer (or "done" for 204). */
static int send_show(struct ctl *c, const char *method, const char *path, json_t *body,
		     const struct ctl_view *v)
{
	json_t *obj = NULL;
	int rc = ctl_json(c, method, path, body, &obj);

	if (!rc && json_is_object(obj))
		ctl_show(c, obj, v);
	json_decref(obj);
	return rc;
}

static int delete_one(struct ctl *c, const char *prefix, const char *id)
{
	struct req r;
	int rc;

	req_init(&r, c, prefix);
	req_seg(&r, id);
	rc = ctl_json(c, "DELETE", buf_str(&r.b), NULL, NULL);
	buf_release(&r.b);
	if (!rc && !c->quiet)
		fprintf(stderr, "deleted %s\n", id);
	return rc;
}

static int show_one(struct ctl *c, const char *prefix, const char *id, const char *suffix,
		    const struct ctl_view *v)
{
	struct req r;
	int rc;

	req_init(&r, c, prefix);
	req_seg(&r, id);
	if (suffix)
		buf_append_str(&r.b, suffix);
	rc = get_show(c, buf_str(&r.b), v);
	buf_release(&r.b);
	return rc;
}

/* Filters of a list: each option --NAME VALUE becomes ?NAME=VALUE (with
 * '-' → '_'). */
/* path with the query of the --filter options given (names with '-' are
 * sent with '_'), into r (released by the caller on CTL_OK). */
static int filtered_path(struct ctl *c, int argc, char **argv, const char *path,
			 const char *const *filters, const char *use, struct req *r)
{
	struct option o[16] = {0};
	const char *values[16] = {0};
	char names[16][40];
	size_t n = 0;
	int opt;

	for (; filters && filters[n] && n < 15; n++) {
		o[n].name = filters[n];
		o[n].has_arg = required_argument;
		o[n].val = (int)n + 1;
	}
	while ((opt = next_opt(argc, argv, o)) != -1) {
		if (opt < 1 || (size_t)opt > n)
			return usage(use);
		values[opt - 1] = optarg;
	}
	if (optind != argc)
		return usage(use);
	req_init(r, c, path);
	for (size_t i = 0; i < n; i++) {
		snprintf(names[i], sizeof(names[i]), "%s", filters[i]);
		for (char *p = names[i]; *p; p++)
			if (*p == '-')
				*p = '_';
		req_query(r, names[i], values[i]);
	}
	return CTL_OK;
}

static int list_filtered(struct ctl *c, int argc, char **argv, const char *path,
			 const char *const *filters, const char *cursor, const struct ctl_view *v,
			 const char *use)
{
	struct req r;
	int rc = filtered_path(c, argc, argv, path, filters, use, &r);

	if (rc)
		return rc;
	rc = ctl_list(c, buf_str(&r.b), cursor, v);
	buf_release(&r.b);
	return rc;
}

/* ---- status ---- */

int ctl_cmd_status(struct ctl *c, int argc, char **argv)
{
	(void)argv;
	if (argc > 1)
		return usage("status");
	return get_show(c, "/api/v1/status", &view_status);
}

/* ---- payload ---- */

static const char payload_use[] = "payload upload FILE [--name NAME] | list | show SHA256 | "
				  "delete SHA256";

int ctl_cmd_payload(struct ctl *c, int argc, char **argv)
{
	if (verb(argc, argv, "upload")) {
		static const struct option o[] = {{"name", required_argument, NULL, 'n'},
						  {NULL, 0, NULL, 0}};
		const char *name = NULL;
		json_t *p = NULL;
		int opt, rc;
		while ((opt = getopt_long(argc, argv, "", o, NULL)) != -1) {
			if (opt != 'n')
				return usage(payload_use);
			name = optarg;
		}
		if (optind + 1 != argc)
			return usage(payload_use);
		rc = ctl_payload_upload(c, argv[optind], name, &p);
		if (!rc)
			ctl_show(c, p, &view_payload);
		json_decref(p);
		return rc;
	}
	if (verb(argc, argv, "list"))
		return list_filtered(c, argc, argv, "/api/v1/payloads", NULL, "after",
				     &view_payload, payload_use);
	if (verb(argc, argv, "show") && argc == 2)
		return show_one(c, "/api/v1/payloads", argv[1], NULL, &view_payload);
	if (verb(argc, argv, "delete") && argc == 2)
		return delete_one(c, "/api/v1/payloads", argv[1]);
	return usage(payload_use);
}

/* ---- manifest ---- */

static const char manifest_use[] =
	"manifest upload FILE | list [--vendor-id U] [--class-id U] | show DIGEST | "
	"delete DIGEST | envelope DIGEST [--sever MEMBER,...] [--file OUT] | create ... (suitctl "
	"manifest "
	"create --help)";

/* The envelope of FILE (at most 16 MiB: [manifests] max_size's ceiling). */
#define MANIFEST_MAX (16u << 20)

int ctl_manifest_upload(struct ctl *c, const uint8_t *env, size_t len, json_t **ret)
{
	struct ctl_resp r;
	json_error_t je;
	int rc;

	ctl_resp_init(&r);
	rc = ctl_call(c, "POST", "/api/v1/manifests", "application/suit-envelope+cose", env, len,
		      &r);
	if (!rc) {
		*ret = json_loadb(buf_str(&r.body), r.body.len, 0, &je);
		if (!*ret) {
			fprintf(stderr, "suitctl: the answer is not JSON: %s\n", je.text);
			rc = CTL_TRANSPORT;
		} else if (r.status == 200) {
			fprintf(stderr, "suitctl: the server already had this manifest\n");
		}
	}
	ctl_resp_release(&r);
	return rc;
}

static int manifest_envelope(struct ctl *c, int argc, char **argv)
{
	static const struct option o[] = {{"sever", required_argument, NULL, 's'},
					  {"file", required_argument, NULL, 'f'},
					  {NULL, 0, NULL, 0}};
	const char *file = NULL, *sever = NULL;
	struct ctl_resp resp;
	struct req r;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "", o, NULL)) != -1) {
		if (opt == 's')
			sever = optarg;
		else if (opt == 'f')
			file = optarg;
		else
			return usage(manifest_use);
	}
	if (optind + 1 != argc)
		return usage(manifest_use);
	if (!file && c->tty_out) {
		fprintf(stderr, "suitctl: the envelope is binary: pass --file OUT.suit or "
				"redirect stdout\n");
		return CTL_USAGE;
	}
	req_init(&r, c, "/api/v1/manifests");
	req_seg(&r, argv[optind]);
	buf_append_str(&r.b, "/envelope");
	req_query(&r, "sever", sever);
	ctl_resp_init(&resp);
	rc = ctl_call(c, "GET", buf_str(&r.b), NULL, NULL, 0, &resp);
	buf_release(&r.b);
	if (!rc && file) {
		rc = suit_create_write("suitctl", file, (const uint8_t *)resp.body.data,
				       resp.body.len)
			     ? CTL_USAGE
			     : CTL_OK;
	} else if (!rc) {
		if (fwrite(resp.body.data, 1, resp.body.len, stdout) != resp.body.len ||
		    fflush(stdout) != 0)
			rc = CTL_USAGE;
	}
	ctl_resp_release(&resp);
	return rc;
}

int ctl_cmd_manifest(struct ctl *c, int argc, char **argv)
{
	static const char *const filters[] = {"vendor-id", "class-id", NULL};

	if (verb(argc, argv, "upload") && argc == 2) {
		uint8_t *env = NULL;
		size_t len = 0;
		json_t *m = NULL;
		int rc;
		if (suit_create_read_file("suitctl", argv[1], MANIFEST_MAX, &env, &len))
			return CTL_USAGE;
		rc = ctl_manifest_upload(c, env, len, &m);
		free(env);
		if (!rc)
			ctl_show(c, m, &view_manifest);
		json_decref(m);
		return rc;
	}
	if (verb(argc, argv, "list"))
		return list_filtered(c, argc, argv, "/api/v1/manifests", filters, "after",
				     &view_manifest, manifest_use);
	if (verb(argc, argv, "show") && argc == 2)
		return show_one(c, "/api/v1/manifests", argv[1], NULL, &view_manifest);
	if (verb(argc, argv, "delete") && argc == 2)
		return delete_one(c, "/api/v1/manifests", argv[1]);
	if (verb(argc, argv, "envelope"))
		return manifest_envelope(c, argc, argv);
	return usage(manifest_use);
}

/* ---- device ---- */

static const char device_use[] =
	"device add ID [--group G] [--tag T]... [--vendor-id U] [--class-id U] [--attributes "
	"JSON]\n"
	"       | list [--group G] [--tag T] [--class-id U] [--seen-since T] [--not-seen-since T]\n"
	"              [--sequence N] [--sequence-below N] [--assignment-state S]\n"
	"       | show ID | update ID [--group G|--no-group] [--tag T]... [--no-tags]\n"
	"              [--attributes JSON] [--report-key FILE.pem|--no-report-key]\n"
	"       | delete ID | token ID [--grace SECONDS] | reports ID\n"
	"       | import FILE|- [--dry-run] [--generate-tokens]\n"
	"       | export [the filters of list]";

static int json_arg(const char *text, json_t **ret)
{
	json_error_t je;
	json_t *v = json_loads(text, 0, &je);

	if (!json_is_object(v)) {
		fprintf(stderr, "suitctl: --attributes '%s' is not a JSON object%s%s\n", text,
			v ? "" : ": ", v ? "" : je.text);
		json_decref(v);
		return CTL_USAGE;
	}
	*ret = v;
	return CTL_OK;
}

/* The device and its secret: table shows both, -q prints "ID TOKEN" (a
 * line of a suit-sim fleet file). */
static void show_token(struct ctl *c, json_t *obj, const struct ctl_view *v)
{
	if (c->quiet && c->output == CTL_OUT_TABLE) {
		printf("%s %s\n", json_string_value(json_object_get(obj, "id")),
		       json_string_value(json_object_get(obj, "token")));
		return;
	}
	ctl_show(c, obj, v);
}

static int device_write(struct ctl *c, int argc, char **argv, bool create)
{
	static const struct option o[] = {
		{"group", required_argument, NULL, 'g'},
		{"no-group", no_argument, NULL, 'G'},
		{"tag", required_argument, NULL, 't'},
		{"no-tags", no_argument, NULL, 'T'},
		{"vendor-id", required_argument, NULL, 'v'},
		{"class-id", required_argument, NULL, 'c'},
		{"attributes", required_argument, NULL, 'a'},
		{"report-key", required_argument, NULL, 'r'},
		{"no-report-key", no_argument, NULL, 'R'},
		{NULL, 0, NULL, 0},
	};
	json_t *body = json_object(), *tags = NULL, *obj = NULL;
	struct req r;
	int opt, rc = CTL_USAGE;

	while ((opt = getopt_long(argc, argv, "", o, NULL)) != -1) {
		switch (opt) {
		case 'g':
			json_object_set_new(body, "group", json_string(optarg));
			break;
		case 'G':
			json_object_set_new(body, "group", json_null());
			break;
		case 't':
			if (!tags)
				tags = json_array();
			json_array_append_new(tags, json_string(optarg));
			break;
		case 'T':
			if (!tags)
				tags = json_array();
			break;
		case 'v':
		case 'c':
			if (!create)
				goto bad;
			json_object_set_new(body, opt == 'v' ? "vendor_id" : "class_id",
					    json_string(optarg));
			break;
		case 'a': {
			json_t *a = NULL;
			if (json_arg(optarg, &a))
				goto out;
			json_object_set_new(body, "attributes", a);
			break;
		}
		case 'r': {
			uint8_t *pem = NULL;
			size_t len = 0;
			if (create ||
			    suit_create_read_file("suitctl", optarg, 64 << 10, &pem, &len))
				goto bad;
			json_object_set_new(body, "report_key", json_stringn((char *)pem, len));
			free(pem);
			break;
		}
		case 'R':
			if (create)
				goto bad;
			json_object_set_new(body, "report_key", json_null());
			break;
		default:
			goto bad;
		}
	}
	if (optind + 1 != argc)
		goto bad;
	if (tags)
		json_object_set(body, "tags", tags);
	if (create) {
		json_object_set_new(body, "id", json_string(argv[optind]));
		rc = ctl_json(c, "POST", "/api/v1/devices", body, &obj);
		if (!rc)
			show_token(c, obj, &view_device);
	} else {
		req_init(&r, c, "/api/v1/devices");
		req_seg(&r, argv[optind]);
		rc = send_show(c, "PATCH", buf_str(&r.b), body, &view_device);
		buf_release(&r.b);
	}
	goto out;
bad:
	rc = usage(device_use);
out:
	json_decref(obj);
	json_decref(tags);
	json_decref(body);
	return rc;
}

static int device_token(struct ctl *c, int argc, char **argv)
{
	static const struct option o[] = {{"grace", required_argument, NULL, 'g'},
					  {NULL, 0, NULL, 0}};
	const char *grace = NULL;
	json_t *obj = NULL;
	struct req r;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "", o, NULL)) != -1) {
		if (opt != 'g')
			return usage(device_use);
		grace = optarg;
	}
	if (optind + 1 != argc)
		return usage(device_use);
	req_init(&r, c, "/api/v1/devices");
	req_seg(&r, argv[optind]);
	buf_append_str(&r.b, "/token");
	req_query(&r, "grace", grace);
	rc = ctl_json(c, "POST", buf_str(&r.b), NULL, &obj);
	buf_release(&r.b);
	if (!rc)
		show_token(c, obj, &view_device);
	json_decref(obj);
	return rc;
}

static int device_import(struct ctl *c, int argc, char **argv)
{
	static const struct option o[] = {
		{"dry-run", no_argument, NULL, 'n'},
		{"generate-tokens", no_argument, NULL, 'g'},
		{NULL, 0, NULL, 0},
	};
	bool dry_run = false, generate = false;
	const char *file = NULL;
	int opt;

	/* The file first (as in `device update ID --flags`), or last. */
	optind = 1;
	if (argc >= 2 && (argv[1][0] != '-' || strcmp(argv[1], "-") == 0)) {
		file = argv[1];
		optind = 2;
	}
	while ((opt = next_opt(argc, argv, o)) != -1) {
		if (opt == 'n')
			dry_run = true;
		else if (opt == 'g')
			generate = true;
		else
			return usage(device_use);
	}
	if (!file && optind == argc - 1)
		file = argv[optind++];
	if (!file || optind != argc)
		return usage(device_use);
	return ctl_device_import(c, file, dry_run, generate);
}

int ctl_cmd_device(struct ctl *c, int argc, char **argv)
{
	static const char *const filters[] = {"group",
					      "tag",
					      "class-id",
					      "seen-since",
					      "not-seen-since",
					      "sequence",
					      "sequence-below",
					      "assignment-state",
					      NULL};

	if (verb(argc, argv, "add"))
		return device_write(c, argc, argv, true);
	if (verb(argc, argv, "update"))
		return device_write(c, argc, argv, false);
	if (verb(argc, argv, "list"))
		return list_filtered(c, argc, argv, "/api/v1/devices", filters, "after",
				     &view_device, device_use);
	if (verb(argc, argv, "show") && argc == 2)
		return show_one(c, "/api/v1/devices", argv[1], NULL, &view_device);
	if (verb(argc, argv, "delete") && argc == 2)
		return delete_one(c, "/api/v1/devices", argv[1]);
	if (verb(argc, argv, "token"))
		return device_token(c, argc, argv);
	if (verb(argc, argv, "import"))
		return device_import(c, argc, argv);
	if (verb(argc, argv, "export")) {
		struct req r;
		int rc = filtered_path(c, argc, argv, "/api/v1/devices/export", filters, device_use,
				       &r);
		if (rc)
			return rc;
		rc = ctl_device_export(c, buf_str(&r.b));
		buf_release(&r.b);
		return rc;
	}
	if (verb(argc, argv, "reports") && argc == 2) {
		struct req r;
		int rc;
		req_init(&r, c, "/api/v1/devices");
		req_seg(&r, argv[1]);
		buf_append_str(&r.b, "/reports");
		rc = ctl_list(c, buf_str(&r.b), "after", &view_report);
		buf_release(&r.b);
		return rc;
	}
	return usage(device_use);
}

/* ---- deploy ---- */

static const char deploy_use[] =
	"deploy MANIFEST --group G | --tag T | --device ID... [--name N] [--stages 1,10,100]\n"
	"       [--success-threshold PCT] [--failure-threshold PCT] [--device-timeout S]\n"
	"       [--wait [--timeout S]]";

/* "1,10,100" → [1, 10, 100]. */
static json_t *stages_parse(const char *s)
{
	json_t *a = json_array();
	char *end;

	while (*s) {
		errno = 0;
		long v = strtol(s, &end, 10);
		if (errno || end == s || v < 1 || v > 100 || (*end && *end != ',')) {
			json_decref(a);
			return NULL;
		}
		json_array_append_new(a, json_integer(v));
		s = *end ? end + 1 : end;
	}
	if (!json_array_size(a)) {
		json_decref(a);
		return NULL;
	}
	return a;
}

static bool long_arg(const char *s, long min, long max, long *ret)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return false;
	*ret = v;
	return true;
}

/* The shared part of deploy and release: target and rollout options.
 * 0 taken, -1 not one of these, CTL_USAGE bad value. */
struct deploy_opts {
	json_t *body, *rollout, *devices;
	const char *target_kind;
	bool wait;
	long timeout;
};

enum {
	OPT_GROUP = 300,
	OPT_TAG,
	OPT_DEVICE,
	OPT_NAME,
	OPT_STAGES,
	OPT_SUCCESS,
	OPT_FAILURE,
	OPT_DEVTIMEOUT,
	OPT_WAIT,
	OPT_TIMEOUT
};

#define DEPLOY_LONGOPTS                                                                           \
	{"group", required_argument, NULL, OPT_GROUP}, {"tag", required_argument, NULL, OPT_TAG}, \
		{"device", required_argument, NULL, OPT_DEVICE},                                  \
		{"name", required_argument, NULL, OPT_NAME},                                      \
		{"stages", required_argument, NULL, OPT_STAGES},                                  \
		{"success-threshold", required_argument, NULL, OPT_SUCCESS},                      \
		{"failure-threshold", required_argument, NULL, OPT_FAILURE},                      \
		{"device-timeout", required_argument, NULL, OPT_DEVTIMEOUT},                      \
		{"wait", no_argument, NULL, OPT_WAIT},                                            \
	{                                                                                         \
		"timeout", required_argument, NULL, OPT_TIMEOUT                                   \
	}

static int deploy_option(struct deploy_opts *d, int opt, const char *arg)
{
	json_t *target = json_object_get(d->body, "target");
	long v;

	switch (opt) {
	case OPT_GROUP:
	case OPT_TAG:
		if (json_object_size(target) || d->devices) {
			fputs("suitctl: give one target: --group, --tag or --device\n", stderr);
			return CTL_USAGE;
		}
		json_object_set_new(target, opt == OPT_GROUP ? "group" : "tag", json_string(arg));
		return 0;
	case OPT_DEVICE:
		if (json_object_size(target) && !d->devices) {
			fputs("suitctl: give one target: --group, --tag or --device\n", stderr);
			return CTL_USAGE;
		}
		if (!d->devices) {
			d->devices = json_array();
			json_object_set(target, "devices", d->devices);
		}
		json_array_append_new(d->devices, json_string(arg));
		return 0;
	case OPT_NAME:
		json_object_set_new(d->body, "name", json_string(arg));
		return 0;
	case OPT_STAGES: {
		json_t *s = stages_parse(arg);
		if (!s) {
			fprintf(stderr,
				"suitctl: --stages '%s': percentages 1..100, comma-separated, "
				"e.g. 1,10,100\n",
				arg);
			return CTL_USAGE;
		}
		json_object_set_new(d->rollout, "stages", s);
		return 0;
	}
	case OPT_SUCCESS:
	case OPT_FAILURE:
		if (!long_arg(arg, 0, 100, &v)) {
			fprintf(stderr, "suitctl: a threshold is a percentage 0..100, not '%s'\n",
				arg);
			return CTL_USAGE;
		}
		json_object_set_new(d->rollout,
				    opt == OPT_SUCCESS ? "success_threshold" : "failure_threshold",
				    json_integer(v));
		return 0;
	case OPT_DEVTIMEOUT:
		if (!long_arg(arg, 1, 31536000, &v)) {
			fprintf(stderr, "suitctl: --device-timeout is seconds, not '%s'\n", arg);
			return CTL_USAGE;
		}
		json_object_set_new(d->rollout, "device_timeout", json_integer(v));
		return 0;
	case OPT_WAIT:
		d->wait = true;
		return 0;
	case OPT_TIMEOUT:
		if (!long_arg(arg, 1, 100000000, &v)) {
			fprintf(stderr, "suitctl: --timeout is seconds, not '%s'\n", arg);
			return CTL_USAGE;
		}
		d->timeout = v;
		return 0;
	default:
		return -1;
	}
}

static void deploy_init(struct deploy_opts *d)
{
	memset(d, 0, sizeof(*d));
	d->body = json_object();
	d->rollout = json_object();
	json_object_set_new(d->body, "target", json_object());
}

static void deploy_release(struct deploy_opts *d)
{
	json_decref(d->body);
	json_decref(d->rollout);
	json_decref(d->devices);
}

/* POST the deployment of manifest; show it; --wait. */
static int deploy_run(struct ctl *c, struct deploy_opts *d, const char *manifest)
{
	json_t *dep = NULL;
	int rc;

	if (!json_object_size(json_object_get(d->body, "target"))) {
		fputs("suitctl: which devices? pass --group G, --tag T or --device ID\n", stderr);
		return CTL_USAGE;
	}
	json_object_set_new(d->body, "manifest", json_string(manifest));
	if (json_object_size(d->rollout))
		json_object_set(d->body, "rollout", d->rollout);
	rc = ctl_json(c, "POST", "/api/v1/deployments", d->body, &dep);
	if (rc)
		return rc;
	long long id = json_integer_value(json_object_get(dep, "id"));
	if (!d->wait) {
		ctl_show(c, dep, &view_deployment);
		json_decref(dep);
		return CTL_OK;
	}
	json_decref(dep);
	fprintf(stderr, "deployment %lld created; waiting for it\n", id);
	rc = ctl_deployment_wait(c, id, d->timeout, c->progress);
	char path[64];
	snprintf(path, sizeof(path), "/api/v1/deployments/%lld", id);
	int rc2 = get_show(c, path, &view_deployment);
	return rc ? rc : rc2;
}

int ctl_cmd_deploy(struct ctl *c, int argc, char **argv)
{
	static const struct option o[] = {DEPLOY_LONGOPTS, {NULL, 0, NULL, 0}};
	struct deploy_opts d;
	int opt, rc = CTL_OK;

	deploy_init(&d);
	while ((opt = getopt_long(argc, argv, "", o, NULL)) != -1) {
		rc = deploy_option(&d, opt, optarg);
		if (rc) {
			if (rc < 0)
				rc = usage(deploy_use);
			goto out;
		}
	}
	if (optind + 1 != argc) {
		rc = usage(deploy_use);
		goto out;
	}
	rc = deploy_run(c, &d, argv[optind]);
out:
	deploy_release(&d);
	return rc;
}

/* ---- deployment ---- */

static const char deployment_use[] =
	"deployment list [--status S] [--manifest DIGEST] | show ID | devices ID [--state S]\n"
	"       | pause ID [--reason TEXT] | resume ID [--acknowledge] | cancel ID | retry ID\n"
	"       | delete ID | watch ID [--timeout S]";

static int deployment_action(struct ctl *c, int argc, char **argv)
{
	static const struct option o[] = {{"reason", required_argument, NULL, 'r'},
					  {"acknowledge", no_argument, NULL, 'a'},
					  {NULL, 0, NULL, 0}};
	const char *action = argv[0];
	json_t *body = NULL;
	struct req r;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "", o, NULL)) != -1) {
		if (opt == 'r' && strcmp(action, "pause") == 0) {
			json_decref(body);
			body = json_pack("{s:s}", "reason", optarg);
		} else if (opt == 'a' && strcmp(action, "resume") == 0) {
			json_decref(body);
			body = json_pack("{s:b}", "acknowledge", 1);
		} else {
			json_decref(body);
			return usage(deployment_use);
		}
	}
	if (optind + 1 != argc) {
		json_decref(body);
		return usage(deployment_use);
	}
	req_init(&r, c, "/api/v1/deployments");
	req_seg(&r, argv[optind]);
	buf_printf(&r.b, "/%s", action);
	rc = send_show(c, "POST", buf_str(&r.b), body, &view_deployment);
	buf_release(&r.b);
	json_decref(body);
	return rc;
}

static int deployment_watch(struct ctl *c, int argc, char **argv)
{
	static const struct option o[] = {{"timeout", required_argument, NULL, 't'},
					  {NULL, 0, NULL, 0}};
	long timeout = 0, id;
	int opt;

	while ((opt = getopt_long(argc, argv, "", o, NULL)) != -1) {
		if (opt != 't' || !long_arg(optarg, 1, 100000000, &timeout))
			return usage(deployment_use);
	}
	if (optind + 1 != argc || !long_arg(argv[optind], 1, 0x7fffffffL, &id))
		return usage(deployment_use);
	return ctl_deployment_wait(c, id, timeout, true);
}

int ctl_cmd_deployment(struct ctl *c, int argc, char **argv)
{
	static const char *const filters[] = {"status", "manifest", NULL};
	static const char *const dev_filters[] = {"state", NULL};

	if (verb(argc, argv, "list"))
		return list_filtered(c, argc, argv, "/api/v1/deployments", filters, "after",
				     &view_deployment, deployment_use);
	if (verb(argc, argv, "show") && argc == 2)
		return show_one(c, "/api/v1/deployments", argv[1], NULL, &view_deployment);
	if (verb(argc, argv, "delete") && argc == 2)
		return delete_one(c, "/api/v1/deployments", argv[1]);
	if (verb(argc, argv, "devices") && argc >= 2) {
		/* devices ID [--state S]: the id first, then the filter. */
		struct req r;
		int rc;
		const char *id = argv[1];
		argv[1] = argv[0];
		req_init(&r, c, "/api/v1/deployments");
		req_seg(&r, id);
		buf_append_str(&r.b, "/devices");
		rc = list_filtered(c, argc - 1, argv + 1, buf_str(&r.b), dev_filters, "after",
				   &view_assignment, deployment_use);
		buf_release(&r.b);
		return rc;
	}
	if (verb(argc, argv, "pause") || verb(argc, argv, "resume") || verb(argc, argv, "cancel") ||
	    verb(argc, argv, "retry"))
		return deployment_action(c, argc, argv);
	if (verb(argc, argv, "watch"))
		return deployment_watch(c, argc, argv);
	return usage(deployment_use);
}

/* ---- key ---- */

static const char key_use[] =
	"key list | create NAME --role reader|operator|admin [--expires-in SECONDS] | "
	"revoke NAME";

int ctl_cmd_key(struct ctl *c, int argc, char **argv)
{
	if (verb(argc, argv, "list"))
		return list_filtered(c, argc, argv, "/api/v1/keys", NULL, "after", &view_key,
				     key_use);
	if (verb(argc, argv, "revoke") && argc == 2)
		return delete_one(c, "/api/v1/keys", argv[1]);
	if (verb(argc, argv, "create")) {
		static const struct option o[] = {{"role", required_argument, NULL, 'r'},
						  {"expires-in", required_argument, NULL, 'e'},
						  {NULL, 0, NULL, 0}};
		json_t *body = json_object(), *obj = NULL;
		long v;
		int opt, rc;
		while ((opt = getopt_long(argc, argv, "", o, NULL)) != -1) {
			if (opt == 'r') {
				json_object_set_new(body, "role", json_string(optarg));
			} else if (opt == 'e' && long_arg(optarg, 1, 0x7fffffffL, &v)) {
				json_object_set_new(body, "expires_in", json_integer(v));
			} else {
				json_decref(body);
				return usage(key_use);
			}
		}
		if (optind + 1 != argc || !json_object_get(body, "role")) {
			json_decref(body);
			return usage(key_use);
		}
		json_object_set_new(body, "name", json_string(argv[optind]));
		rc = ctl_json(c, "POST", "/api/v1/keys", body, &obj);
		json_decref(body);
		if (!rc) {
			/* The secret, shown once: -q prints only it. */
			if (c->quiet && c->output == CTL_OUT_TABLE)
				printf("%s\n", json_string_value(json_object_get(obj, "key")));
			else
				ctl_show(c, obj, &view_key);
			if (!c->quiet)
				fputs("suitctl: store the key now: it is not shown again\n",
				      stderr);
		}
		json_decref(obj);
		return rc;
	}
	return usage(key_use);
}

/* ---- audit ---- */

int ctl_cmd_audit(struct ctl *c, int argc, char **argv)
{
	static const char *const filters[] = {"actor", "action", "subject", "since",
					      "until", "after",	 NULL};
	/* argv[0] is "audit" itself: getopt starts after it. */
	return list_filtered(c, argc, argv, "/api/v1/audit", filters, "before", &view_event,
			     "audit [--actor K] [--action TYPE] [--subject S] [--since T] "
			     "[--until T] [--after ID]");
}

/* ---- webhook ---- */

static const char webhook_use[] =
	"webhook list | show ID | create URL [--types T,T] [--description D] [--disabled]\n"
	"       | update ID [--url URL] [--types T,T] [--description D] [--enable|--disable]\n"
	"       | delete ID | deliveries ID [--event N] | retry ID N";

static json_t *types_parse(const char *s)
{
	json_t *a = json_array();

	while (*s) {
		size_t n = strcspn(s, ",");
		if (n)
			json_array_append_new(a, json_stringn(s, n));
		s += n;
		if (*s == ',')
			s++;
	}
	return a;
}

static int webhook_write(struct ctl *c, int argc, char **argv, bool create)
{
	static const struct option o[] = {
		{"url", required_argument, NULL, 'u'},
		{"types", required_argument, NULL, 't'},
		{"description", required_argument, NULL, 'd'},
		{"disabled", no_argument, NULL, 'x'},
		{"disable", no_argument, NULL, 'x'},
		{"enable", no_argument, NULL, 'e'},
		{NULL, 0, NULL, 0},
	};
	json_t *body = json_object(), *obj = NULL;
	struct req r;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "", o, NULL)) != -1) {
		switch (opt) {
		case 'u':
			json_object_set_new(body, "url", json_string(optarg));
			break;
		case 't':
			json_object_set_new(body, "types", types_parse(optarg));
			break;
		case 'd':
			json_object_set_new(body, "description", json_string(optarg));
			break;
		case 'x':
		case 'e':
			json_object_set_new(body, "enabled", json_boolean(opt == 'e'));
			break;
		default:
			json_decref(body);
			return usage(webhook_use);
		}
	}
	if (optind + 1 != argc) {
		json_decref(body);
		return usage(webhook_use);
	}
	if (create) {
		json_object_set_new(body, "url", json_string(argv[optind]));
		rc = ctl_json(c, "POST", "/api/v1/webhooks", body, &obj);
		if (!rc) {
			ctl_show(c, obj, &view_webhook);
			if (!c->quiet)
				fputs("suitctl: store the secret now: it is not shown again\n",
				      stderr);
		}
		json_decref(obj);
	} else {
		req_init(&r, c, "/api/v1/webhooks");
		req_seg(&r, argv[optind]);
		rc = send_show(c, "PATCH", buf_str(&r.b), body, &view_webhook);
		buf_release(&r.b);
	}
	json_decref(body);
	return rc;
}

int ctl_cmd_webhook(struct ctl *c, int argc, char **argv)
{
	static const char *const dl_filters[] = {"event", NULL};

	if (verb(argc, argv, "list"))
		return list_filtered(c, argc, argv, "/api/v1/webhooks", NULL, "after",
				     &view_webhook, webhook_use);
	if (verb(argc, argv, "show") && argc == 2)
		return show_one(c, "/api/v1/webhooks", argv[1], NULL, &view_webhook);
	if (verb(argc, argv, "delete") && argc == 2)
		return delete_one(c, "/api/v1/webhooks", argv[1]);
	if (verb(argc, argv, "create"))
		return webhook_write(c, argc, argv, true);
	if (verb(argc, argv, "update"))
		return webhook_write(c, argc, argv, false);
	if (verb(argc, argv, "deliveries") && argc >= 2) {
		struct req r;
		int rc;
		const char *id = argv[1];
		argv[1] = argv[0];
		req_init(&r, c, "/api/v1/webhooks");
		req_seg(&r, id);
		buf_append_str(&r.b, "/deliveries");
		rc = list_filtered(c, argc - 1, argv + 1, buf_str(&r.b), dl_filters, "before",
				   &view_delivery, webhook_use);
		buf_release(&r.b);
		return rc;
	}
	if (verb(argc, argv, "retry") && argc == 3) {
		struct req r;
		int rc;
		req_init(&r, c, "/api/v1/webhooks");
		req_seg(&r, argv[1]);
		buf_append_str(&r.b, "/deliveries");
		req_seg(&r, argv[2]);
		buf_append_str(&r.b, "/retry");
		rc = send_show(c, "POST", buf_str(&r.b), NULL, &view_delivery);
		buf_release(&r.b);
		return rc;
	}
	return usage(webhook_use);
}

/* ---- release ---- */

static const char release_use[] =
	"release FILE --key KEY.pem --vendor-domain D --class-info C\n"
	"       (--group G | --tag T | --device ID...) [--stages 10,100] [--wait [--timeout S]]\n"
	"       [--sequence N] [--uri URI] [--component ID] [--description TEXT] [--name N]\n"
	"       [--success-threshold PCT] [--failure-threshold PCT] [--device-timeout S]";

static void uuid_text(const uint8_t u[16], char out[37])
{
	static const char hex[] = "0123456789abcdef";
	size_t k = 0;

	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[k++] = '-';
		out[k++] = hex[u[i] >> 4];
		out[k++] = hex[u[i] & 15];
	}
	out[k] = 0;
}

/* The highest sequence number stored for the class, 0 when none. */
static int class_sequence(struct ctl *c, const char *vendor, const char *klass,
			  unsigned long long *ret)
{
	char cursor[32] = "";
	unsigned long long max = 0;

	for (;;) {
		char path[256];
		json_t *page = NULL, *it;
		size_t i;
		snprintf(path, sizeof(path),
			 "/api/v1/manifests?vendor_id=%s&class_id=%s&limit=1000%s%s", vendor, klass,
			 cursor[0] ? "&after=" : "", cursor);
		int rc = ctl_json(c, "GET", path, NULL, &page);
		if (rc)
			return rc;
		json_array_foreach(json_object_get(page, "items"), i, it)
		{
			json_int_t s = json_integer_value(json_object_get(it, "sequence_number"));
			if (s > 0 && (unsigned long long)s > max)
				max = (unsigned long long)s;
		}
		json_t *next = json_object_get(page, "next");
		bool more = json_is_string(next);
		if (more)
			snprintf(cursor, sizeof(cursor), "%s", json_string_value(next));
		json_decref(page);
		if (!more)
			break;
	}
	*ret = max;
	return CTL_OK;
}

int ctl_cmd_release(struct ctl *c, int argc, char **argv)
{
	enum { OPT_INTEGRATED_UNUSED = 400 };
	struct option o[SUIT_CREATE_LONGOPT_COUNT + 12];
	static const struct option deploy_opts[] = {DEPLOY_LONGOPTS, {NULL, 0, NULL, 0}};
	struct suit_create_args a = {0};
	struct deploy_opts d;
	struct suit_create_env env = {
		.prog = "suitctl",
		.payload_base = c->url,
		.max_payload = UINT64_MAX,
		.max_manifest = MANIFEST_MAX,
	};
	uint8_t vendor[16], klass[16], *envelope = NULL;
	size_t n = 0, env_len = 0;
	char vendor_text[37], class_text[37], seq[24];
	json_t *payload = NULL, *manifest = NULL;
	int opt, rc = CTL_USAGE;

	/* The create options but --output and --payload (FILE is the
	 * payload; the envelope goes to the server), then deploy's. */
	for (size_t i = 0; suit_create_longopts[i].name; i++)
		if (strcmp(suit_create_longopts[i].name, "output") != 0 &&
		    strcmp(suit_create_longopts[i].name, "payload") != 0)
			o[n++] = suit_create_longopts[i];
	for (size_t i = 0; deploy_opts[i].name; i++)
		o[n++] = deploy_opts[i];
	o[n] = (struct option){NULL, 0, NULL, 0};
	deploy_init(&d);
	while ((opt = getopt_long(argc, argv, "", o, NULL)) != -1) {
		int r = suit_create_args_option(&a, "suitctl", opt, optarg);
		if (r < 0)
			r = deploy_option(&d, opt, optarg);
		if (r) {
			rc = r < 0 ? usage(release_use) : r;
			goto out;
		}
	}
	if (optind + 1 != argc) {
		rc = usage(release_use);
		goto out;
	}
	a.payload_path = argv[optind];
	if (!a.o.key_path || !a.o.vendor_domain || !a.o.class_info) {
		rc = usage(release_use);
		goto out;
	}
	if (!json_object_size(json_object_get(d.body, "target"))) {
		fputs("suitctl: which devices? pass --group G, --tag T or --device ID\n", stderr);
		goto out;
	}
	/* 1. The payload (streamed; idempotent). */
	const char *base = strrchr(a.payload_path, '/');
	rc = ctl_payload_upload(c, a.payload_path, base ? base + 1 : a.payload_path, &payload);
	if (rc)
		goto out;
	fprintf(stderr, "payload %s (%lld bytes) stored\n",
		json_string_value(json_object_get(payload, "sha256")),
		(long long)json_integer_value(json_object_get(payload, "size")));
	/* 2. The next sequence number of the class, from the server. */
	suit_uuid5(suit_uuid_namespace_dns, (const uint8_t *)a.o.vendor_domain,
		   strlen(a.o.vendor_domain), vendor);
	suit_uuid5(vendor, (const uint8_t *)a.o.class_info, strlen(a.o.class_info), klass);
	uuid_text(vendor, vendor_text);
	uuid_text(klass, class_text);
	if (!a.seq) {
		unsigned long long max = 0;
		rc = class_sequence(c, vendor_text, class_text, &max);
		if (rc)
			goto out;
		snprintf(seq, sizeof(seq), "%llu", max + 1);
		a.seq = seq;
		fprintf(stderr, "class %s: highest stored sequence %llu, this release %s\n",
			class_text, max, seq);
	}
	rc = suit_create_args_check(&a, "suitctl", false);
	if (rc) {
		rc = CTL_USAGE;
		goto out;
	}
	/* 3. Build, sign and upload the manifest. */
	if (suit_create_args_build(&a, &env, &envelope, &env_len)) {
		rc = CTL_USAGE;
		goto out;
	}
	rc = ctl_manifest_upload(c, envelope, env_len, &manifest);
	if (rc)
		goto out;
	const char *digest = json_string_value(ctl_member(manifest, "digest.value"));
	fprintf(stderr, "manifest %s (sequence %s) stored\n", digest ? digest : "?", a.seq);
	/* 4. Deploy, and wait when asked. */
	rc = deploy_run(c, &d, digest ? digest : "");
out:
	free(envelope);
	suit_create_args_release(&a);
	json_decref(payload);
	json_decref(manifest);
	deploy_release(&d);
	return rc;
}
