-- Issue 16: the software inventory. A manifest's CoSWID (suit-coswid, decoded
-- at upload into facts.coswid by suit/coswid.c) names the software it
-- installs; a device runs the manifest of its last confirmed assignment.

-- What a manifest installs, filled from its facts when it is stored.
ALTER TABLE manifests ADD COLUMN software_name TEXT;
ALTER TABLE manifests ADD COLUMN software_version TEXT;
CREATE TRIGGER manifests_software AFTER INSERT ON manifests
	WHEN json_valid(NEW.facts) AND json_extract(NEW.facts, '$.coswid.software_name') IS NOT NULL
BEGIN
	UPDATE manifests SET software_name = json_extract(NEW.facts, '$.coswid.software_name'),
		software_version = json_extract(NEW.facts, '$.coswid.software_version')
		WHERE id = NEW.id;
END;
-- Manifests stored before this release: their facts have no decoded
-- CoSWID (the parser skipped suit-coswid), so this finds none and they stay
-- NULL; it is here so a restore of newer facts fills them too.
UPDATE manifests SET software_name = json_extract(facts, '$.coswid.software_name'),
	software_version = json_extract(facts, '$.coswid.software_version')
	WHERE json_valid(facts) AND json_extract(facts, '$.coswid.software_name') IS NOT NULL;

-- What each device runs: the manifest of its last confirmed assignment and
-- its software name and version, copied so the inventory query is one index
-- range (and survives the manifest's garbage collection).
ALTER TABLE devices ADD COLUMN running_manifest_id INTEGER
	REFERENCES manifests (id) ON DELETE SET NULL;
ALTER TABLE devices ADD COLUMN running_since INTEGER;
ALTER TABLE devices ADD COLUMN software_name TEXT;
ALTER TABLE devices ADD COLUMN software_version TEXT;
CREATE INDEX devices_running ON devices (running_manifest_id)
	WHERE running_manifest_id IS NOT NULL;
CREATE INDEX devices_software ON devices (software_name, software_version, num)
	WHERE software_name IS NOT NULL;
CREATE INDEX devices_software_name ON devices (software_name, num)
	WHERE software_name IS NOT NULL;

CREATE TRIGGER assignments_running AFTER UPDATE OF state ON assignments
	WHEN NEW.state = 'confirmed' AND OLD.state != 'confirmed'
BEGIN
	UPDATE devices SET (running_manifest_id, running_since, software_name, software_version) =
		(SELECT m.id, NEW.updated_at, m.software_name, m.software_version
			FROM deployments d JOIN manifests m ON m.id = d.manifest_id
			WHERE d.id = NEW.deployment_id)
		WHERE num = NEW.device_num;
END;

-- Devices that confirmed before this release: their newest confirmation.
-- CROSS JOIN fixes the order and the unary + keeps the planner off
-- assignments_state_updated (every confirmed assignment, for each device):
-- the device's own assignments first (index assignments_device).
UPDATE devices SET (running_manifest_id, running_since, software_name, software_version) =
	(SELECT m.id, a.updated_at, m.software_name, m.software_version
		FROM assignments a CROSS JOIN deployments d CROSS JOIN manifests m
		WHERE d.id = a.deployment_id AND m.id = d.manifest_id AND
		a.device_num = devices.num AND +a.state = 'confirmed'
		ORDER BY a.updated_at DESC, a.id DESC LIMIT 1)
	WHERE EXISTS (SELECT 1 FROM assignments a WHERE a.device_num = devices.num
		AND a.state = 'confirmed');
