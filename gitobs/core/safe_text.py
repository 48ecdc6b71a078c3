"""Names from a log or a bundle are data: shown with every control character made visible.

Branch names and paths can carry terminal escape sequences, and bidirectional controls that make a name
read as another (`rtl<U+202E>gnp.exe` shows as `rtlexe.png`); rich markup in them is never interpreted
because output goes through rich `Text` objects (or plain writes), never through markup strings.
"""

from __future__ import annotations

import re

# C0/C1 controls and DEL; lone surrogates (the odd bytes of a name not in UTF-8, and any a bundle's JSON
# writes as \\udXXX); the marks and embeddings that reorder text (ALM, LRM, RLM, LRE..RLO, LRI..PDI); line and
# paragraph separators, which end a line; the characters that show as nothing, so that `ma<U+200B>in` cannot
# pass for `main` (soft hyphen, zero-width space, word joiner and invisible operators, the byte-order mark).
# The joiners (U+200C, U+200D) stay: scripts and emoji need them.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\xad\ud800-\udfff\u061c\u200b\u200e\u200f\u2028-\u202e"
                      r"\u2060-\u2064\u2066-\u2069\ufeff]")


def inert(text: object) -> str:
    """`text` with C0/C1 controls and DEL as visible \\xNN escapes; so too the bytes of a file name that
    are not UTF-8 (Python keeps them as lone surrogates, which no terminal encoding can write), and every
    other lone surrogate as \\uNNNN. Bidi controls, line separators and invisible characters become \\uNNNN
    (the soft hyphen \\xad)."""
    text = str(text)
    if text.isprintable():  # all of those are unprintable: most names skip the regex
        return text
    return _CONTROL.sub(_escape, text)


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
