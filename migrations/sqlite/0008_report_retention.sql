-- Reports are deleted by age ([devices] report_retention): find the old
-- ones without a scan.
CREATE INDEX reports_received ON reports (received_at);
