/* The table columns and -q ids of each resource. */
#ifndef SUITD_TOOLS_SUITCTL_VIEWS_H
#define SUITD_TOOLS_SUITCTL_VIEWS_H

#include "tools/suitctl/ctl.h"

#define VIEW(name, id, ...)                                        \
	static const struct ctl_col name##_cols[] = {__VA_ARGS__}; \
	static const struct ctl_view name = {id, name##_cols,      \
					     sizeof(name##_cols) / sizeof(name##_cols[0])}

VIEW(view_payload, "sha256", {"SHA256", "sha256"}, {"SIZE", "size"}, {"NAME", "name"},
     {"CREATED", "created_at"});
VIEW(view_manifest, "digest.value", {"DIGEST", "digest.value"}, {"SEQ", "sequence_number"},
     {"SIZE", "size"}, {"PAYLOADS", "payloads"}, {"CREATED", "created_at"});
VIEW(view_device, "id", {"ID", "id"}, {"GROUP", "group"}, {"TAGS", "tags"},
     {"SEQ", "reported_sequence"}, {"LAST SEEN", "last_seen_at"}, {"CLASS", "class_id"});
VIEW(view_deployment, "id", {"ID", "id"}, {"NAME", "name"}, {"STATUS", "status"},
     {"STAGE", "current_stage"}, {"DEVICES", "devices"}, {"CONFIRMED", "counts.confirmed"},
     {"FAILED", "counts.failed"}, {"MANIFEST", "manifest"}, {"CREATED", "created_at"});
VIEW(view_assignment, "device", {"DEVICE", "device"}, {"STAGE", "stage"}, {"STATE", "state"},
     {"REASON", "reason"}, {"UPDATED", "updated_at"});
VIEW(view_key, "name", {"NAME", "name"}, {"ROLE", "role"}, {"CREATED", "created_at"},
     {"LAST USED", "last_used_at"}, {"EXPIRES", "expires_at"}, {"REVOKED", "revoked_at"});
VIEW(view_report, "id", {"ID", "id"}, {"STATE", "state"}, {"PROGRESS", "progress"},
     {"REASON", "reason"}, {"MANIFEST", "manifest"}, {"RECEIVED", "received_at"});
VIEW(view_webhook, "id", {"ID", "id"}, {"URL", "url"}, {"ENABLED", "enabled"}, {"TYPES", "types"},
     {"LAST EVENT", "last_event_id"}, {"DESCRIPTION", "description"});
VIEW(view_delivery, "n", {"N", "n"}, {"EVENT", "event_id"}, {"TYPE", "event_type"},
     {"ATTEMPT", "attempt"}, {"RESULT", "result"}, {"STATUS", "status"}, {"AT", "at"},
     {"ERROR", "error"});
VIEW(view_event, "id", {"ID", "id"}, {"AT", "at"}, {"ACTOR", "actor"}, {"TYPE", "type"},
     {"SUBJECT", "subject"});
VIEW(view_status, "version", {"VERSION", "version"});

#endif
