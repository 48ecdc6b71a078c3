"""SIGINT and SIGTERM held from the first instruction of `gitobs watch`, while the command line loads.

Loading it (typer, rich, the watch command's modules and pygit2) takes a good part of a second on a busy
machine.
A signal in that time would kill the process (SIGTERM: status 143) or end it with a KeyboardInterrupt
traceback (SIGINT), before `watch` installs the handlers that stop it cleanly. So the entries call `hold`
before anything else, and the watch loop, once its own handlers are in place, takes a held signal as one
that came just then: it stops before its first tick, says so, and exits 0. What is left is the interpreter's
own start, before any gitobs code runs: a SIGTERM then ends the process silently with status 143.

Standard library only: this is imported before everything else.
"""

from __future__ import annotations

import signal

HELD = (signal.SIGINT, signal.SIGTERM)
_held: list[int] = []  # the signals that came, in order


def hold(argv: list[str]) -> None:
    """For `gitobs watch` (argv without the program's name), note SIGINT and SIGTERM instead of dying of
    them; other commands keep Python's behaviour, which their own error handling expects."""
    if argv[:1] != ["watch"]:
        return
    for sig in HELD:
        signal.signal(sig, _note)


def _note(signum: int, frame: object) -> None:
    _held.append(signum)


def came() -> bool:
    """Whether a signal was held. Ask after installing the handler that replaces `hold`'s, so that none
    falls between the two."""
    return bool(_held)
