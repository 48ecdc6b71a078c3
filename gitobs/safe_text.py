"""Names from a log or a bundle are data: shown with every control character made visible.

Branch names and paths can carry terminal escape sequences; rich markup in them is never interpreted
because output goes through rich `Text` objects (or plain writes), never through markup strings.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\udc80-\udcff]")


def inert(text: object) -> str:
    """`text` with C0/C1 controls and DEL as visible \\xNN escapes; so too the bytes of a file name that
    are not UTF-8 (Python keeps them as lone surrogates, which no terminal encoding can write)."""
    return _CONTROL.sub(_escape, str(text))


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code - 0xDC00 if code >= 0xDC00 else code:02x}"
