"""`ovc report`: the run-report commands of `cli/runs.py` and `daily` (`cli/report_daily.py`) in one group."""

from ovc_assets.cli.report_daily import report_daily_command
from ovc_assets.cli.runs import report_app

report_app.command("daily")(report_daily_command)
