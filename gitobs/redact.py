"""Salted hashes for names that must not be stored or shared in clear, keeping what analysis needs: the
same name always gives the same token (with the same salt), a path keeps its depth and its file's
extension, so heatmaps by directory and by file type still work. What a hash cannot hide: how many files
and directories there are, their depth, extensions, and how often each is touched; a guessed name can be
checked by anyone who has the salt (it stays in `.git/obs/salt`, never in a bundle or the log).
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

SALT_FILE = "salt"
TOKEN_HEX = 10  # 40 bits a component: collisions are rare at the sizes of real trees


def repository_salt(obs_root: Path) -> bytes:
    """This repository's salt, made on first use (random, readable by the user alone)."""
    path = obs_root / SALT_FILE
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    salt = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, salt)
    except BaseException:
        os.close(fd)
        raise
    os.close(fd)
    return salt


def token(text: str, salt: bytes) -> str:
    digest = hashlib.blake2b(text.encode("utf-8", "surrogateescape"), key=salt[:64], digest_size=TOKEN_HEX // 2)
    return digest.hexdigest()


def hash_path(path: str, salt: bytes) -> str:
    """`src/api/Handler.py` -> `9f2c..e1/41d0..77/c3a9..0b.py`: each directory hashed with all above it
    (so `api` under `src` and under `lib` differ, while one directory's files still share its token), the
    file's extension kept."""
    parts = path.split("/")
    tokens = [token("/".join(parts[: depth + 1]), salt) for depth in range(len(parts))]
    stem, dot, extension = parts[-1].rpartition(".")
    kept = f".{extension.lower()}" if dot and stem and len(extension) <= 10 and extension.isalnum() else ""
    return "/".join(tokens) + kept
