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
