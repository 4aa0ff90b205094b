/* /api/v1/devices (the registry) and /device/v1/whoami. */
#ifndef SUITD_API_DEVICES_H
#define SUITD_API_DEVICES_H

#include "api/api.h"

enum err api_devices_create(struct api_ctx *ctx, const struct request *req, struct response *res);
enum err api_devices_list(struct api_ctx *ctx, const struct request *req, struct response *res);
enum err api_devices_get(struct api_ctx *ctx, const struct request *req, struct response *res);
/* GET /api/v1/devices/{id}/assignments: every deployment that included the
 * device, oldest first, keyset-paged (the console's assignment timeline). */
enum err api_devices_assignments(struct api_ctx *ctx, const struct request *req,
				 struct response *res);
enum err api_devices_update(struct api_ctx *ctx, const struct request *req, struct response *res);
enum err api_devices_delete(struct api_ctx *ctx, const struct request *req, struct response *res);
enum err api_devices_token(struct api_ctx *ctx, const struct request *req, struct response *res);
/* GET /device/v1/whoami: the identity a device is known by. */
enum err api_devices_whoami(struct api_ctx *ctx, const struct request *req, struct response *res);

/* A device object of POST /api/v1/devices, or of a line of an import
 * (which may also carry a factory-provisioned `token`). Members not given
 * stay NULL (set_tags false). Points into the JSON it was parsed from. */
#define DEVICE_TOKEN_MIN 16
struct device_input {
	const char *id;
	const char *group; /* "" = none */
	const char *tags[DEVICE_TAGS_MAX];
	unsigned tag_count;
	bool set_tags;
	uint8_t vendor_buf[16], class_buf[16];
	const uint8_t *vendor, *class_id;
	char *attributes; /* normalised JSON text, malloc'ed */
	const char *token;
};

/* Check a device object; on failure res holds the problem. Release in
 * every case. */
enum err device_input_parse(json_t *body, bool import, struct device_input *in,
			    struct response *res);
void device_input_release(struct device_input *in);

/* What an import line says of a device: id, group, tags, vendor_id,
 * class_id, attributes (an export line; no token, ever). */
json_t *device_import_json(const struct device *d);

/* The filters of GET /api/v1/devices (and of its export) from the query. */
enum err device_filter_params(struct api_ctx *ctx, const struct request *req, struct response *res,
			      struct device_filter *f, uint8_t class_buf[16]);

/* Create a device with a new token (CLI and API share it). */
enum err devices_add(struct storage *s, const struct device_new *d, const char *actor,
		     char token[SECRET_TEXT_MAX]);

#endif
