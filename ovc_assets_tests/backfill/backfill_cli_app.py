"""The `ovc` app with the backfill commands registered, as `cli/app.py` registers them
(`app.add_typer(backfill_app, name="backfill")`); run as a module for subprocess tests."""

from ovc_assets.cli.app import app, main
from ovc_assets.cli.backfill import backfill_app

if not any(group.name == "backfill" for group in app.registered_groups):
    app.add_typer(backfill_app, name="backfill")

if __name__ == "__main__":
    main()
