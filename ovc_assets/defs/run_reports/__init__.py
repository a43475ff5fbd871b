"""Run reports: one immutable report per OVC run (seed 002), written by sensors as runs end
(or die) and shown in the UI as the daily-partitioned `ovc_run_reports` asset.

`run_report_definitions` is what the code location registers:
`dg.Definitions(assets=[...], sensors=[...])` take the asset and the sensors from it, or
`dg.Definitions.merge(..., dg.Definitions(assets=..., sensors=...))`.
"""

from ovc_assets.defs.run_reports.assets import ovc_run_reports, run_report_partitions
from ovc_assets.defs.run_reports.sensors import (
    build_run_report_sensors,
    ovc_missing_run_report_sensor,
    ovc_run_report_canceled_sensor,
    ovc_run_report_failure_sensor,
    ovc_run_report_success_sensor,
)

run_report_assets = [ovc_run_reports]
run_report_sensors = [
    ovc_run_report_success_sensor,
    ovc_run_report_failure_sensor,
    ovc_run_report_canceled_sensor,
    ovc_missing_run_report_sensor,
]
run_report_definitions = [*run_report_assets, *run_report_sensors]

__all__ = [
    "build_run_report_sensors",
    "ovc_missing_run_report_sensor",
    "ovc_run_report_canceled_sensor",
    "ovc_run_report_failure_sensor",
    "ovc_run_report_success_sensor",
    "ovc_run_reports",
    "run_report_assets",
    "run_report_definitions",
    "run_report_partitions",
    "run_report_sensors",
]
