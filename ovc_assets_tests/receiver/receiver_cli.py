"""A local `ovc` with the receiver's commands registered the way cli/app.py registers them.

Run as a script by the real-process tests (`python receiver_cli.py serve --port N`), and
used in-process with Typer's runner.
"""

from __future__ import annotations

import typer

from ovc_assets.cli.replay import replay_app
from ovc_assets.cli.serve import serve_command

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False)
app.command("serve")(serve_command)
app.add_typer(replay_app, name="replay")

if __name__ == "__main__":
    app()
