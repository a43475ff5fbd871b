-- Hostile input (issue 10): one event's bad data must never stop the events behind it.

-- A declared Content-Length above 2 GiB is a real body size the receiver records; as an
-- integer it failed the whole batch with "out of range".
ALTER TABLE ovc.raw_events ALTER COLUMN body_size TYPE bigint;

-- Events the database refused on their own (a data error or a constraint, never an outage),
-- set aside so that their batch lands without them. `metadata` is the event's JSON as bytes
-- and `body` its stored body: bytea takes any content, so setting an event aside cannot fail
-- for the reason its landing did. Landing the same event again changes nothing.
CREATE TABLE ovc.raw_event_quarantine (
    event_id       uuid        PRIMARY KEY,
    received_at    timestamptz NOT NULL,
    route          text        NOT NULL,
    block_start    timestamptz,
    raw_key        text        NOT NULL,
    metadata       bytea       NOT NULL,
    body           bytea       NOT NULL,
    sqlstate       text        NOT NULL,
    error          text        NOT NULL,
    quarantined_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX raw_event_quarantine_block_start_idx ON ovc.raw_event_quarantine (block_start);

-- 003's function with `body_size` read as int8; everything else unchanged.
CREATE OR REPLACE FUNCTION ovc.land_raw_events(
    batch_rows jsonb, batch_bodies bytea[], dedupe_window interval, live_routes text[]
) RETURNS TABLE (event_id uuid, landed_as uuid, disposition text)
LANGUAGE plpgsql
SET enable_seqscan = off
AS $$
#variable_conflict use_column
BEGIN
    PERFORM pg_advisory_xact_lock(1331053394, body_key)
    FROM (
        SELECT DISTINCT ('x' || left(arrival ->> 'body_sha256', 8))::bit(32)::int4 AS body_key
        FROM jsonb_array_elements(batch_rows) AS arrival
        ORDER BY body_key
    ) AS body_keys;

    RETURN QUERY
    WITH arrival AS (
        SELECT * FROM ROWS FROM (
            jsonb_to_recordset(batch_rows) AS (
                event_id uuid, received_at timestamptz, route text, client_addr text, body_size int8,
                body_truncated bool, body_sha256 text, raw_key text, raw_status text, parse_status text,
                codes text[], contract text, symbol text, block_id text, block_start timestamptz
            ),
            unnest(batch_bodies)
        ) WITH ORDINALITY AS batch (
            event_id, received_at, route, client_addr, body_size, body_truncated, body_sha256, raw_key,
            raw_status, parse_status, codes, contract, symbol, block_id, block_start, body, position
        )
    ),
    landed_before AS (
        SELECT arrival.event_id,
               coalesce(
                   (SELECT duplicate.original_event_id
                    FROM ovc.raw_event_duplicates AS duplicate
                    WHERE duplicate.event_id = arrival.event_id),
                   (SELECT event.event_id FROM ovc.raw_events AS event WHERE event.event_id = arrival.event_id)
               ) AS landed_as
        FROM arrival
    ),
    fresh AS (
        SELECT arrival.*,
               (SELECT event.event_id
                FROM ovc.raw_events AS event
                WHERE event.body_sha256 = arrival.body_sha256
                  AND event.received_at BETWEEN arrival.received_at - dedupe_window AND arrival.received_at + dedupe_window
                  AND event.codes = arrival.codes
                ORDER BY event.received_at, event.event_id
                LIMIT 1) AS landed_original
        FROM arrival
        JOIN landed_before USING (event_id)
        WHERE landed_before.landed_as IS NULL
    ),
    first_in_batch AS (
        SELECT fresh.*,
               first_value(event_id) OVER same_body AS first_id,
               first_value(received_at) OVER same_body AS first_at
        FROM fresh
        WINDOW same_body AS (
            PARTITION BY body_sha256, codes, landed_original IS NULL ORDER BY received_at, position
        )
    ),
    decided AS (
        SELECT first_in_batch.*,
               CASE
                   WHEN landed_original IS NOT NULL THEN landed_original
                   WHEN received_at - first_at <= dedupe_window THEN first_id
                   ELSE event_id
               END AS landed_as
        FROM first_in_batch
    ),
    resend AS (
        SELECT * FROM decided WHERE landed_as <> event_id AND route = ANY(live_routes)
    ),
    resend_total AS (
        SELECT landed_as, count(*)::int4 AS arrivals, max(received_at) AS last_seen_at FROM resend GROUP BY landed_as
    ),
    inserted AS (
        INSERT INTO ovc.raw_events (
            event_id, received_at, route, client_addr, body, body_size, body_truncated, body_sha256,
            raw_key, raw_status, parse_status, codes, contract, symbol, block_id, block_start,
            duplicate_count, last_seen_at
        )
        SELECT decided.event_id, received_at, route, client_addr, body, body_size, body_truncated, body_sha256,
               raw_key, raw_status, parse_status, codes, contract, symbol, block_id, block_start,
               coalesce(resend_total.arrivals, 0), greatest(received_at, resend_total.last_seen_at)
        FROM decided
        LEFT JOIN resend_total ON resend_total.landed_as = decided.event_id
        WHERE decided.landed_as = decided.event_id
    ),
    recorded AS (
        INSERT INTO ovc.raw_event_duplicates (event_id, original_event_id, received_at, route, client_addr)
        SELECT event_id, landed_as, received_at, route, client_addr FROM resend
    ),
    counted AS (
        UPDATE ovc.raw_events AS event
        SET duplicate_count = event.duplicate_count + resend_total.arrivals,
            last_seen_at = greatest(event.last_seen_at, resend_total.last_seen_at)
        FROM resend_total
        WHERE event.event_id = resend_total.landed_as
    )
    SELECT event_id, landed_as, 'skipped' AS disposition FROM landed_before WHERE landed_as IS NOT NULL
    UNION ALL
    SELECT event_id, landed_as,
           CASE WHEN landed_as = event_id THEN 'landed'
                WHEN route = ANY(live_routes) THEN 'duplicate'
                ELSE 'skipped' END
    FROM decided;
END;
$$;
