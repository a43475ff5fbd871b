"""`ovc_alerts_sensor`: failed runs, runs rejecting too many payloads and a silent TradingView,
posted to the operator's webhook (Slack-compatible), at most one message each."""

import os
from datetime import UTC, datetime, timedelta

import dagster as dg
import httpx
from pydantic import Field

from ovc_assets.calendar import FxCalendar
from ovc_assets.defs.resources import PostgresResource
from ovc_assets.ops.alerts import AlertPolicy, deliver_due, find_alerts, record_alerts
from ovc_assets.runs.manifest import SecretScrubber
from ovc_assets.storage.postgres import connect

WEBHOOK_URL_ENV = "OVC_ALERT_WEBHOOK_URL"


class AlertSettings(dg.ConfigurableResource):
    """Where alerts go and when they are sent. The URL is `webhook_url`, else `OVC_ALERT_WEBHOOK_URL`
    (read when the sensor runs); with neither, nothing is recorded or sent."""

    webhook_url: str | None = None
    parse_fail_rate_threshold: float = Field(default=0.05, description="WARN runs alert above this share of rejected payloads.")
    silent_windows: int = Field(default=3, description="Market windows without a landed alert that make TradingView silent; 0 turns it off.")
    report_lookback_hours: float = Field(default=24.0, description="Reports older than this never alert (e.g. when alerts are first enabled).")
    retry_base_seconds: float = 30.0
    retry_cap_seconds: float = 3600.0
    max_attempts: int = 6
    timeout_seconds: float = 5.0

    def url(self) -> str | None:
        return self.webhook_url or os.environ.get(WEBHOOK_URL_ENV) or None

    def policy(self) -> AlertPolicy:
        return AlertPolicy(
            parse_fail_rate_threshold=self.parse_fail_rate_threshold,
            silent_windows=self.silent_windows,
            report_lookback=timedelta(hours=self.report_lookback_hours),
            retry_base_seconds=self.retry_base_seconds,
            retry_cap_seconds=self.retry_cap_seconds,
            max_attempts=self.max_attempts,
            timeout_seconds=self.timeout_seconds,
        )


def build_alerts_sensor(*, minimum_interval_seconds: int = 30) -> dg.SensorDefinition:
    @dg.sensor(
        name="ovc_alerts_sensor",
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def ovc_alerts_sensor(
        context: dg.SensorEvaluationContext, ovc_database: PostgresResource, alerts: AlertSettings
    ) -> dg.SkipReason:
        """Posts one short message per FAIL run, per WARN run whose parse-failure rate is over the
        threshold, and per silent spell of TradingView (no alert landed for N market windows),
        to `OVC_ALERT_WEBHOOK_URL`; undelivered messages are retried with backoff (ovc.alert_messages)."""
        url = alerts.url()
        if not url:
            return dg.SkipReason(f"{WEBHOOK_URL_ENV} is not set: alerts are off")
        policy = alerts.policy()
        now = datetime.now(UTC)
        with connect(ovc_database.dsn(), autocommit=True) as conn, httpx.Client() as client:
            queued = record_alerts(conn, find_alerts(conn, policy, now, FxCalendar()), now)
            delivery = deliver_due(conn, url, policy, now, client)
        summary = f"{len(queued)} alert(s) queued, {len(delivery.sent)} sent, {len(delivery.failed)} failed (retried later)"
        if delivery.failed:
            context.log.warning(SecretScrubber.from_environ().scrub(f"{summary}: {', '.join(delivery.failed)}"))
        return dg.SkipReason(summary)

    return ovc_alerts_sensor
