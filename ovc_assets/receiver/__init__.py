"""The webhook receiver (`ovc serve`) and the landing path every raw event takes.

`app` is the ASGI app, `intake` judges and redacts bodies, `landing` makes batches durable
(spool segment, `ovc.raw_events`, raw objects) and recovers, `spool` holds the segment
files, `batch` lands bodies from files (alert-log replay, the FULL cold path), `server`
bounds what HTTP clients may hold (header size and deadline, connections).
"""

from ovc_assets.receiver.batch import (
    LandingCounts,
    land_cold_full,
    replay_alert_log,
    replay_spool,
)

__all__ = ["LandingCounts", "land_cold_full", "replay_alert_log", "replay_spool"]
