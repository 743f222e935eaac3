-- One row per datapoint. See docs/SCHEMA.md for why the table is not partitioned.
CREATE TABLE telemetry (
    -- Dedup key: one per emission, assigned by the streamer or the broker writer. The
    -- collector inserts with ON CONFLICT (msg_uuid) DO NOTHING, so redelivery after a lost
    -- ack cannot create a second row.
    msg_uuid    uuid             NOT NULL,
    ts          timestamptz      NOT NULL,  -- emission time from the message (microseconds)
    gpu_uuid    text             NOT NULL,  -- "GPU-5fd4f087-..."; gpu_index repeats per host
    gpu_index   integer          NOT NULL,
    device      text             NOT NULL,  -- "nvidia0"
    model_name  text             NOT NULL,
    hostname    text             NOT NULL,
    -- Empty in the DCGM export for GPUs not assigned to a pod: stored as NULL, never ''.
    container   text,
    pod         text,
    namespace   text,
    metric_name text             NOT NULL,  -- "DCGM_FI_DEV_GPU_UTIL"
    value       double precision,           -- NULL: DCGM reported its blank sentinel
    labels      jsonb            NOT NULL DEFAULT '{}'::jsonb,
    labels_raw  text             NOT NULL DEFAULT '',
    inserted_at timestamptz      NOT NULL DEFAULT now(),  -- for pipeline latency checks
    CONSTRAINT telemetry_msg_uuid_key UNIQUE (msg_uuid),
    CONSTRAINT telemetry_gpu_index_check CHECK (gpu_index >= 0),
    -- A NULL operand makes the CHECK pass; an empty string makes it fail.
    CONSTRAINT telemetry_empty_is_null_check
        CHECK (container <> '' AND pod <> '' AND namespace <> '')
);

-- GET /api/v1/gpus/{id}/telemetry?start_time=&end_time= ordered by time, keyset cursor
-- (ts, msg_uuid). A B-tree scans backwards as cheaply as forwards, so this serves
-- newest-first too.
CREATE INDEX telemetry_gpu_ts_idx ON telemetry (gpu_uuid, ts, msg_uuid);

-- The same query with a metric filter: without metric_name in the key, a GPU with 20
-- metrics would read 20 rows per returned row.
CREATE INDEX telemetry_gpu_metric_ts_idx ON telemetry (gpu_uuid, metric_name, ts, msg_uuid);

-- Retention deletes by ts. Rows arrive roughly in ts order, so a BRIN index is a few
-- pages where a B-tree would be as big as the table's ts column.
CREATE INDEX telemetry_ts_brin_idx ON telemetry USING brin (ts) WITH (pages_per_range = 32);
