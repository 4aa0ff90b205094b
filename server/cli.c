/* Offline commands: they work on the database and files directly, and may run
 * while the daemon runs (SQLite WAL lets them share the file). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "api/auth.h"
#include "api/devices.h"
#include "api/manifests.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/parse.h"
#include "common/timeutil.h"
#include "server/commands.h"
#include "server/tls.h"
#include "storage/api_keys.h"
#include "storage/deployments.h"
#include "tracker/rollout.h"

void command_config_error(const char *path, const struct diag *d)
{
	char text[PATH_MAX + sizeof(d->text) + 32];

	config_diag_format(path, d, text, sizeof(text));
	fprintf(stderr, "suitd: %s\n", text);
}

struct config *command_config_load(const char *path)
{
	struct diag d = {0};
	struct config *config = NULL;

	if (config_load(path, &config, &d) != ERR_OK) {
		command_config_error(path, &d);
		return NULL;
	}
	return config;
}

struct storage *command_storage_open(const struct config *config, bool migrate)
{
	return command_storage_open_opt(config, migrate, false);
}

const char *command_storage_name(const struct config *config)
{
	return config->storage.backend == CONFIG_BACKEND_POSTGRESQL ? "the PostgreSQL database"
								    : config->storage.database;
}

/* With backend = postgresql, the SQLite keys set in the file do nothing:
 * one line names them. */
static void sqlite_keys_ignored(const struct config *config)
{
	static const char *const sqlite_keys[] = {"database", "synchronous", "mmap_size",
						  "max_size"};
	char names[80] = "";
	size_t used = 0;

	for (size_t i = 0; i < sizeof(sqlite_keys) / sizeof(sqlite_keys[0]); i++) {
		if (!config_key_line(config, "storage", sqlite_keys[i], 0) || used >= sizeof(names))
			continue;
		int n = snprintf(names + used, sizeof(names) - used, "%s%s", used ? ", " : "",
				 sqlite_keys[i]);
		if (n > 0)
			used += (size_t)n;
	}
	if (used)
		log_notice("[storage] %s: SQLite's, ignored with backend = postgresql", names);
}

struct storage *command_storage_open_opt(const struct config *config, bool migrate,
					 bool background_checkpoint)
{
	bool pg = config->storage.backend == CONFIG_BACKEND_POSTGRESQL;
	struct storage_options opt = {
		.backend = pg ? STORAGE_POSTGRESQL : STORAGE_SQLITE,
		.background_checkpoint = background_checkpoint,
		.path = config->storage.database,
		.synchronous_full = config->storage.synchronous == CONFIG_SYNC_FULL,
		.migrate = migrate,
		.mmap_size = config->storage.mmap_size,
		.max_size = config->storage.max_size,
		.url = config->storage.url,
		.password_file =
			config->storage.password_file[0] ? config->storage.password_file : NULL,
		.pool_size = config->storage.pool_size,
		.statement_timeout_ms = config->storage.statement_timeout * 1000u,
	};
	struct storage *s = NULL;
	struct diag d = {0};

	if (pg)
		sqlite_keys_ignored(config);
	if (storage_open(&opt, &s, &d) != ERR_OK) {
		fprintf(stderr, "suitd: %s: %s\n", command_storage_name(config), d.text);
		return NULL;
	}
	return s;
}

static bool parent_dir_writable(const char *path)
{
	CLEANUP_FREE char *dir = strdup(path);
	char *slash = dir ? strrchr(dir, '/') : NULL;

	if (!dir)
		return false;
	if (!slash)
		return access(".", W_OK) == 0;
	if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	return access(dir, W_OK) == 0;
}

enum err command_config_files(const struct config *config, struct diag *d)
{
	if (config->server.tls) {
		bool have_cert = access(config->server.tls_cert, F_OK) == 0;
		bool have_key = access(config->server.tls_key, F_OK) == 0;
		if (config->server.tls_self_signed && !have_cert && !have_key) {
			/* Generated at start. */
		} else {
			struct tls_files f;
			if (tls_files_load(config->server.tls_cert, config->server.tls_key, &f,
					   d)) {
				/* d->field says which; a literal, as it is rewritten. */
				bool key = strcmp(d->field, "tls_key") == 0;
				return config_diag_key(config, d, "server",
						       key ? "tls_key" : "tls_cert", 0);
			}
			long days_left = f.days_left;
			tls_files_release(&f);
			if (days_left < 0) {
				diag_set(d, ERR_CONFIG, "", "'%s' has expired",
					 config->server.tls_cert);
				return config_diag_key(config, d, "server", "tls_cert", 0);
			}
		}
	}
	if (config->server.tls && (config->devices.auth & CONFIG_DEVICE_AUTH_CERTIFICATE)) {
		char *ca = NULL;
		if (tls_read_pem(config->devices.client_ca, &ca, d) != ERR_OK)
			return config_diag_key(config, d, "devices", "client_ca", 0);
		free(ca);
	}
	/* Its errors name the trust_anchor or hmac_key line already. */
	struct manifest_policy *policy = NULL;
	if (manifest_policy_new(config, &policy, d) != ERR_OK)
		return ERR_CONFIG;
	manifest_policy_put(policy);
	if (config->storage.backend == CONFIG_BACKEND_SQLITE &&
	    access(config->storage.database, F_OK) != 0 &&
	    !parent_dir_writable(config->storage.database)) {
		diag_set(d, ERR_CONFIG, "", "cannot create '%s': %s", config->storage.database,
			 strerror(errno));
		return config_diag_key(config, d, "storage", "database", 0);
	}
	return ERR_OK;
}

int command_check_config(const struct config *config)
{
	struct diag d = {0};

	if (command_config_files(config, &d) != ERR_OK) {
		command_config_error(config->path, &d);
		return 1;
	}
	printf("configuration OK\n");
	return 0;
}

int command_migrate(const struct config *config)
{
	struct storage *s = command_storage_open(config, true);
	unsigned have = 0, want = 0;

	if (!s)
		return 1;
	storage_schema_version(s, &have, &want);
	if (config->storage.backend == CONFIG_BACKEND_POSTGRESQL)
		printf("the PostgreSQL database is at schema version %u\n", have);
	else
		printf("database '%s' is at schema version %u\n", config->storage.database, have);
	storage_free(s);
	return 0;
}

static int key_create(struct storage *s, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"name", required_argument, NULL, 'n'},
		{"role", required_argument, NULL, 'r'},
		{"expires-in", required_argument, NULL, 'e'},
		{NULL, 0, NULL, 0},
	};
	const char *name = NULL, *role_text = NULL, *expires_text = NULL;
	char secret[SECRET_TEXT_MAX], expiry[RFC3339_LEN];
	uint64_t lifetime = 0;
	int64_t expires_at = 0;
	enum role role;
	enum err e;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "n:r:e:", longopts, NULL)) != -1) {
		if (c == 'n')
			name = optarg;
		else if (c == 'r')
			role_text = optarg;
		else if (c == 'e')
			expires_text = optarg;
		else
			return 2;
	}
	if (!name || !role_text || optind != argc) {
		fprintf(stderr, "usage: suitd key create --name NAME --role reader|operator|admin "
				"[--expires-in DURATION]\n");
		return 2;
	}
	if (expires_text &&
	    (!parse_duration(expires_text, &lifetime) || !auth_key_lifetime_valid(lifetime))) {
		fprintf(stderr,
			"suitd: --expires-in '%s' must be seconds from 1 to %d, or a number with "
			"s, m or h (90m, 720h); leave it out for a key that does not expire\n",
			expires_text, BOUND_KEY_LIFETIME_MAX);
		return 1;
	}
	if (!auth_key_name_valid(name)) {
		fprintf(stderr, "suitd: key name '%s' must match [A-Za-z0-9._-]{1,64}\n", name);
		return 1;
	}
	if (!role_parse(role_text, &role)) {
		fprintf(stderr, "suitd: role '%s' is not reader, operator or admin\n", role_text);
		return 1;
	}
	if (lifetime)
		expires_at = time_now() + (int64_t)lifetime;
	e = auth_key_create(s, name, role, expires_at, "local:cli", secret);
	if (e == ERR_EXISTS) {
		fprintf(stderr,
			"suitd: a key named '%s' exists; revoke it first (suitd key revoke %s), "
			"even when it has expired\n",
			name, name);
		return 1;
	}
	if (e) {
		fprintf(stderr, "suitd: cannot create key '%s': %s\n", name, err_title(e));
		return 1;
	}
	if (expires_at)
		time_format_rfc3339(expires_at, expiry);
	fprintf(stderr, "created %s key '%s'%s%s; it is shown once, on the next line:\n",
		role_name(role), name, expires_at ? ", expiring at " : "",
		expires_at ? expiry : "");
	/* The key alone on the last line of stdout, for scripts. */
	printf("%s\n", secret);
	OPENSSL_cleanse(secret, sizeof(secret));
	return 0;
}

static int key_list(struct storage *s)
{
	struct api_key keys[BOUND_PAGE_MAX];
	int64_t after = 0;
	unsigned n;

	int64_t now = time_now();

	printf("%-24s %-9s %-21s %-21s %-21s %s\n", "NAME", "ROLE", "CREATED", "LAST USED",
	       "EXPIRES", "STATUS");
	do {
		if (storage_api_key_list(s, after, BOUND_PAGE_MAX, keys, &n) != ERR_OK) {
			fprintf(stderr, "suitd: cannot list keys\n");
			return 1;
		}
		for (unsigned i = 0; i < n; i++) {
			const struct api_key *k = &keys[i];
			char created[RFC3339_LEN], used[RFC3339_LEN] = "-", revoked[RFC3339_LEN];
			char expires[RFC3339_LEN] = "-";
			time_format_rfc3339(k->created_at, created);
			if (k->last_used_at)
				time_format_rfc3339(k->last_used_at, used);
			if (k->expires_at)
				time_format_rfc3339(k->expires_at, expires);
			if (k->revoked_at)
				time_format_rfc3339(k->revoked_at, revoked);
			bool expired = k->expires_at && now >= k->expires_at;
			printf("%-24s %-9s %-21s %-21s %-21s %s%s\n", k->name, role_name(k->role),
			       created, used, expires,
			       k->revoked_at ? "revoked "
			       : expired     ? "expired"
					     : "active",
			       k->revoked_at ? revoked : "");
			after = k->id;
		}
	} while (n == BOUND_PAGE_MAX);
	return 0;
}

int command_key(const struct config *config, int argc, char **argv)
{
	struct storage *s;
	int rc;

	if (argc < 1 || (strcmp(argv[0], "create") != 0 && strcmp(argv[0], "list") != 0 &&
			 strcmp(argv[0], "revoke") != 0)) {
		fprintf(stderr, "usage: suitd key create|list|revoke ...\n");
		return 2;
	}
	if (strcmp(argv[0], "revoke") == 0 && argc != 2) {
		fprintf(stderr, "usage: suitd key revoke NAME\n");
		return 2;
	}
	s = command_storage_open(config, true);
	if (!s)
		return 1;
	if (strcmp(argv[0], "create") == 0) {
		rc = key_create(s, argc, argv);
	} else if (strcmp(argv[0], "list") == 0) {
		rc = key_list(s);
	} else {
		enum err e = storage_api_key_revoke(s, argv[1], "local:cli");
		if (e == ERR_NOT_FOUND)
			fprintf(stderr, "suitd: no active key named '%s'\n", argv[1]);
		else if (e)
			fprintf(stderr, "suitd: cannot revoke '%s': %s\n", argv[1], err_title(e));
		else
			printf("revoked key '%s'\n", argv[1]);
		rc = e ? 1 : 0;
	}
	storage_free(s);
	return rc;
}

int command_backup(const struct config *config, int argc, char **argv)
{
	struct storage *s;
	struct diag d = {0};
	enum err e;

	if (argc != 1) {
		fprintf(stderr, "usage: suitd backup FILE\n");
		return 2;
	}
	s = command_storage_open(config, false);
	if (!s)
		return 1;
	e = storage_backup(s, argv[0], &d);
	storage_free(s);
	if (e) {
		fprintf(stderr, "suitd: %s\n", d.text);
		return 1;
	}
	printf("backup written to '%s'\n", argv[0]);
	return 0;
}

int command_device(const struct config *config, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"group", required_argument, NULL, 'g'},
		{"tag", required_argument, NULL, 't'},
		{NULL, 0, NULL, 0},
	};
	const char *tags[DEVICE_TAGS_MAX], *group = NULL;
	char token[SECRET_TEXT_MAX];
	unsigned tag_count = 0;
	struct storage *s;
	enum err e;
	int c;

	if (argc >= 1 && strcmp(argv[0], "import") == 0)
		return command_device_import(config, argc, argv);
	if (argc < 2 || strcmp(argv[0], "add") != 0) {
		fprintf(stderr,
			"usage: suitd device add ID [--group G] [--tag T]...\n"
			"       suitd device import [--dry-run] [--generate-tokens] FILE|-\n");
		return 2;
	}
	optind = 2;
	while ((c = getopt_long(argc, argv, "g:t:", longopts, NULL)) != -1) {
		if (c == 'g') {
			group = optarg;
		} else if (c == 't' && tag_count < DEVICE_TAGS_MAX) {
			tags[tag_count++] = optarg;
		} else {
			fprintf(stderr, "usage: suitd device add ID [--group G] [--tag T]...\n");
			return 2;
		}
	}
	if (optind != argc || !device_name_valid(argv[1], DEVICE_ID_MAX) ||
	    (group && !device_name_valid(group, DEVICE_GROUP_MAX))) {
		fprintf(stderr, "suitd: ids and groups must match [A-Za-z0-9._:@-]{1,128}\n");
		return 1;
	}
	for (unsigned i = 0; i < tag_count; i++)
		if (!device_name_valid(tags[i], DEVICE_TAG_MAX)) {
			fprintf(stderr, "suitd: tag '%s' must match [A-Za-z0-9._:@-]{1,64}\n",
				tags[i]);
			return 1;
		}
	s = command_storage_open(config, true);
	if (!s)
		return 1;
	struct device_new d = {.id = argv[1], .group = group, .tags = tags, .tag_count = tag_count};
	e = devices_add(s, &d, "local:cli", token);
	if (!e) {
		/* Join a deployment to its group or tag now; a running daemon
		 * sees the mark within a second and reloads its assignments. */
		struct device_ident ident;
		bool joined = false;
		if (storage_device_ident(s, argv[1], &ident) == ERR_OK &&
		    storage_deployment_join(s, ident.num, &rollout_planner, &joined) == ERR_OK &&
		    joined)
			fprintf(stderr,
				"device '%s' joined an active deployment of its group or tag\n",
				argv[1]);
		if (storage_cli_changes_mark(s) != ERR_OK)
			fprintf(stderr,
				"suitd: send SIGHUP to a running daemon so that it sees "
				"device '%s'\n",
				argv[1]);
	}
	storage_free(s);
	if (e == ERR_EXISTS) {
		fprintf(stderr, "suitd: a device with id '%s' exists\n", argv[1]);
		return 1;
	}
	if (e) {
		fprintf(stderr, "suitd: cannot add device '%s': %s\n", argv[1], err_title(e));
		return 1;
	}
	fprintf(stderr, "added device '%s'; its token is shown once, on the next line:\n", argv[1]);
	printf("%s\n", token);
	OPENSSL_cleanse(token, sizeof(token));
	return 0;
}
