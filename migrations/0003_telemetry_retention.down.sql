DROP FUNCTION IF EXISTS telemetry_delete_before(timestamptz, integer);
