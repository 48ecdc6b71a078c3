"""The `gitobs` command line's entry: signals held first, `--version` answered before anything is imported,
then the lazy typer app (gitobs/cli/app.py). Every error is one `gitobs: error:` line on stderr: usage errors
and gitobs's own exit with 2."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from gitobs.core.early_signals import hold


def main() -> None:
    argv = sys.argv[1:]
    hold(argv)  # before the app's imports: half a second in which a signal would kill `watch`
    if argv in (["--version"], ["-V"]):
        version()
        return
    sys.exit(run(argv))


def version() -> None:
    """Print the gitobs version."""
    from gitobs import __version__

    sys.stdout.write(f"gitobs {__version__}\n")


def background_git_dir(argv: list[str]) -> Path | None:
    """The common git dir when `argv` is exactly what the hooks' shim runs, else None (the full command line)."""
    if len(argv) == 4 and argv[0] == "scan" and argv[1] == "--background" and argv[2] == "--git-dir":
        return Path(argv[3])
    return None


def run(argv: list[str]) -> int:
    from gitobs.cli.app import root, suggestion
    from gitobs.core.repo import GitobsError

    try:
        status = root().main(args=argv, prog_name="gitobs", standalone_mode=False)
    except GitobsError as exc:
        return error(str(exc))
    except OSError as exc:
        if os.environ.get("GITOBS_DEBUG"):
            raise
        return error(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # typer's click: its exceptions are not a public class across versions
        found = _click_error(exc)
        if found is None:
            raise
        message, status = found
        if not message:  # no command given: the help is already out
            return status
        return error(message + suggestion(message), status)
    return status if isinstance(status, int) else 0


def error(message: str, status: int = 2) -> int:
    from rich.text import Text

    from gitobs.cli.commands import err_console
    from gitobs.core.safe_text import inert

    # One line, whatever it names: a bundle's file name or a directory may hold newlines and terminal escapes.
    err_console.print(Text(inert(f"gitobs: error: {message}")))
    return status


def _click_error(exc: Exception) -> tuple[str, int] | None:
    """The message and exit status of one of click's exceptions: a usage error (2), another ClickException,
    or Abort (1); None for anything else."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    if "Abort" in names:
        return "aborted", 1
    if "ClickException" in names and hasattr(exc, "format_message"):
        return " ".join(exc.format_message().split()), exc.exit_code
    return None
