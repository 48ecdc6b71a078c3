"""The `gitobs` command line's entry: signals held first, then the typer app (gitobs/app.py), whose errors
become one line."""

from __future__ import annotations

import os
import sys

from gitobs.early_signals import hold


def main() -> None:
    hold(sys.argv[1:])  # before the app's imports: half a second in which a signal would kill `watch`
    from rich.text import Text

    from gitobs.app import app
    from gitobs.commands import err_console
    from gitobs.repo import GitobsError

    try:
        app()
    except GitobsError as exc:
        err_console.print(Text(f"gitobs: error: {exc}"))
        sys.exit(2)
    except OSError as exc:
        if os.environ.get("GITOBS_DEBUG"):
            raise
        err_console.print(Text(f"gitobs: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")))
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
