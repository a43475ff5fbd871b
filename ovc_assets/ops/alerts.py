"""Operator alerts: short Slack-compatible messages (`{"text": ...}`) to a webhook URL.

Three reasons to alert (seed 003's next step, "alert on high error rates or failed runs"):

- a run report with verdict FAIL;
- a run report with verdict WARN whose parse-failure rate (`parse_fail / received_events`)
  is over a threshold;
- a silent TradingView: no alert landed on the live routes during the last N market windows
  (2H blocks the FX calendar has open) while the market is open.

Every message is first recorded in `ovc.alert_messages` (sql/010): its key (`run:<run_id>`,
or `silent:<last landing before the spell>`) makes it at most one per run or per spell, and
the row is the delivery queue. Delivery claims the due rows (counting the attempt and
pushing the next one back by an exponential backoff) before posting, so a crash between
the two is retried later instead of lost, and marks them `sent` on a 2xx; after
`max_attempts` a message is `gave_up`. Nothing here touches the run reports: alerting reads
them, and a dead webhook only leaves rows pending.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
from psycopg.types.json import Jsonb

from ovc_assets.calendar import Block, FxCalendar, block_at
from ovc_assets.runs.report import FAIL
from ovc_assets.storage.raw_events import ROUTE_TV, ROUTE_TV_SECURE

KIND_RUN_FAIL = "RUN_FAIL"
KIND_PARSE_FAIL_RATE = "RUN_PARSE_FAIL_RATE"
KIND_TRADINGVIEW_SILENT = "TRADINGVIEW_SILENT"
STATUS_PENDING, STATUS_SENT, STATUS_GAVE_UP = "pending", "sent", "gave_up"
LIVE_ROUTES = (ROUTE_TV, ROUTE_TV_SECURE)  # replayed alert logs are not TradingView speaking
MAX_TEXT_CHARS = 400
WARNINGS_SHOWN = 2

# Reports that call for an alert and have none yet, oldest first.
REPORTS_TO_ALERT_SQL = """
SELECT r.run_id, r.run_type, r.run_status, r.input_range, r.received_events, r.parse_fail, r.warnings
FROM ovc.ovc_run_reports_v01 r
WHERE coalesce(r.finished_at_ms, r.started_at_ms) >= %(since_ms)s
  AND (r.run_status = 'FAIL'
       OR (r.run_status = 'WARN' AND r.received_events > 0
           AND r.parse_fail::float8 / r.received_events > %(parse_fail_rate)s))
  AND NOT EXISTS (SELECT 1 FROM ovc.alert_messages a WHERE a.alert_key = 'run:' || r.run_id)
ORDER BY coalesce(r.finished_at_ms, r.started_at_ms), r.run_id
LIMIT %(limit)s
"""
RECORD_ALERT_SQL = """
INSERT INTO ovc.alert_messages (alert_key, kind, run_id, message, next_attempt_at)
VALUES (%(alert_key)s, %(kind)s, %(run_id)s, %(message)s, %(now)s)
ON CONFLICT (alert_key) DO NOTHING
"""
LAST_LIVE_LANDING_SQL = "SELECT max(landed_at) FROM ovc.raw_events WHERE route = ANY(%(routes)s)"
# Claim the due messages, oldest first: the attempt is counted and the next one scheduled before posting.
CLAIM_DUE_SQL = """
WITH due AS (
    SELECT alert_key FROM ovc.alert_messages
    WHERE status = 'pending' AND next_attempt_at <= %(now)s
    ORDER BY next_attempt_at, created_at, alert_key
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE ovc.alert_messages m
    SET attempts = m.attempts + 1,
        next_attempt_at = %(now)s + least(%(cap_seconds)s, %(base_seconds)s * 2 ^ m.attempts) * interval '1 second'
    FROM due WHERE m.alert_key = due.alert_key
    RETURNING m.alert_key, m.message, m.attempts, m.created_at
)
SELECT alert_key, message, attempts FROM claimed ORDER BY created_at, alert_key
"""
MARK_SENT_SQL = """
UPDATE ovc.alert_messages SET status = 'sent', sent_at = %(now)s, last_error = NULL WHERE alert_key = %(alert_key)s
"""
MARK_FAILED_SQL = """
UPDATE ovc.alert_messages
SET last_error = %(error)s, status = CASE WHEN attempts >= %(max_attempts)s THEN 'gave_up' ELSE status END
WHERE alert_key = %(alert_key)s
"""


@dataclass(frozen=True)
class AlertPolicy:
    """When to alert and how hard to try delivering."""

    parse_fail_rate_threshold: float = 0.05
    silent_windows: int = 3
    report_lookback: timedelta = timedelta(days=1)
    retry_base_seconds: float = 30.0
    retry_cap_seconds: float = 3600.0
    max_attempts: int = 6
    timeout_seconds: float = 5.0
    batch_size: int = 20


@dataclass(frozen=True)
class Alert:
    alert_key: str
    kind: str
    run_id: str | None
    text: str

    def message(self) -> dict[str, str]:
        """The Slack-compatible body (also accepted by Mattermost, Discord's /slack route, ...)."""
        return {"text": self.text}


@dataclass(frozen=True)
class DeliveryResult:
    sent: tuple[str, ...]
    failed: tuple[str, ...]


def _short(text: str) -> str:
    return text if len(text) <= MAX_TEXT_CHARS else text[: MAX_TEXT_CHARS - 3] + "..."


def run_alert(
    run_id: str,
    run_type: str | None,
    verdict: str,
    input_range: str | None,
    received_events: int,
    parse_fail: int,
    warnings: Sequence[str],
) -> Alert:
    """The one message of a FAIL run, or of a WARN run whose parse-failure rate is too high."""
    kind = KIND_RUN_FAIL if verdict == FAIL else KIND_PARSE_FAIL_RATE
    head = f"OVC {verdict}: {run_type or 'run'} {run_id}" + (f" ({input_range})" if input_range else "")
    if kind == KIND_PARSE_FAIL_RATE:
        head += f": {parse_fail}/{received_events} payloads rejected ({parse_fail / received_events:.0%})"
    reasons = "; ".join(list(warnings)[:WARNINGS_SHOWN])
    text = head + (f" - {reasons}" if reasons else "") + f". `ovc report show {run_id}`"
    return Alert(alert_key=f"run:{run_id}", kind=kind, run_id=run_id, text=_short(text))


def recent_closed_market_blocks(now: datetime, count: int, calendar: FxCalendar) -> list[Block]:
    """The `count` most recent open blocks that closed by `now`, oldest first; none when the
    market is closed at `now` (a silent weekend is no news)."""
    current = block_at(now)
    if not calendar.is_open(current):
        return []
    blocks: list[Block] = []
    block = current.previous()
    while len(blocks) < count:
        if calendar.is_open(block):
            blocks.append(block)
        block = block.previous()
    return blocks[::-1]


def silent_tradingview_alert(
    last_landed_at: datetime | None, now: datetime, windows: int, calendar: FxCalendar
) -> Alert | None:
    """The alert for a TradingView that sent nothing during the last `windows` market windows."""
    blocks = recent_closed_market_blocks(now, windows, calendar)
    if not blocks or (last_landed_at is not None and last_landed_at >= blocks[0].start_utc):
        return None
    since = last_landed_at.astimezone(UTC).isoformat(timespec="seconds") if last_landed_at else "never"
    text = (
        f"OVC: no TradingView alert landed for the last {windows} market windows "
        f"(since block {blocks[0].date_ny}-{blocks[0].letter}, last alert landed: {since}). "
        "Check the TradingView alerts and the receiver; `ovc replay alerts` and the provider backfill recover the blocks."
    )
    key = f"silent:{last_landed_at.astimezone(UTC).isoformat() if last_landed_at else 'never'}"
    return Alert(alert_key=key, kind=KIND_TRADINGVIEW_SILENT, run_id=None, text=_short(text))


def record_alerts(conn: psycopg.Connection, alerts: Sequence[Alert], now: datetime) -> list[str]:
    """Queue alerts not queued before; the keys that are new."""
    recorded = []
    with conn.transaction():
        for alert in alerts:
            params = {
                "alert_key": alert.alert_key, "kind": alert.kind, "run_id": alert.run_id,
                "message": Jsonb(alert.message()), "now": now,
            }  # fmt: skip
            if conn.execute(RECORD_ALERT_SQL, params).rowcount:
                recorded.append(alert.alert_key)
    return recorded


def find_alerts(conn: psycopg.Connection, policy: AlertPolicy, now: datetime, calendar: FxCalendar) -> list[Alert]:
    """What deserves an alert now and has none yet: run reports, then a silent TradingView."""
    since_ms = int((now - policy.report_lookback).timestamp() * 1000)
    rows = conn.execute(
        REPORTS_TO_ALERT_SQL,
        {"since_ms": since_ms, "parse_fail_rate": policy.parse_fail_rate_threshold, "limit": policy.batch_size},
    ).fetchall()
    alerts = [run_alert(*row[:6], row[6] or []) for row in rows]
    if policy.silent_windows > 0:
        (last_landed_at,) = conn.execute(LAST_LIVE_LANDING_SQL, {"routes": list(LIVE_ROUTES)}).fetchone()
        silent = silent_tradingview_alert(last_landed_at, now, policy.silent_windows, calendar)
        if silent is not None:
            alerts.append(silent)
    return alerts


def deliver_due(
    conn: psycopg.Connection, webhook_url: str, policy: AlertPolicy, now: datetime, client: httpx.Client
) -> DeliveryResult:
    """Post the messages that are due; see the module docstring for the retry rules."""
    with conn.transaction():
        claimed = conn.execute(
            CLAIM_DUE_SQL,
            {
                "now": now, "base_seconds": policy.retry_base_seconds, "cap_seconds": policy.retry_cap_seconds,
                "limit": policy.batch_size,
            },  # fmt: skip
        ).fetchall()
    sent, failed = [], []
    for alert_key, message, _attempts in claimed:
        error = _post(client, webhook_url, message, policy.timeout_seconds)
        with conn.transaction():
            if error is None:
                conn.execute(MARK_SENT_SQL, {"alert_key": alert_key, "now": now})
                sent.append(alert_key)
            else:
                conn.execute(MARK_FAILED_SQL, {"alert_key": alert_key, "error": error, "max_attempts": policy.max_attempts})
                failed.append(alert_key)
    return DeliveryResult(tuple(sent), tuple(failed))


def _post(client: httpx.Client, url: str, message: dict, timeout: float) -> str | None:
    """None when the webhook took the message, else why not (never the URL: it is a secret)."""
    try:
        response = client.post(url, json=message, timeout=timeout)
    except httpx.HTTPError as error:
        return f"{type(error).__name__}"
    if 200 <= response.status_code < 300:
        return None
    return f"HTTP {response.status_code}"
