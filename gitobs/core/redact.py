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

from gitobs.core.repo import MAIN_WORKTREE

SALT_FILE = "salt"
EXPORT_SALT_FILE = "export-salt"
TOKEN_HEX = 10  # 40 bits a component: collisions are rare at the sizes of real trees


def repository_salt(obs_root: Path) -> bytes:
    """This repository's salt (`capture.paths = false`), made on first use."""
    return stored_salt(obs_root / SALT_FILE)


def export_salt(data_home: Path) -> bytes:
    """The exporters' salt, one for all of the user's repositories and kept in the data home: a name is the
    same token in every export and scrape, so a backend's series and traces stay continuous."""
    data_home.mkdir(parents=True, exist_ok=True)
    return stored_salt(data_home / EXPORT_SALT_FILE)


def stored_salt(path: Path) -> bytes:
    """The salt kept at `path`, made on first use (random, readable by the user alone)."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    salt = secrets.token_bytes(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # made by another process just now
        return path.read_bytes()
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
    return "/".join(tokens) + kept_extension(parts[-1])


def kept_extension(name: str) -> str:
    """The extension a hashed path keeps: ".py" for Handler.PY; "" for none, a dotfile or an odd one."""
    stem, dot, extension = name.rpartition(".")
    return f".{extension.lower()}" if dot and stem and len(extension) <= 10 and extension.isalnum() else ""


# -- events, for bundles ------------------------------------------------------------------------------------

NAME_FIELDS = frozenset({"branch", "from", "to", "merged", "remote"})  # branch, remote and lane names
PATH_FIELDS = frozenset({"hooks_dir"})
TEXT_FIELDS = frozenset({"message"})  # free text (a gitobs.error): dropped
REDACTED_TEXT = "(redacted)"


class Redactor:
    """Replaces the names an event holds with salted tokens: file paths (depth and extension kept),
    branch, lane and remote names, linked worktree names, ref names, GitButler trailer values, the hooks
    directory, and the event's id (made from names); free text is dropped. One salt for one bundle: a
    name is the same token everywhere in it, and in no other bundle."""

    def __init__(self, salt: bytes | None = None) -> None:
        self.salt = salt if salt is not None else secrets.token_bytes(32)

    def name(self, text: str) -> str:
        return "n" + token(text, self.salt)

    def worktree(self, wt: str) -> str:
        """A linked worktree's name as a token, the one its namesake branch gets; the main worktree, ".", stays."""
        return wt if wt == MAIN_WORKTREE else self.name(wt)

    def directory(self, prefix: str) -> str:
        """A directory as hash_path writes the directories of its files: `.` stays."""
        if prefix == ".":
            return prefix
        parts = prefix.split("/")
        return "/".join(token("/".join(parts[: depth + 1]), self.salt) for depth in range(len(parts)))

    def ref(self, ref: str) -> str:
        """refs/heads/feature -> refs/heads/n<token>; HEAD stays."""
        for prefix in ("refs/heads/", "refs/remotes/", "refs/tags/"):
            if ref.startswith(prefix):
                return prefix + self.name(ref[len(prefix):])
        return ref if ref == "HEAD" else self.name(ref)

    def event_id(self, event_id: str) -> str:
        """An event's id as a keyed hash of the same length: the log's id is an unkeyed hash of where the event
        came from (a reflog's ref and line, a worktree's name), so it would let anyone check a guessed name."""
        digest = hashlib.blake2b(event_id.encode("utf-8", "surrogateescape"), key=self.salt[:64],
                                 digest_size=min(64, max(1, len(event_id) // 2)))
        return digest.hexdigest()

    def event(self, event: dict) -> dict:
        if isinstance(event.get("id"), str):
            event["id"] = self.event_id(event["id"])
        if isinstance(event.get("wt"), str):
            event["wt"] = self.worktree(event["wt"])
        data = event.get("data")
        if isinstance(data, dict):
            event["data"] = self.payload(data)
        return event

    def payload(self, data: dict) -> dict:
        out = {}
        for key, value in data.items():
            if key in NAME_FIELDS and isinstance(value, str):
                value = self.name(value)
            elif key in PATH_FIELDS and isinstance(value, str):
                value = hash_path(value.strip("/"), self.salt)
            elif key in TEXT_FIELDS and isinstance(value, str):
                value = REDACTED_TEXT
            elif key == "files" and isinstance(value, list):
                value = [[hash_path(f[0], self.salt), *f[1:]] if isinstance(f, list) and f and isinstance(f[0], str)
                         else f for f in value]
            elif key == "renames" and isinstance(value, list):  # [old path, new path] pairs
                value = [[hash_path(p, self.salt) if isinstance(p, str) else p for p in pair]
                         if isinstance(pair, list) else pair for pair in value]
            elif key == "refs" and isinstance(value, list):
                value = [self.ref(ref) if isinstance(ref, str) else ref for ref in value]
            elif key == "ref" and isinstance(value, str):
                value = self.ref(value)
            elif key == "dirs" and isinstance(value, list):  # a rollup's directory prefixes
                value = [[self.directory(row[0]), *row[1:]] if isinstance(row, list) and row and isinstance(row[0], str)
                         else row for row in value]
            elif key == "by_branch" and isinstance(value, list):  # a rollup's [branch, counts] rows
                value = [[self.name(row[0]), *row[1:]] if isinstance(row, list) and row and isinstance(row[0], str)
                         else row for row in value]
            elif key == "trailers" and isinstance(value, dict):
                value = {name: self.name(text) if isinstance(text, str) else text for name, text in value.items()}
            out[key] = value
        return out


def repository_label(common_dir: Path, salt: bytes | None) -> str:
    """How exporters name a repository: its work tree's (or bare repository's) directory name, or with a
    salt a token of its whole path, so two clones of one project stay apart and neither name is shown."""
    place = common_dir.parent if common_dir.name == ".git" else common_dir
    if salt is None:
        return place.name
    return "r" + token(os.fsdecode(place.resolve()), salt)
