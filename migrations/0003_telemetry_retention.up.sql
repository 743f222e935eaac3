-- Retention in bounded batches: one huge DELETE would hold locks and bloat the table for
-- the whole run. Call repeatedly until it returns fewer than max_rows:
--   SELECT telemetry_delete_before(now() - interval '7 days', 10000);
-- Rows are found through telemetry_ts_brin_idx and deleted by ctid. When the last
-- batch is done, GPUs not seen since the cutoff are removed from gpus too, so that
-- "GPUs that have telemetry" stays true.
CREATE FUNCTION telemetry_delete_before(cutoff timestamptz, max_rows integer DEFAULT 10000)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
    deleted bigint;
BEGIN
    IF max_rows IS NULL OR max_rows < 1 THEN
        RAISE EXCEPTION 'max_rows must be at least 1, got %', max_rows
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    DELETE FROM telemetry
    WHERE ctid = ANY (ARRAY(SELECT ctid FROM telemetry WHERE ts < cutoff LIMIT max_rows));
    GET DIAGNOSTICS deleted = ROW_COUNT;
    IF deleted < max_rows THEN
        DELETE FROM gpus WHERE last_seen < cutoff;
    END IF;
    RETURN deleted;
END;
$$;
