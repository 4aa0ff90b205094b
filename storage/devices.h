/* The device registry. Device tokens are stored as SHA-256 only. */
#ifndef SUITD_STORAGE_DEVICES_H
#define SUITD_STORAGE_DEVICES_H

#include <stdbool.h>
#include <stdint.h>

#include "common/crypto.h"
#include "common/error.h"
#include "storage/storage.h"

#define DEVICE_ID_MAX	      128
#define DEVICE_GROUP_MAX      128
#define DEVICE_TAG_MAX	      64
#define DEVICE_TAGS_MAX	      32
#define DEVICE_ATTRIBUTES_MAX 4096
#define DEVICE_REPORT_KEY_MAX 4096 /* PEM bytes */

/* Just enough to authenticate and scope a request. */
struct device_ident {
	int64_t num;
	char id[DEVICE_ID_MAX + 1];
	char group[DEVICE_GROUP_MAX + 1];
};

/* Where a page of the device list ends (keyset). A list driven by the
 * device number (no filter, or a group, tag or class) is in the order of
 * num, and the cursor is that num (keyed false, id = num). A list driven by
 * the seen filters, the sequence filters or assignment_state is in the order
 * of that index: key (last seen, running sequence, or when the newest
 * assignment entered its state; -1: never, none) and then id (the device
 * number, or that assignment's id). */
struct device_cursor {
	bool keyed;
	int64_t key;
	int64_t id;
};

struct device {
	struct device_ident ident;
	bool has_vendor, has_class;
	uint8_t vendor[16], class_id[16];
	char *attributes; /* JSON object text, malloc'ed */
	unsigned tag_count;
	char tags[DEVICE_TAGS_MAX][DEVICE_TAG_MAX + 1];
	bool has_sequence;
	uint64_t reported_sequence;
	int64_t last_seen_at; /* 0 = never */
	int64_t created_at;
	char *report_key;	     /* PEM, malloc'ed; NULL = none */
	struct device_cursor cursor; /* from storage_device_list: where the next page starts */
};

/* What PATCH changes; NULL members stay as they are. */
struct device_change {
	const char *group; /* "" clears */
	const char *const *tags;
	unsigned tag_count;
	bool set_tags;
	const char *attributes;
	const char *report_key; /* PEM; "" clears */
};

struct device_new {
	const char *id;
	const char *group; /* NULL = none */
	const uint8_t *vendor, *class_id;
	const char *attributes; /* JSON object text */
	const char *const *tags;
	unsigned tag_count;
	const uint8_t *token_hash; /* NULL = no token */
};

struct device_filter {
	const char *group;
	const char *tag;
	const uint8_t *class_id;
	bool has_seen_since;
	int64_t seen_since;
	bool has_not_seen_since; /* last seen before it, or never */
	int64_t not_seen_since;
	bool has_sequence; /* runs exactly this sequence number */
	uint64_t sequence;
	bool has_sequence_below; /* runs a lower one, or none reported */
	uint64_t sequence_below;
	const char *assignment_state; /* its newest assignment is in this state */
};

/* Each entry of a last-seen flush. */
struct device_seen {
	int64_t num;
	int64_t at;
	bool has_sequence;
	uint64_t sequence;
	bool news; /* its downloading assignment's updated_at moves to at */
};

/* ERR_EXISTS when the id is taken. Writes an audit row. */
enum err storage_device_insert(struct storage *s, const struct device_new *d, const char *actor,
			       struct device_ident *ret);
enum err storage_device_get(struct storage *s, const char *id, struct device *ret);
enum err storage_device_ident(struct storage *s, const char *id, struct device_ident *ret);
/* The device whose current token, or whose previous token still in its
 * grace at now, has this hash; constant-time compare of the stored hash
 * after the lookup. *ret_expires_at: when that token stops (0: the current
 * token, no end). ERR_NOT_FOUND otherwise. */
enum err storage_device_by_token(struct storage *s, const uint8_t hash[SHA256_LEN], int64_t now,
				 struct device_ident *ret, int64_t *ret_expires_at);
/* One page of devices after the cursor (NULL: from the start), each with
 * the cursor of its position. ERR_INVALID when the cursor is of the other
 * kind than this filter's order (device_list_keyed). */
enum err storage_device_list(struct storage *s, const struct device_filter *f,
			     const struct device_cursor *after, unsigned max, struct device *ret,
			     unsigned *ret_count);
/* Whether this filter's list is in the order of a key (see device_cursor). */
bool device_list_keyed(const struct device_filter *f);
/* *ret_membership_changed: the group or the set of tags really changed (a
 * PATCH that repeats them changes nothing a deployment targets). */
enum err storage_device_update(struct storage *s, const char *id, const struct device_change *c,
			       const char *actor, bool *ret_membership_changed);
/* The device's report key (malloc'ed PEM) or NULL when it has none. */
enum err storage_device_report_key(struct storage *s, int64_t num, char **ret_pem);
enum err storage_device_delete(struct storage *s, const char *id, const char *actor);
/* Make hash the device's token. With grace > 0 (seconds) the replaced
 * token stays valid that long; any older previous token ends now. An audit
 * row notes the grace. *ret_previous_until: when the replaced token stops
 * (0: at once, or the device had no token). */
enum err storage_device_set_token(struct storage *s, const char *id, const uint8_t hash[SHA256_LEN],
				  int64_t grace, const char *actor, int64_t *ret_previous_until);
/* Write a batch of last-seen times and reported sequence numbers, in
 * transactions of a few thousand (an error leaves the ones before it
 * written: writing a sighting twice is harmless). */
enum err storage_device_seen(struct storage *s, const struct device_seen *entries, unsigned n);
void device_release(struct device *d);

/* [A-Za-z0-9._:@-]{1,max} */
bool device_name_valid(const char *name, size_t max);

#endif
