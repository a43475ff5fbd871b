"""Operator alerts: `ovc_alerts_sensor` posts short messages to a webhook (see ovc_assets.ops.alerts)."""
