/* The fleet fixture of the deployment and report e2e suites: one daemon
 * (P), an author key, a firmware payload and a manifest (F), and the API
 * and check-in helpers both suites assert with. Test-only. */
#ifndef SUITD_TESTS_E2E_FLEET_H
#define SUITD_TESTS_E2E_FLEET_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "harness.h"

#define CHECKIN "/device/v1/manifest"
/* [devices] poll_interval = 100, poll_interval_active = 10, poll_jitter = 20. */
#define IDLE_MIN   80
#define IDLE_MAX   120
#define ACTIVE_MIN 8
#define ACTIVE_MAX 12

/* A manifest made by the CLI and uploaded: its digest, identity, bytes. */
struct manifest {
	char digest[65];
	char vendor[37], class_id[37];
	unsigned char *env;
	size_t env_len;
};

struct fleet_fixture {
	char key[192], pub[192], fw[192];
	char fw_sha[65];
	unsigned char *fw_bytes;
	size_t fw_len;
	struct manifest m1; /* sequence 1, example.com / sensor-v1 */
};

/* Set up and torn down by each suite's fixture. */
extern struct suitd_proc P;
extern struct fleet_fixture F;

void write_file(const char *path, const void *data, size_t len);

unsigned char *read_all(const char *path, size_t *len);

void sha256_hex(const void *data, size_t len, char out[65]);

json_t *body_json(const struct http_result *r);

const char *hdr(const struct http_result *r, const char *name);

void assert_status(const struct http_result *r, long status);

/* A problem+json answer with this status, slug and (when not NULL) detail. */
void assert_problem(const struct http_result *r, long status, const char *slug, const char *detail);

/* An admin API request with a JSON body (or none). */
void api(const char *method, const char *path, const char *json, struct http_result *r);

/* max-age of Cache-Control, -1 when absent or in another form. */
long max_age(const struct http_result *r);

void assert_max_age(const struct http_result *r, long lo, long hi);

/* `suitd manifest create` into DIR/NAME.suit, uploaded (201), its facts read
 * from the upload's JSON. */
void make_manifest(const char *name, const char *class_info, const char *seq, struct manifest *m);

void manifest_release(struct manifest *m);

/* POST /api/v1/devices with this body; 201; the token from the body. */
void create_device(const char *json, char *token, size_t size);

void add_device(const char *id, const char *group, char *token, size_t size);

/* POST /api/v1/deployments; 201 expected; returns the id, the body in *ret
 * (when not NULL). */
long deploy(const char *json, json_t **ret);

long deploy_devices(const struct manifest *m, const char *ids_json);

/* GET /device/v1/manifest?QUERY with this device token; extra header (e.g.
 * If-None-Match) may be NULL. */
void checkin(const char *token, const char *query, const char *extra, struct http_result *r);

/* The device got exactly manifest m: 200, the bytes of the .suit file, its
 * ETag, its media type, an active poll interval. */
void assert_envelope(const struct http_result *r, const struct manifest *m);

/* Nothing to do: 204, no body, no ETag, the idle poll interval. */
void assert_nothing(const struct http_result *r);

void expect_envelope(const char *token, const char *query, const struct manifest *m);

void expect_nothing(const char *token, const char *query);

/* GET /api/v1/deployments/ID. */
json_t *deployment(long id);

long count_of(json_t *dep, const char *state);

/* The deployment's counts are exactly these ("state=n,state=n"), every other
 * state 0. */
void assert_counts(long id, const char *want);

/* One device's assignment in deployment id: state and reason ("" = null). */
void assignment(long id, const char *device, char *state, size_t state_size, char *reason,
		size_t reason_size);

void assert_assignment(long id, const char *device, const char *state, const char *reason);

/* The suites' daemon: [devices] token auth, poll 100/10 s ± 20 %,
 * max_report_size 1K plus devices_extra; trusted: the author key and the
 * SUIT spec examples' key. */
void fleet_write_config(const char *devices_extra);
/* Test-only P-256 author key, a firmware payload uploaded, manifest m1
 * (sequence 1) made and uploaded. seen_flush = 60: reported sequences are
 * flushed when a deployment is created and at shutdown. */
void fleet_setup(void);
/* The same with a FW_LEN-byte payload (RANDOM_FW: bytes that do not
 * compress, else a pattern) and DEVICES as the whole [devices] section
 * (NULL: fleet_write_config's). */
void fleet_setup_with(size_t fw_len, bool random_fw, const char *devices);
/* Stop; the database passes integrity_check, no device has two active
 * assignments, and the assignment counters equal a count of the rows. */
void fleet_teardown(void);

#define REPORTS "/device/v1/reports"

/* POST /device/v1/reports with this token, content type and body. */
void report_ex(const char *token, const char *type, const void *body, size_t len,
	       struct http_result *r);
void report(const char *token, const char *json, struct http_result *r);
/* The report is accepted: 204, no body. */
void report_ok(const char *token, const char *json);
/* The report is refused with this status, slug and detail (may be NULL). */
void report_refused(const char *token, const char *json, long status, const char *slug,
		    const char *detail);
/* {"manifest": digest, "state": state} plus extra members (may be ""). */
const char *rep(const struct manifest *m, const char *state, const char *extra);

/* A bare SUIT_Report for m (a SHA-256 digest): result true and a record of
 * the invoke section (9), which the server maps to confirmed. */
size_t suit_report_invoked(const struct manifest *m, unsigned char out[64]);

#endif
