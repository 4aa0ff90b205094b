/* The tables `suitd migrate-data` copies, in one place: parents before the
 * children whose foreign keys name them, the trigger-kept counters last.
 * The copier refuses a database whose catalog has a table this list does
 * not name (a migration added one), so the round-trip test fails until the
 * table is added here. */
#include "storage/copy.h"

#define ID(col) .key = {col}, .id = col

const struct copy_table copy_tables[] = {
	{"api_keys", ID("id")},
	{"ui_sessions", ID("id")},
	{"uploads", ID("id")},
	{"chunks", ID("id")},
	{"payloads", ID("id")},
	{"manifests", ID("id")},
	{"manifest_components", .key = {"manifest_id", "component_index"}},
	{"manifest_payloads", .key = {"manifest_id", "payload_id"}},
	{"manifest_dependencies", .key = {"manifest_id", "digest"}},
	{"manifest_needs", .key = {"manifest_id", "grp", "kind", "object_id"}},
	{"devices", ID("num")},
	{"device_tags", .key = {"device_num", "tag"}},
	{"deployments", ID("id")},
	{"deployment_stages", .key = {"deployment_id", "stage"}},
	{"deployment_targets", .key = {"deployment_id", "device_num"}},
	{"assignments", ID("id")},
	{"assignment_fetches", .key = {"assignment_id", "kind", "object_id"}},
	{"reports", ID("id")},
	{"events", ID("id")},
	{"webhooks", ID("id")},
	{"webhook_redeliveries", ID("id")},
	{"webhook_deliveries", ID("id")},
	{"ddi_cancels", .key = {"device_num"}},
	/* Filled by the triggers of the inserts above (assignments, reports)
	 * or seeded by the first migration (cli_changes' one row): cleared,
	 * then the source's rows, so they equal the source's. */
	{"assignment_counts", .key = {"deployment_id", "stage", "state"}, .derived = true},
	{"report_usage", .key = {"device_num"}, .derived = true},
	{"cli_changes", .key = {"id"}, .derived = true},
};

const unsigned copy_tables_count = sizeof(copy_tables) / sizeof(copy_tables[0]);
