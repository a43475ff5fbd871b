-- The tables of DESIGN section 5, created empty; later migrations only add to them.
-- Applied by `ovc db migrate` inside one transaction and recorded in ovc.schema_migrations.

CREATE SCHEMA IF NOT EXISTS ovc;

-- Webhook landing table: one row per distinct body received (resends of the same body are
-- counted in duplicate_count, not stored again). The body is kept as bytes because senders
-- may post invalid UTF-8 or NUL bytes, which a text column cannot hold.
CREATE TABLE ovc.raw_events (
    event_id        uuid PRIMARY KEY,
    received_at     timestamptz NOT NULL,
    route           text        NOT NULL,
    client_addr     text,
    body            bytea       NOT NULL,
    body_size       integer     NOT NULL CHECK (body_size >= 0),
    body_truncated  boolean     NOT NULL DEFAULT false,
    body_sha256     text        NOT NULL CHECK (body_sha256 ~ '^[0-9a-f]{64}$'),
    raw_key         text,
    raw_status      text        NOT NULL DEFAULT 'pending' CHECK (raw_status IN ('written', 'pending')),
    parse_status    text        NOT NULL CHECK (parse_status IN ('ok', 'rejected')),
    codes           text[]      NOT NULL DEFAULT '{}',
    contract        text,
    symbol          text,
    block_id        text,
    block_start     timestamptz,
    duplicate_count integer     NOT NULL DEFAULT 0 CHECK (duplicate_count >= 0),
    last_seen_at    timestamptz NOT NULL,
    landed_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX raw_events_block_start_idx ON ovc.raw_events (block_start);
CREATE INDEX raw_events_sha_received_idx ON ovc.raw_events (body_sha256, received_at);
CREATE INDEX raw_events_landed_at_idx ON ovc.raw_events (landed_at);

-- The spine: one row per 2H block. The primary key is the upstream's (seed 000).
-- Live TradingView fields and provider candles live side by side so that neither
-- overwrites the other and the ohlc_divergence check can compare them.
CREATE TABLE ovc.ovc_blocks_v01 (
    symbol             text             NOT NULL,
    block_start        timestamptz      NOT NULL,
    block_type         text             NOT NULL DEFAULT '2H',
    schema_ver         text             NOT NULL,
    block_end          timestamptz      NOT NULL,
    bid                text             NOT NULL,
    date_ny            date             NOT NULL,
    block2h            text             NOT NULL CHECK (block2h ~ '^[A-L]$'),
    block4h            text             NOT NULL CHECK (block4h IN ('AB', 'CD', 'EF', 'GH', 'IJ', 'KL')),
    bar_close_ms       bigint,
    o                  double precision,
    h                  double precision,
    l                  double precision,
    c                  double precision,
    volume             double precision,
    rng                double precision,
    body               double precision,
    ret                double precision,
    dir                smallint CHECK (dir IN (-1, 0, 1)),
    ready              boolean,
    tradeable          boolean,
    state_tag          text,
    value_tag          text,
    play               text,
    bias_dir           text,
    pred_dir           text,
    pred_target        text,
    invalidation       text,
    build_id           text,
    scheme             text,
    source             text             NOT NULL,
    export_min         text,
    payload_min        jsonb,
    provider_source    text,
    provider_o         double precision,
    provider_h         double precision,
    provider_l         double precision,
    provider_c         double precision,
    provider_volume    double precision,
    provider_bar_count integer,
    provider_partial   boolean,
    ingested_at        timestamptz      NOT NULL DEFAULT now(),
    updated_at         timestamptz      NOT NULL DEFAULT now(),
    run_id             text,
    PRIMARY KEY (symbol, block_start, block_type, schema_ver),
    CHECK (block_end > block_start)
);
CREATE INDEX ovc_blocks_v01_bid_idx ON ovc.ovc_blocks_v01 (bid);
CREATE INDEX ovc_blocks_v01_run_id_idx ON ovc.ovc_blocks_v01 (run_id);

-- FULL exports (cold path, opt-in), stored whole as JSONB under the block's key.
CREATE TABLE ovc.ovc_blocks_detail_v01 (
    symbol       text        NOT NULL,
    block_start  timestamptz NOT NULL,
    block_type   text        NOT NULL DEFAULT '2H',
    schema_ver   text        NOT NULL,
    bid          text        NOT NULL,
    export_full  text        NOT NULL,
    full_payload jsonb       NOT NULL,
    ingested_at  timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    run_id       text,
    PRIMARY KEY (symbol, block_start, block_type, schema_ver)
);

-- Forward outcomes per block and window (DESIGN section 5, outcome v0.1).
CREATE TABLE ovc.ovc_outcomes_v01 (
    symbol           text             NOT NULL,
    block_start      timestamptz      NOT NULL,
    window_type      text             NOT NULL,
    outcome_ver      text             NOT NULL,
    bid              text             NOT NULL,
    window_end       timestamptz      NOT NULL,
    window_status    text             NOT NULL,
    blocks_in_window integer          NOT NULL,
    ref_price        double precision,
    mfe_up           double precision,
    mfe_down         double precision,
    close_pos        double precision,
    outcome_dir      text CHECK (outcome_dir IN ('UP', 'DOWN', 'NEUTRAL')),
    hit_target       boolean,
    hit_invalidation boolean,
    computed_at      timestamptz      NOT NULL DEFAULT now(),
    run_id           text,
    PRIMARY KEY (symbol, block_start, window_type, outcome_ver)
);

-- Exactly the columns of the Run Report Spec v0.1 (seed 002, section 12).
CREATE TABLE ovc.ovc_run_reports_v01 (
    run_id text PRIMARY KEY,
    run_type text,
    run_ver text,
    profile text,
    scheme text,
    env text,

    started_at_ms bigint,
    finished_at_ms bigint,
    duration_ms bigint,

    input_source text,
    input_range text,
    expected_events integer,
    received_events integer,
    unique_events integer,
    duplicate_events integer,

    parse_ok integer,
    parse_fail integer,
    fail_by_code jsonb,

    insert_attempted integer,
    insert_success integer,
    insert_skipped integer,
    insert_failed integer,

    blocks_missing integer,
    ready0_count integer,
    tradeable0_count integer,
    null_rate_summary jsonb,
    sanity_error_count integer,

    outcomes_attempted integer,
    outcomes_inserted integer,
    outcomes_skipped integer,
    outcomes_failed integer,
    window_type text,
    outcome_ver text,

    raw_events_written integer,
    raw_store_path text,
    schema_versions_seen jsonb,
    build_ids_seen jsonb,

    run_status text,
    warnings jsonb,
    notes text
);

-- Reports are immutable once written (seed 002, section 2): the database refuses changes.
CREATE FUNCTION ovc.refuse_run_report_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ovc_run_reports_v01 is immutable: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER ovc_run_reports_v01_immutable
    BEFORE UPDATE OR DELETE ON ovc.ovc_run_reports_v01
    FOR EACH ROW EXECUTE FUNCTION ovc.refuse_run_report_change();

CREATE TRIGGER ovc_run_reports_v01_no_truncate
    BEFORE TRUNCATE ON ovc.ovc_run_reports_v01
    FOR EACH STATEMENT EXECUTE FUNCTION ovc.refuse_run_report_change();

-- Run manifest (seed 003): what ran, from which code, with which inputs.
CREATE TABLE ovc.ovc_runs (
    run_id          text PRIMARY KEY,
    dagster_run_id  text,
    run_type        text        NOT NULL,
    status          text        NOT NULL CHECK (status IN ('STARTED', 'SUCCESS', 'FAILURE', 'CRASHED', 'ROLLED_BACK')),
    started_at      timestamptz NOT NULL,
    completed_at    timestamptz,
    package_version text        NOT NULL,
    git_commit      text        NOT NULL DEFAULT 'unknown',
    git_branch      text        NOT NULL DEFAULT 'unknown',
    git_dirty       boolean,
    cli_args        jsonb,
    run_config      jsonb,
    env_info        jsonb,
    input_hash      text,
    dedup_mode      text,
    source_tier     text,
    error           text
);
CREATE INDEX ovc_runs_dagster_run_id_idx ON ovc.ovc_runs (dagster_run_id);
