"""File names that are not UTF-8. Python keeps their odd bytes as lone surrogates (os.fsdecode), which no
JSON writer takes; gitobs records such a byte as the text `\\xe9` instead: readable, and two names that
differ only there stay apart. Branch, ref, remote and worktree names follow the same rule (git allows no
backslash in a ref name, so there `\\xe9` can only be a byte). `on_disk` turns a recorded name back, for the
few checks that look at it."""

from __future__ import annotations

import os
import re

_ESCAPED_BYTE = re.compile(rb"\\x([0-9a-f]{2})")


def recorded(name: str) -> str:
    if name.isascii():
        return name
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        pass
    try:
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate no file system gives: written as `\ud800`
        return name.encode("utf-8", "backslashreplace").decode("utf-8")


def decoded(raw: bytes) -> str:
    """Bytes read from a file (a spool record, a reflog line) as text by the same rule as `recorded`."""
    return raw.decode("utf-8", "backslashreplace")


def on_disk(name: str) -> str:
    if "\\x" not in name:
        return name
    return os.fsdecode(_ESCAPED_BYTE.sub(lambda match: bytes([int(match[1], 16)]), name.encode("utf-8")))
