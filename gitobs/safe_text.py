"""Names from a log or a bundle are data: shown with every control character made visible.

Branch names and paths can carry terminal escape sequences; rich markup in them is never interpreted
because output goes through rich `Text` objects (or plain writes), never through markup strings.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def inert(text: object) -> str:
    """`text` with C0/C1 controls and DEL as visible \\xNN escapes."""
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", str(text))
