"""A file's history under one name: the newest path git's rename detection leads to.

`gitobs import` walks children before parents, so a rename is met before the older commits that still use
the old path. `Follower` keeps old path -> newest path for what it has met, and names each commit's files
by their newest path; a path created again after its file moved away starts a file of its own (the map
forgets it at the commit that renamed it away, as seen walking back).
"""

from __future__ import annotations

from gitobs.log.schema import FileChange


class Follower:
    def __init__(self) -> None:
        self.newest: dict[str, str] = {}  # a path older commits use -> the path the file has now

    def name(self, files: list[FileChange], renames: list[tuple[str, str]]) -> list[FileChange]:
        """`files` (named as the commit left them) under their newest paths; then the commit's renames
        apply to the older commits still to come."""
        newest = self.newest
        if newest:
            files = [FileChange(newest.get(f.path, f.path), f.added, f.deleted) if f.path in newest else f
                     for f in files]
        if renames:
            targets = [(old, newest.get(new, new)) for old, new in renames]  # all from the map before this commit
            for _, new in renames:
                newest.pop(new, None)  # before this commit, a file of that name was another file
            for old, target in targets:
                if old != target:
                    newest[old] = target
        return files
