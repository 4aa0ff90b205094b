/* CoSWID (RFC 9393) as a SUIT manifest carries it in suit-coswid (14):
 * the concise-swid-tag that says what software the manifest installs.
 * The decoder is bounded and takes hostile input: it reads the tag's
 * identity (tag-id, tag-version, software-name, software-version, version
 * scheme) and its entities, and refuses what is not a CoSWID tag. */
#ifndef SUITD_SUIT_COSWID_H
#define SUITD_SUIT_COSWID_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/error.h"

#define COSWID_MAX_ENTITIES 16
#define COSWID_MAX_TEXT	    256 /* bytes of a name, version or tag-id */
#define COSWID_MAX_URI	    1024

/* Decode the content of the suit-coswid bstr (optionally CBOR tag
 * 1398229316). On success *ret is {"tag_id", "tag_version",
 * "software_name", "software_version", "version_scheme",
 * "version_scheme_id", "corpus", "patch", "supplemental", "entities":
 * [{"name", "reg_id", "roles"}]}; ERR_INVALID with d (field "coswid")
 * otherwise, ERR_TOO_LARGE past the bounds above. */
enum err suit_coswid_decode(const uint8_t *data, size_t len, json_t **ret, struct diag *d);

#endif
