/* The SQL of the hawkBit DDI adapter (storage/ddi.c, migration 0018), part
 * of the one statement table of storage/sqlite/statements.h. */
#ifndef SUITD_STORAGE_DDI_STATEMENTS_H
#define SUITD_STORAGE_DDI_STATEMENTS_H

/* DDI_POLL: what a base poll links besides the active assignment (which
 * comes from memory): a cancel to tell, the newest confirmed assignment
 * (installedBase), whether the device never sent configData.
 * One statement, three index lookups. */
#define DDI_STATEMENT_LIST(X)                                                                     \
	X(DDI_POLL, "SELECT (SELECT assignment_id FROM ddi_cancels WHERE device_num = ?1), "      \
		    "(SELECT max(id) FROM assignments WHERE device_num = ?1 AND "                 \
		    "state = 'confirmed'), "                                                      \
		    "(SELECT ddi_config_at IS NULL FROM devices WHERE num = ?1)")                 \
	X(DDI_CONFIG_SENT, "UPDATE devices SET ddi_config_at = ?2 WHERE num = ?1")                \
	X(DDI_CANCEL_GET, "SELECT 1 FROM ddi_cancels WHERE device_num = ?1 AND "                  \
			  "assignment_id = ?2")                                                   \
	X(DDI_CANCEL_ACK, "DELETE FROM ddi_cancels WHERE device_num = ?1 AND assignment_id = ?2") \
	X(DDI_ACTION, "SELECT a.state, d.manifest_id, m.digest, m.sequence_number, "              \
		      "m.software_name, m.software_version FROM assignments a "                   \
		      "JOIN deployments d ON d.id = a.deployment_id "                             \
		      "JOIN manifests m ON m.id = d.manifest_id "                                 \
		      "WHERE a.id = ?1 AND a.device_num = ?2")                                    \
	X(DDI_ARTIFACTS,                                                                          \
	  "SELECT p.sha256, p.size, p.name, p.sha1, p.md5 FROM manifest_payloads mp "             \
	  "JOIN payloads p ON p.id = mp.payload_id WHERE mp.manifest_id = ?1 "                    \
	  "ORDER BY p.id")                                                                        \
	X(DDI_HASHES_SET, "UPDATE payloads SET sha1 = ?2, md5 = ?3 WHERE id = ?1")                \
	X(DDI_MODULE_ALLOWED, "SELECT 1 FROM assignments a JOIN deployments d "                   \
			      "ON d.id = a.deployment_id WHERE a.device_num = ?1 AND "            \
			      "d.manifest_id = ?2 AND a.state NOT IN ('pending', 'canceled', "    \
			      "'skipped') LIMIT 1")                                               \
	X(DDI_DEVICES_BY_ATTRIBUTE, "SELECT d.num FROM devices d, json_each(d.attributes) j "     \
				    "WHERE j.key = ?1 AND j.type = 'text' AND j.value = ?2 "      \
				    "ORDER BY d.num LIMIT ?3")

#endif
