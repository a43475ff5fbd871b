-- Run reports as a hash chain (issue 10): tamper-evident, beside the seed-002 columns.
-- Applied by `ovc db migrate` inside one transaction and recorded in ovc.schema_migrations.
--
-- Link n holds report_sha256 = SHA-256 of the canonical JSON of report n together with
-- its own seq and prev_sha256 (ovc_assets.runs.report.canonical_report_json), and
-- prev_sha256 = report_sha256 of link n - 1 (64 zeros for link 1). Editing, deleting,
-- re-ordering or inserting a report anywhere but at the head breaks a link that
-- `ovc report verify` names. Writers append under one advisory lock; the primary key and
-- the UNIQUE prev_sha256 refuse a fork even from a writer that skipped the lock.
-- No foreign key to the reports: it would make TRUNCATE of the reports fail on the key
-- before their refusing trigger; a link without its report is a break the verifier names.
CREATE TABLE ovc.ovc_run_report_chain (
    seq           bigint      PRIMARY KEY CHECK (seq >= 1),
    run_id        text        NOT NULL UNIQUE,
    prev_sha256   text        NOT NULL UNIQUE CHECK (prev_sha256 ~ '^[0-9a-f]{64}$'),
    report_sha256 text        NOT NULL UNIQUE CHECK (report_sha256 ~ '^[0-9a-f]{64}$'),
    chained_at    timestamptz NOT NULL DEFAULT now()
);

-- Reports written before the chain existed: verified as "unchained, older than the
-- chain", so that a report inserted later outside the chain is told apart as a forgery.
CREATE TABLE ovc.ovc_run_reports_unchained (
    run_id      text        PRIMARY KEY,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO ovc.ovc_run_reports_unchained (run_id) SELECT run_id FROM ovc.ovc_run_reports_v01;

CREATE FUNCTION ovc.refuse_append_only_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER ovc_run_report_chain_append_only
    BEFORE UPDATE OR DELETE ON ovc.ovc_run_report_chain
    FOR EACH ROW EXECUTE FUNCTION ovc.refuse_append_only_change();
CREATE TRIGGER ovc_run_report_chain_no_truncate
    BEFORE TRUNCATE ON ovc.ovc_run_report_chain
    FOR EACH STATEMENT EXECUTE FUNCTION ovc.refuse_append_only_change();
CREATE TRIGGER ovc_run_reports_unchained_append_only
    BEFORE UPDATE OR DELETE ON ovc.ovc_run_reports_unchained
    FOR EACH ROW EXECUTE FUNCTION ovc.refuse_append_only_change();
CREATE TRIGGER ovc_run_reports_unchained_no_truncate
    BEFORE TRUNCATE ON ovc.ovc_run_reports_unchained
    FOR EACH STATEMENT EXECUTE FUNCTION ovc.refuse_append_only_change();
