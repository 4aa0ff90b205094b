/* The daemon's life: start-up (fatal errors allowed), the signal loop, and
 * an orderly stop. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "api/cluster.h"
#include "api/ddi/ddi.h"
#include "api/ddi/poll_cache.h"
#include "api/manifests.h"
#include "api/seen.h"
#include "api/token_cache.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "common/version.h"
#include "events/stream.h"
#include "events/webhooks.h"
#include "server/commands.h"
#include "server/daemon.h"
#include "server/failure_log.h"
#include "server/router.h"
#include "server/tls.h"
#include "storage/batch.h"
#include "storage/cluster.h"
#include "storage/deployments.h"
#include "storage/events.h"
#include "storage/payloads.h"
#include "storage/readahead.h"
#include "storage/reports.h"
#include "tracker/assignments.h"
#include "tracker/fanout.h"
#include "tracker/housekeeping.h"

/* In-flight requests get this long to finish on SIGTERM. */
#define DRAIN_MS 10000

/* A reload is an admin action: one event, whatever its outcome. */
static void reload_event(struct storage *s, const struct config *running, const char *outcome,
			 const char *detail)
{
	json_t *j = json_pack("{s:s, s:s, s:s}", "path", running->path, "outcome", outcome,
			      "detail", detail);
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;

	if (!text || storage_event_append(s, "config.reloaded", "local:sighup", "config:suitd",
					  true, text) != ERR_OK)
		log_warn("cannot record the reload in the event log");
	free(text);
	json_decref(j);
}

static void reload(const struct config *running, struct manifest_policy_holder *manifests,
		   struct storage *storage)
{
	struct config *fresh = command_config_load(running->path);
	struct manifest_policy *policy = NULL;
	struct diag d = {0};
	char changed[512];

	if (!fresh) {
		log_err("reload of '%s' failed; keeping the running configuration", running->path);
		reload_event(storage, running, "failed", "the file does not load");
		return;
	}
	/* All or nothing: a trust anchor that does not load keeps the old set. */
	if (manifest_policy_new(fresh, &policy, &d) != ERR_OK) {
		char where[PATH_MAX + sizeof(d.text) + 32];
		config_diag_format(fresh->path, &d, where, sizeof(where));
		log_err("reload failed: %s; keeping the running configuration", where);
		reload_event(storage, running, "failed", where);
		config_free(fresh);
		return;
	}
	manifest_policy_swap(manifests, policy);
	log_level_set(fresh->log.level);
	log_notice("reloaded '%s': [log] level = %s, [manifests] %u trust anchors, "
		   "require_signature = %s, allow_external_uri = %s",
		   running->path, log_level_name(fresh->log.level),
		   manifest_policy_anchor_count(policy),
		   fresh->manifests.require_signature ? "on" : "off",
		   fresh->manifests.allow_external_uri ? "on" : "off");
	/* Everything else is bound at start (sockets, TLS, database). */
	struct config probe = *fresh;
	probe.log = running->log;
	probe.manifests = running->manifests;
	if (config_diff(running, &probe, changed, sizeof(changed)))
		log_warn("changed but applied only after a restart: %s", changed);
	else
		changed[0] = '\0';
	reload_event(storage, running, "applied", changed);
	config_free(fresh);
}

static void log_config_error(const struct config *config, const struct diag *d)
{
	char where[PATH_MAX + sizeof(d->text) + 32];

	config_diag_format(config->path, d, where, sizeof(where));
	log_err("cannot start: %s", where);
}

/* The fan-out writes the sightings in memory before it reads a target. */
struct seen_flush_ctx {
	struct seen_tracker *seen;
	struct storage *storage;
};

static void seen_flush_cb(void *cls)
{
	struct seen_flush_ctx *c = cls;

	seen_flush_before_read(c->seen, c->storage);
}

/* The command line wrote devices or assignments (migration 0012): drop the
 * cached token identities and reload the active assignments, as SIGHUP
 * would, within a second and without one. */
static void follow_cli_changes(struct storage *storage, struct assignment_index *assignments,
			       struct token_cache *tokens, int64_t *generation)
{
	int64_t now;

	if (storage_cli_changes(storage, &now) != ERR_OK || now == *generation)
		return;
	token_cache_clear(tokens);
	if (assignment_index_load(assignments, storage) != ERR_OK) {
		log_err("cannot reload the active assignments after a command-line change");
		return; /* the next second tries again */
	}
	log_info("reloaded the active assignments after a command-line change");
	*generation = now;
}

/* PATH as the banner shows it: relative to the working folder when it is
 * inside it (".dev/tls/cert.pem" under `make run`), else absolute. */
static const char *banner_path(const char *path, char *buf, size_t size)
{
	char abs[PATH_MAX], cwd[PATH_MAX];
	size_t n;

	if (!realpath(path, abs) || !getcwd(cwd, sizeof(cwd)))
		return path;
	n = strlen(cwd);
	if (strncmp(abs, cwd, n) == 0 && abs[n] == '/')
		snprintf(buf, size, "%s", abs + n + 1);
	else
		snprintf(buf, size, "%s", abs);
	return buf;
}

/* `make run` (tools/dev-run.sh) sets SUITD_DEV_BANNER to the file that holds
 * the development admin key. The banner is printed here, once the listening
 * socket is bound, from the configuration loaded: it names the address
 * really bound and never follows a failed start. It names the key's file,
 * never the key. */
static void dev_banner(const struct config *config, const char *url)
{
	const char *key_file = getenv("SUITD_DEV_BANNER");
	char conf[PATH_MAX], db[PATH_MAX], cert[PATH_MAX], key[PATH_MAX], anchor[PATH_MAX];
	char cacert[PATH_MAX + 16] = "";

	if (!key_file || !*key_file)
		return;
	key_file = banner_path(key_file, key, sizeof(key));
	fprintf(stderr, "\n  suitd %s (development) — %s\n\n", SUITD_VERSION, url);
	fprintf(stderr, "  configuration    %s\n", banner_path(config->path, conf, sizeof(conf)));
	fprintf(stderr, "  database         %s\n",
		config->storage.backend == CONFIG_BACKEND_POSTGRESQL
			? "PostgreSQL ([storage] url)"
			: banner_path(config->storage.database, db, sizeof(db)));
	if (config->server.tls) {
		const char *c = banner_path(config->server.tls_cert, cert, sizeof(cert));
		fprintf(stderr, "  TLS certificate  %s%s\n", c,
			config->server.tls_self_signed ? " (self-signed)" : "");
		if (config->server.tls_self_signed)
			snprintf(cacert, sizeof(cacert), "--cacert %s ", c);
	}
	for (unsigned i = 0; i < config->manifests.trust_anchors.count; i++)
		fprintf(stderr, "  trust anchor     %s\n",
			banner_path(config->manifests.trust_anchors.items[i], anchor,
				    sizeof(anchor)));
	fprintf(stderr, "  admin API key in %s\n", key_file);
	fprintf(stderr,
		"\n  try:\n"
		"    curl %s-H \"Authorization: Bearer $(cat %s)\" %s/api/v1/status\n"
		"\n  Ctrl-C stops the daemon.\n\n",
		cacert, key_file, url);
}

/* Uploads that failed while the database was gone stay 'receiving' until
 * it answers again (storage/payloads.c keeps their ids): delete them now,
 * not at the next start. Every node deletes only its own. */
static void sweep_cut_uploads(struct storage *storage)
{
	unsigned removed = 0, left = 0;
	enum err e = storage_payload_orphans_sweep(storage, &removed, &left);

	if (removed)
		log_notice("removed %u unfinished uploads cut short by the database", removed);
	if (e && e != ERR_STORAGE_UNAVAILABLE)
		log_warn("cannot remove %u unfinished uploads now: %s", left, err_title(e));
}

/* On a shared database the start-up cleanup leaves the uploads of the
 * last day (another node may be receiving them): the housekeeper removes
 * those abandoned since, once every 10 minutes. */
static void sweep_stale_uploads(struct storage *storage, int64_t now, int64_t *next)
{
	unsigned removed = 0;

	if (now < *next)
		return;
	*next = now + 600;
	if (storage_payload_cleanup(storage, now - UPLOAD_STALE_SECONDS, &removed) == ERR_OK &&
	    removed)
		log_notice("removed %u unfinished uploads started more than 24 h ago", removed);
}

static struct metrics_route *metrics_routes(void)
{
	struct metrics_route *mr = calloc(route_count, sizeof(*mr));

	for (unsigned i = 0; mr && i < route_count; i++)
		mr[i] = (struct metrics_route){http_method_name(routes[i].method),
					       routes[i].pattern};
	return mr;
}

/* One read-ahead thread per daemon thread: each has a download to send
 * while its next block is read. */
static unsigned download_threads(const struct config *config)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);

	if (config->server.threads)
		return config->server.threads;
	return cores > 0 ? (unsigned)cores : 1u;
}

int command_run(const struct config *config)
{
	struct storage *storage = NULL;
	struct daemon *dm = NULL;
	struct metrics metrics = {0};
	struct metrics_route *labels = NULL;
	struct manifest_policy *policy = NULL;
	struct manifest_policy_holder *manifests = NULL;
	struct seen_tracker *seen = NULL;
	struct assignment_index *assignments = NULL;
	struct fanout *fanout = NULL;
	struct cluster_follower *cluster = NULL;
	struct token_cache *tokens = NULL;
	struct ddi_poll_cache *ddi_polls = NULL;
	struct batcher *reports = NULL, *uploads = NULL;
	struct readahead *readahead = NULL;
	struct webhook_worker *webhooks = NULL;
	struct event_hub *events = NULL;
	struct seen_flusher *flusher = NULL;
	struct failure_log *failures = NULL;
	int64_t cli_generation = -1;
	struct diag d = {0};
	sigset_t sigs;
	uint64_t watchdog_usec = 0, next_ping = 0;
	int rc = 1;

	log_level_set(config->log.level);
	signal(SIGPIPE, SIG_IGN);
	/* Block before any thread starts so that only this thread sees them. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	if (config->server.tls && config->server.tls_self_signed) {
		int created = 0;
		if (tls_self_signed_ensure(config->server.tls_cert, config->server.tls_key,
					   config->server.listen_host, &created, &d)) {
			config_diag_key(config, &d, "server", "tls_self_signed", 0);
			log_config_error(config, &d);
			return 1;
		}
		if (created)
			log_notice("generated a self-signed certificate '%s' (development only)",
				   config->server.tls_cert);
	}
	/* The checks of check-config, with its messages (file, line, key). */
	if (command_config_files(config, &d) != ERR_OK ||
	    manifest_policy_new(config, &policy, &d) != ERR_OK) {
		log_config_error(config, &d);
		goto out;
	}
	if (manifest_policy_holder_new(policy, &manifests) != ERR_OK) {
		manifest_policy_put(policy);
		goto out;
	}
	if (manifest_policy_anchor_count(policy) == 0 && config->manifests.require_signature)
		log_warn("no [manifests] trust_anchor or hmac_key: every manifest upload will be "
			 "refused until one is configured");
	storage = command_storage_open_opt(config, true, true);
	if (!storage)
		goto out;
	/* Uploads cut short by a crash or kill -9 are never visible; drop
	 * their chunks before serving. With other nodes running on the same
	 * database only the stale ones: another node may be receiving the
	 * others right now. */
	unsigned stale = 0;
	bool shared = storage_shared(storage), alone = true;
	int64_t next_upload_sweep = time_now() + 600;
	if (storage_nodes_alone(storage, &alone) != ERR_OK ||
	    storage_payload_cleanup(storage, alone ? INT64_MAX : time_now() - UPLOAD_STALE_SECONDS,
				    &stale) != ERR_OK) {
		log_err("cannot remove unfinished uploads from '%s'", command_storage_name(config));
		goto out;
	}
	if (stale)
		log_notice("removed %u unfinished uploads %s", stale,
			   alone ? "left by the previous run" : "started more than 24 h ago");
	if (seen_tracker_new(&seen) != ERR_OK || assignment_index_new(&assignments) != ERR_OK ||
	    failure_log_new(storage, &failures) != ERR_OK || token_cache_new(&tokens) != ERR_OK ||
	    ddi_poll_cache_new(&ddi_polls) != ERR_OK ||
	    batcher_start(storage, BATCH_MAX, &reports) != ERR_OK ||
	    batcher_start(storage, UPLOAD_FLUSHES_PER_TXN, &uploads) != ERR_OK)
		goto out;
	/* PostgreSQL answers a read from another process: the next block is
	 * read while this one is sent. SQLite reads in this process, as fast
	 * as the copy would be (docs/design.md "Download read-ahead"). */
	if (config->storage.backend == CONFIG_BACKEND_POSTGRESQL &&
	    readahead_start(storage, download_threads(config), &readahead) != ERR_OK) {
		log_err("cannot start the download read-ahead threads");
		goto out;
	}
	/* Read before the load: a CLI change that lands after it moves the
	 * counter past this value. */
	if (storage_cli_changes(storage, &cli_generation) != ERR_OK)
		cli_generation = -1;
	/* The same for other nodes' changes on a shared database: the follower
	 * starts from the log's newest id before the load. */
	int64_t oldest_event = 0, follow_from = 0;
	if (storage_shared(storage) &&
	    storage_events_range(storage, &oldest_event, &follow_from) != ERR_OK) {
		log_err("cannot read the event log of %s", command_storage_name(config));
		goto out;
	}
	if (assignment_index_load(assignments, storage) != ERR_OK) {
		log_err("cannot load the active assignments from '%s'",
			command_storage_name(config));
		goto out;
	}
	log_info("%u active assignments in memory", assignment_index_count(assignments));
	labels = metrics_routes();
	if (!labels || metrics_init(&metrics, labels, route_count) != 0) {
		log_err("out of memory");
		goto out;
	}
	/* Before the daemon serves: it listens to the event log. */
	if (webhook_worker_start(storage, config, &metrics, &webhooks) != ERR_OK) {
		log_err("cannot start the webhook delivery thread");
		goto out;
	}
	struct event_hub_options hub_options = {.max_streams = config->events.max_streams,
						.stream_buffer = config->events.stream_buffer};
	if (event_hub_new(storage, &hub_options, &events) != ERR_OK) {
		log_err("cannot start the event hub");
		goto out;
	}
	/* After the index is loaded: it follows each slice. */
	struct seen_flush_ctx flush_ctx = {seen, storage};
	if (fanout_start(storage, assignments, seen_flush_cb, &flush_ctx, &fanout) != ERR_OK) {
		log_err("cannot start the deployment fan-out thread");
		goto out;
	}
	struct api_ctx ctx = {.config = config,
			      .storage = storage,
			      .metrics = &metrics,
			      .manifests = manifests,
			      .seen = seen,
			      .assignments = assignments,
			      .tokens = tokens,
			      .reports = reports,
			      .uploads = uploads,
			      .readahead = readahead,
			      .webhooks = webhooks,
			      .events = events,
			      .fanout = fanout,
			      .ddi_polls = ddi_polls,
			      .failures = failures};
	/* Several nodes on one database: follow the others' commits. */
	if (cluster_follower_start(&ctx, follow_from, &cluster) != ERR_OK) {
		log_err("cannot start following the other nodes' changes");
		goto out;
	}
	ctx.cluster = cluster;
	if (ddi_gateway_load(&ctx, &d) != ERR_OK) {
		config_diag_key(config, &d, "ddi", "gateway_token_file", 0);
		log_config_error(config, &d);
		goto out;
	}
	if (config->ddi.enabled && config->ddi.anonymous)
		log_warn("[ddi] anonymous = on: any client may act as any DDI controller id of "
			 "tenant '%s'; use it only behind a proxy that authenticates devices",
			 config->ddi.tenant);
	if (seen_flusher_start(seen, storage, config->devices.seen_flush, &flusher) != ERR_OK) {
		log_err("cannot start the last-seen flush thread");
		goto out;
	}
	if (daemon_start(&ctx, &dm, &d)) {
		log_err("cannot start: %s", d.text);
		goto out;
	}
	log_notice("suitd %s listening on %s", SUITD_VERSION, daemon_url(dm));
	dev_banner(config, daemon_url(dm));
	sd_notifyf(0, "READY=1\nSTATUS=listening on %s\nMAINPID=%lu", daemon_url(dm),
		   (unsigned long)getpid());
	if (sd_watchdog_enabled(0, &watchdog_usec) <= 0)
		watchdog_usec = 0;

	for (;;) {
		struct timespec timeout = {1, 0};
		siginfo_t si;
		int sig;

		if (watchdog_usec) {
			uint64_t now = time_mono_usec();
			if (now >= next_ping) {
				sd_notify(0, "WATCHDOG=1");
				next_ping = now + watchdog_usec / 2;
			}
		}
		/* On a shared database only the node with the lease does the
		 * clock's work (storage/cluster.h); every step is a compare-and-
		 * set all the same, so a lease that moves mid-step harms nothing. */
		if (storage_housekeeper(storage)) {
			housekeeping_timeouts(storage, assignments);
			housekeeping_rollouts(storage, assignments);
			housekeeping_reports(storage, config->devices.report_retention);
			housekeeping_events(storage, config->events.retention,
					    config->events.max_rows);
			if (shared)
				sweep_stale_uploads(storage, time_now(), &next_upload_sweep);
		}
		follow_cli_changes(storage, assignments, tokens, &cli_generation);
		daemon_housekeeping(dm);
		failure_log_tick(failures);
		sweep_cut_uploads(storage);
		sig = sigtimedwait(&sigs, &si, &timeout);
		if (sig == SIGHUP) {
			sd_notify(0, "RELOADING=1");
			reload(config, manifests, storage);
			/* Assignments written by the command line (device add). */
			if (assignment_index_load(assignments, storage) != ERR_OK)
				log_err("cannot reload the active assignments");
			sd_notify(0, "READY=1");
		} else if (sig == SIGTERM || sig == SIGINT) {
			log_notice("received %s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
			break;
		} else if (sig < 0 && errno != EAGAIN && errno != EINTR) {
			log_err("sigtimedwait: %s", strerror(errno));
			break;
		}
	}
	sd_notify(0, "STOPPING=1");
	/* Event streams end first, or they would hold the drain. */
	event_hub_shutdown(events);
	daemon_stop(dm, DRAIN_MS);
	/* After the last request: nothing seen is lost at shutdown. */
	seen_flusher_stop(flusher);
	flusher = NULL;
	seen_flush_logged(seen, storage);
	dm = NULL;
	rc = 0;
	log_notice("stopped");
out:
	daemon_stop(dm, 0);
	seen_flusher_stop(flusher);
	/* After the daemon: every deferred answer was sent during the drain. */
	batcher_stop(reports);
	batcher_stop(uploads);
	/* After the daemon: its downloads have freed their cursors. */
	readahead_stop(readahead);
	/* Between two slices; the rest resumes at the next start. */
	fanout_stop(fanout);
	/* It tells the webhook worker of changes: first. */
	cluster_follower_stop(cluster);
	/* After every thread that commits events. */
	webhook_worker_stop(webhooks);
	cluster_follower_free(cluster);
	event_hub_free(events);
	storage_free(storage);
	manifest_policy_holder_free(manifests);
	seen_tracker_free(seen);
	assignment_index_free(assignments);
	token_cache_free(tokens);
	ddi_poll_cache_free(ddi_polls);
	failure_log_free(failures);
	metrics_release(&metrics);
	free(labels);
	return rc;
}
