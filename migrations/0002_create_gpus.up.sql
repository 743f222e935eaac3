-- One row per GPU that has telemetry, kept current by the collector in the same
-- transaction as the telemetry rows, so GET /api/v1/gpus never scans telemetry.
-- See docs/SCHEMA.md for the upsert the collector runs.
CREATE TABLE gpus (
    gpu_uuid     text        PRIMARY KEY,
    hostname     text        NOT NULL,
    gpu_index    integer     NOT NULL,
    device       text        NOT NULL,
    model_name   text        NOT NULL,
    first_seen   timestamptz NOT NULL,
    last_seen    timestamptz NOT NULL,
    metric_names text[]      NOT NULL DEFAULT '{}',  -- sorted, distinct
    CONSTRAINT gpus_seen_order_check CHECK (first_seen <= last_seen)
);

-- Listing GPUs of one host (and host-ordered pages).
CREATE INDEX gpus_hostname_idx ON gpus (hostname, gpu_index);

-- Backfill: a no-op on a new database; on one that already has telemetry it makes the
-- table true from the first deploy.
INSERT INTO gpus (gpu_uuid, hostname, gpu_index, device, model_name, first_seen, last_seen,
                  metric_names)
SELECT DISTINCT ON (gpu_uuid)
       gpu_uuid, hostname, gpu_index, device, model_name,
       min(ts) OVER w, max(ts) OVER w,
       ARRAY(SELECT DISTINCT t2.metric_name FROM telemetry t2
             WHERE t2.gpu_uuid = t.gpu_uuid ORDER BY 1)
FROM telemetry t
WINDOW w AS (PARTITION BY gpu_uuid)
ORDER BY gpu_uuid, ts DESC;
