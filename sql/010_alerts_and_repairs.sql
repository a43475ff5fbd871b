-- Operating the pipeline (issue 14): the durable records of operator alerts and of the
-- self-repair of missed TradingView alerts.

-- One row per alert message: the primary key makes a message at most one per run
-- ('run:<run_id>') or per silent spell of TradingView ('silent:<last landing before it>'),
-- and the row is the queue of its delivery, retried with backoff until sent or given up.
CREATE TABLE ovc.alert_messages (
    alert_key       text        PRIMARY KEY,
    kind            text        NOT NULL CHECK (kind IN ('RUN_FAIL', 'RUN_PARSE_FAIL_RATE', 'TRADINGVIEW_SILENT')),
    run_id          text,
    message         jsonb       NOT NULL CHECK (jsonb_typeof(message) = 'object'),
    status          text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'gave_up')),
    attempts        integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz
);
CREATE INDEX alert_messages_due_idx ON ovc.alert_messages (next_attempt_at) WHERE status = 'pending';

-- One row per 2H block of a live window (a LIVE_INGEST run) whose missing blocks were requested
-- from a provider: the sensor requests each repair once, and the repair run's report reads
-- which blocks it was asked for (by `run_key`). A window that had nothing missing any more by
-- the time it was looked at gets one row with no symbols and no run.
CREATE TABLE ovc.block_repairs (
    live_run_id  text        NOT NULL,
    block_start  timestamptz NOT NULL,
    provider     text        NOT NULL,
    symbols      text[]      NOT NULL,
    run_key      text        UNIQUE CHECK ((run_key IS NULL) = (cardinality(symbols) = 0)),
    requested_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (live_run_id, block_start)
);
