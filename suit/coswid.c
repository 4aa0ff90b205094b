#include "suit/coswid.h"

#include <string.h>

#include "common/crypto.h"
#include "suit/cbor.h"

/* CBOR tag of a CoSWID ("SWID", RFC 9393 §8). */
#define COSWID_TAG 1398229316ull

/* concise-swid-tag labels (RFC 9393 §2.3, §6.1). */
enum {
	L_TAG_ID = 0,
	L_SOFTWARE_NAME = 1,
	L_ENTITY = 2,
	L_CORPUS = 8,
	L_PATCH = 9,
	L_SUPPLEMENTAL = 11,
	L_TAG_VERSION = 12,
	L_SOFTWARE_VERSION = 13,
	L_VERSION_SCHEME = 14,
	L_ENTITY_NAME = 31,
	L_REG_ID = 32,
	L_ROLE = 33,
};

static const char *version_scheme_name(int64_t v)
{
	switch (v) {
	case 1:
		return "multipartnumeric";
	case 2:
		return "multipartnumeric+suffix";
	case 3:
		return "alphanumeric";
	case 4:
		return "decimal";
	case 16384:
		return "semver";
	default:
		return "unknown";
	}
}

static const char *role_name(int64_t r)
{
	static const char *const names[] = {
		NULL,	       "tag-creator", "software-creator", "aggregator",
		"distributor", "licensor",    "maintainer",
	};

	return r >= 1 && r <= 6 ? names[r] : "unknown";
}

struct dec {
	struct diag *d;
	enum err err;
};

static bool fail(struct dec *x, enum err e, const char *why)
{
	if (!x->err) {
		x->err = e;
		diag_set(x->d, e, "coswid", "%s", why);
	}
	return false;
}

/* Integer labels must be unique; a text label is an extension and is
 * skipped. */
static bool labels_unique(const cbor_item_t *map)
{
	size_t n = cbor_map_size(map);
	struct cbor_pair *p = cbor_map_handle(map);

	if (n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		int64_t a, b;
		if (!cbor_item_int(p[i].key, &a))
			continue;
		for (size_t j = i + 1; j < n; j++)
			if (cbor_item_int(p[j].key, &b) && a == b)
				return false;
	}
	return true;
}

/* A text value of at most max bytes, valid UTF-8 without NUL. */
static json_t *text(struct dec *x, const cbor_item_t *v, size_t max, const char *what)
{
	json_t *s;

	if (!v || !cbor_isa_string(v) || !cbor_string_is_definite(v)) {
		fail(x, ERR_INVALID, what);
		return NULL;
	}
	if (cbor_string_length(v) > max) {
		fail(x, ERR_TOO_LARGE, what);
		return NULL;
	}
	if (memchr(cbor_string_handle(v), '\0', cbor_string_length(v)) ||
	    !(s = json_stringn((const char *)cbor_string_handle(v), cbor_string_length(v)))) {
		fail(x, ERR_INVALID, what);
		return NULL;
	}
	return s;
}

static bool put_bool(struct dec *x, json_t *o, const cbor_item_t *m, int64_t label,
		     const char *name)
{
	const cbor_item_t *v = cbor_map_get_int(m, label);

	if (!v) {
		json_object_set_new(o, name, json_false());
		return true;
	}
	if (!cbor_isa_float_ctrl(v) || !cbor_float_ctrl_is_ctrl(v) ||
	    (cbor_ctrl_value(v) != CBOR_CTRL_TRUE && cbor_ctrl_value(v) != CBOR_CTRL_FALSE))
		return fail(x, ERR_INVALID, "corpus, patch and supplemental must be booleans");
	json_object_set_new(o, name, json_boolean(cbor_item_is_true(v)));
	return true;
}

static bool role_add(struct dec *x, json_t *roles, const cbor_item_t *r)
{
	int64_t id;

	if (cbor_item_int(r, &id)) {
		json_array_append_new(roles, json_string(role_name(id)));
		return true;
	}
	json_t *s = text(x, r, COSWID_MAX_TEXT, "an entity role is neither an integer nor text");
	if (!s)
		return false;
	json_array_append_new(roles, s);
	return true;
}

/* entity-entry = { entity-name, ? reg-id, role: role / [2* role], ... } */
static bool entity_add(struct dec *x, json_t *out, const cbor_item_t *e)
{
	const cbor_item_t *role;
	json_t *name, *o, *roles;

	if (!cbor_isa_map(e) || !labels_unique(e))
		return fail(x, ERR_INVALID, "an entity is not a map with unique labels");
	name = text(x, cbor_map_get_int(e, L_ENTITY_NAME), COSWID_MAX_TEXT,
		    "an entity has no entity-name (31) text of at most 256 bytes");
	if (!name)
		return false;
	o = json_pack("{s:o}", "name", name);
	json_array_append_new(out, o);
	if (cbor_map_get_int(e, L_REG_ID)) {
		json_t *reg = text(x, cbor_map_get_int(e, L_REG_ID), COSWID_MAX_URI,
				   "an entity's reg-id (32) is not a URI of at most 1024 bytes");
		if (!reg)
			return false;
		json_object_set_new(o, "reg_id", reg);
	}
	role = cbor_map_get_int(e, L_ROLE);
	if (!role)
		return fail(x, ERR_INVALID, "an entity has no role (33)");
	roles = json_array();
	json_object_set_new(o, "roles", roles);
	if (cbor_isa_array(role)) {
		if (cbor_array_size(role) == 0 || cbor_array_size(role) > 8)
			return fail(x, ERR_INVALID, "an entity has 1 to 8 roles");
		for (size_t i = 0; i < cbor_array_size(role); i++)
			if (!role_add(x, roles, cbor_array_handle(role)[i]))
				return false;
		return true;
	}
	return role_add(x, roles, role);
}

enum err suit_coswid_decode(const uint8_t *data, size_t len, json_t **ret, struct diag *d)
{
	CLEANUP_CBOR cbor_item_t *it = NULL;
	const cbor_item_t *m, *v;
	struct dec x = {.d = d};
	struct cbor_head h;
	json_auto_t *o = NULL;
	json_t *s, *entities;
	int64_t n;

	/* An optional tag, read here (libcbor 0.8 cannot decode a tag number
	 * below 24). */
	if (cbor_head_read(data, len, &h) && h.major == CBOR_TAG) {
		if (h.arg != COSWID_TAG)
			return diag_set(d, ERR_INVALID, "coswid",
					"tag %llu is not a CoSWID tag (1398229316)",
					(unsigned long long)h.arg);
		data += h.head_len;
		len -= h.head_len;
	}
	m = it = cbor_span_load((struct cbor_span){data, len});
	if (!m || !cbor_isa_map(m) || !labels_unique(m))
		return diag_set(d, ERR_INVALID, "coswid",
				"not a concise-swid-tag (a CBOR map with unique labels)");
	o = json_object();
	if (!o)
		return diag_set(d, ERR_NOMEM, "coswid", "out of memory");
	v = cbor_map_get_int(m, L_TAG_ID);
	if (v && cbor_isa_bytestring(v) && cbor_bytestring_is_definite(v) &&
	    cbor_bytestring_length(v) == 16) {
		const uint8_t *u = cbor_bytestring_handle(v);
		char uuid[37];
		snprintf(uuid, sizeof(uuid),
			 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
			 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11],
			 u[12], u[13], u[14], u[15]);
		json_object_set_new(o, "tag_id", json_string(uuid));
	} else {
		s = text(&x, v, COSWID_MAX_TEXT,
			 "tag-id (0) must be text of at most 256 bytes or a 16-byte UUID");
		if (!s)
			return x.err;
		json_object_set_new(o, "tag_id", s);
	}
	v = cbor_map_get_int(m, L_TAG_VERSION);
	if (v && !cbor_item_int(v, &n))
		return diag_set(d, ERR_INVALID, "coswid", "tag-version (12) is not an integer");
	json_object_set_new(o, "tag_version", v ? json_integer((json_int_t)n) : json_null());
	s = text(&x, cbor_map_get_int(m, L_SOFTWARE_NAME), COSWID_MAX_TEXT,
		 "software-name (1) must be text of at most 256 bytes");
	if (!s)
		return x.err;
	json_object_set_new(o, "software_name", s);
	v = cbor_map_get_int(m, L_SOFTWARE_VERSION);
	if (v) {
		s = text(&x, v, COSWID_MAX_TEXT,
			 "software-version (13) must be text of at most 256 bytes");
		if (!s)
			return x.err;
		json_object_set_new(o, "software_version", s);
	} else {
		json_object_set_new(o, "software_version", json_null());
	}
	v = cbor_map_get_int(m, L_VERSION_SCHEME);
	if (v && cbor_item_int(v, &n)) {
		json_object_set_new(o, "version_scheme", json_string(version_scheme_name(n)));
		json_object_set_new(o, "version_scheme_id", json_integer((json_int_t)n));
	} else if (v) {
		s = text(&x, v, COSWID_MAX_TEXT,
			 "version-scheme (14) is neither an integer nor text");
		if (!s)
			return x.err;
		json_object_set_new(o, "version_scheme", s);
	} else {
		json_object_set_new(o, "version_scheme", json_null());
	}
	if (!put_bool(&x, o, m, L_CORPUS, "corpus") || !put_bool(&x, o, m, L_PATCH, "patch") ||
	    !put_bool(&x, o, m, L_SUPPLEMENTAL, "supplemental"))
		return x.err;
	entities = json_array();
	json_object_set_new(o, "entities", entities);
	v = cbor_map_get_int(m, L_ENTITY);
	if (v && cbor_isa_array(v)) {
		if (cbor_array_size(v) > COSWID_MAX_ENTITIES)
			return diag_set(d, ERR_TOO_LARGE, "coswid", "more than %d entities",
					COSWID_MAX_ENTITIES);
		for (size_t i = 0; i < cbor_array_size(v); i++)
			if (!entity_add(&x, entities, cbor_array_handle(v)[i]))
				return x.err;
	} else if (v && !entity_add(&x, entities, v)) {
		return x.err;
	}
	*ret = json_incref(o);
	return ERR_OK;
}
