-- Webhook landing (DESIGN section 4): what the receiver needs beyond 001's raw_events.

-- One row per resend that was counted as a duplicate of an event instead of being stored
-- again. Keyed by the id the resend was given on arrival, so landing it a second time (a
-- spool replay of a batch whose commit was in doubt) finds it and changes nothing.
CREATE TABLE ovc.raw_event_duplicates (
    event_id          uuid        PRIMARY KEY,
    original_event_id uuid        NOT NULL REFERENCES ovc.raw_events (event_id),
    received_at       timestamptz NOT NULL,
    route             text        NOT NULL,
    client_addr       text,
    landed_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX raw_event_duplicates_original_idx ON ovc.raw_event_duplicates (original_event_id);

-- Events whose raw object is still to be written; small, as they are written within seconds.
CREATE INDEX raw_events_raw_pending_idx ON ovc.raw_events (landed_at) WHERE raw_status = 'pending';

-- Land one batch of received bodies (ovc_assets/storage/raw_events.py: land_events, which
-- documents the rules). `batch_rows` is a JSON array of the events' metadata, `batch_bodies`
-- their bodies in the same order. One row per arrival comes back: its event id, the event it
-- landed as (itself, or the original of a repeat), and 'landed', 'duplicate' or 'skipped'.
CREATE FUNCTION ovc.land_raw_events(
    batch_rows jsonb, batch_bodies bytea[], dedupe_window interval, live_routes text[]
) RETURNS TABLE (event_id uuid, landed_as uuid, disposition text)
LANGUAGE plpgsql
-- Every table access below is a look-up by key. The plan is cached per session, and one
-- made while the table was still small would scan it whole, ever slower as it grows, until
-- the next ANALYZE; index look-ups stay right at every size.
SET enable_seqscan = off
AS $$
#variable_conflict use_column
BEGIN
    -- One advisory lock per body hash (namespace 'OVCR' plus 32 bits of the hash), taken in
    -- ascending order so that two batches never deadlock. The statement below comes after it
    -- with a snapshot of its own, so it sees what a batch this one waited for committed.
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
                event_id uuid, received_at timestamptz, route text, client_addr text, body_size int4,
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
        -- Only events landed before this statement: the new ones got their counts above.
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
