"""A seeded git history for `git fast-import`: a team's repository, years of commits.

Many files across nested directories, files added, edited (hunks of varying size), deleted and moved,
a few binary files, feature branches merged back with --no-ff (some merges resolving a file both sides
touched), and a few branches left unmerged. Several authors (the first, dev@example.invalid, makes most
commits); now and then a sweep: a whole directory renamed, or one edit across hundreds of files (beyond
the 500 files a live commit event keeps). The same commits, seed and generator give the same history.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

WORDS = ("alpha beta gamma delta parse render cache index value count item node tree path load save "
         "config result error token buffer stream queue worker event handle state".split())
TOP_DIRS = ("src", "lib", "tests", "docs", "tools", "web", "api", "core")
EXTENSIONS = (".py", ".py", ".py", ".js", ".ts", ".md", ".toml", ".c", ".h", ".go")
START = 1_600_000_000
AUTHORS = (b"Dev <dev@example.invalid>",) * 6 + (b"Ana <ana@example.invalid>", b"Bo <bo@example.invalid>",
                                                  b"Cy <cy@example.invalid>")
SWEEP_FILES = 640


class _History:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.mark = 0
        self.now = START
        self.dirs = self._directories()
        self.serial = 0

    def _directories(self) -> list[str]:
        dirs = []
        for top in TOP_DIRS:
            dirs.append(top)
            for sub in range(self.rng.randint(2, 6)):
                middle = f"{top}/{self.rng.choice(WORDS)}{sub}"
                dirs.append(middle)
                dirs.extend(f"{middle}/{self.rng.choice(WORDS)}{leaf}" for leaf in range(self.rng.randint(0, 3)))
        return dirs

    def new_path(self) -> str:
        self.serial += 1
        return f"{self.rng.choice(self.dirs)}/{self.rng.choice(WORDS)}_{self.serial}{self.rng.choice(EXTENSIONS)}"

    def line(self) -> str:
        return " ".join(self.rng.choice(WORDS) for _ in range(self.rng.randint(2, 9))) + "\n"

    def new_file(self) -> list[str]:
        size = int(self.rng.lognormvariate(3.5, 1.0)) + 1  # mostly tens of lines, a few thousands
        return [self.line() for _ in range(min(size, 4000))]

    def edit(self, lines: list[str]) -> list[str]:
        """A few hunks: lines replaced, inserted or deleted."""
        lines = list(lines)
        for _ in range(self.rng.choice((1, 1, 1, 2, 2, 3, 5))):
            at = self.rng.randint(0, len(lines))
            size = min(int(self.rng.expovariate(0.2)) + 1, 200)
            kind = self.rng.random()
            if kind < 0.45:
                lines[at:at + size] = [self.line() for _ in range(size)]
            elif kind < 0.8:
                lines[at:at] = [self.line() for _ in range(size)]
            else:
                del lines[at:at + size]
        return lines or [self.line()]

    def tick(self) -> int:
        self.now += int(self.rng.expovariate(1 / 5400)) + 30  # ~1.5 h apart, some nights and weekends
        return self.now

    def next_mark(self) -> int:
        self.mark += 1
        return self.mark


def _blob(path: str, data: bytes) -> bytes:
    return b"M 100644 inline %s\ndata %d\n%s\n" % (path.encode(), len(data), data)


def _commit(history: _History, ref: str, parents: list[int], changes: list[bytes], title: str) -> tuple[int, bytes]:
    mark = history.next_mark()
    stamp = history.tick()
    message = f"{title}\n".encode()
    person = b"%s %d +0000\n" % (history.rng.choice(AUTHORS), stamp)
    head = [b"commit %s\nmark :%d\n" % (ref.encode(), mark), b"author " + person, b"committer " + person,
            b"data %d\n%s" % (len(message), message)]
    if parents:
        head.append(b"from :%d\n" % parents[0])
        head.extend(b"merge :%d\n" % parent for parent in parents[1:])
    return mark, b"".join(head) + b"".join(changes) + b"\n"


def _changes(history: _History, tree: dict[str, list[str]], touched: set[str]) -> list[bytes]:
    """One commit's edits to `tree` (in place); the paths written go into `touched`."""
    rng, out = history.rng, []
    if rng.random() < 0.003 and len(tree) > 50:
        return _sweep(history, tree, touched)
    count = min(int(rng.paretovariate(1.3)), 120)
    for _ in range(count):
        roll = rng.random()
        if roll < 0.12 or len(tree) < 20:
            path = history.new_path()
            tree[path] = history.new_file()
        elif roll < 0.14:
            path = rng.choice(list(tree))
            del tree[path]
            touched.add(path)
            out.append(b"D %s\n" % path.encode())
            continue
        elif roll < 0.15:  # a move: delete plus add under another name (--no-renames counts it so)
            old = rng.choice(list(tree))
            path = history.new_path()
            tree[path] = tree.pop(old)
            touched.add(old)
            out.append(b"D %s\n" % old.encode())
        else:
            path = rng.choice(list(tree))
            tree[path] = history.edit(tree[path])
        touched.add(path)
        out.append(_blob(path, "".join(tree[path]).encode()))
    if rng.random() < 0.005:
        path = history.new_path().rsplit(".", 1)[0] + ".bin"
        out.append(_blob(path, bytes(rng.randrange(256) for _ in range(rng.randint(64, 4096))) + b"\0"))
    return out


def _sweep(history: _History, tree: dict[str, list[str]], touched: set[str]) -> list[bytes]:
    """A directory renamed whole (git shows `dir/{old => new}/file`), or one line added to many files."""
    rng, out = history.rng, []
    if rng.random() < 0.5:
        folder = rng.choice(sorted({path.rsplit("/", 1)[0] for path in tree}))
        renamed = f"{folder}_{history.next_mark()}"
        for path in sorted(p for p in tree if p.rsplit("/", 1)[0] == folder):
            new = f"{renamed}/{path.rsplit('/', 1)[1]}"
            tree[new] = tree.pop(path)
            touched.update((path, new))
            out.append(b"D %s\n" % path.encode())
            out.append(_blob(new, "".join(tree[new]).encode()))
        return out
    for path in rng.sample(sorted(tree), min(SWEEP_FILES, len(tree))):
        tree[path] = [*tree[path], "# swept\n"]
        touched.add(path)
        out.append(_blob(path, "".join(tree[path]).encode()))
    return out


def stream(commits: int, seed: int) -> Iterator[bytes]:
    """The fast-import stream of `commits` commits (merges included) on main and feature branches."""
    history = _History(seed)
    rng = history.rng
    tree: dict[str, list[str]] = {}
    initial = [_blob(path, "".join(tree.setdefault(path, history.new_file())).encode())
               for path in (history.new_path() for _ in range(300))]
    main_mark, chunk = _commit(history, "refs/heads/main", [], initial, "initial import")
    yield chunk
    made, feature_number = 1, 0
    while made < commits:
        if rng.random() < 0.04 and commits - made > 12:  # a feature branch, merged back with --no-ff
            feature_number += 1
            ref = f"refs/heads/feature/{feature_number}"
            branch_tree, touched, tip = {path: lines for path, lines in tree.items()}, set(), main_mark
            for _ in range(rng.randint(2, 9)):
                tip, chunk = _commit(history, ref, [tip], _changes(history, branch_tree, touched),
                                     f"feature {feature_number} work")
                yield chunk
                made += 1
                if rng.random() < 0.3:  # main moves on meanwhile
                    main_mark, chunk = _commit(history, "refs/heads/main", [main_mark],
                                               _changes(history, tree, set()), "fix on main")
                    yield chunk
                    made += 1
            merged = []
            for path in sorted(touched):
                if path in branch_tree:
                    tree[path] = branch_tree[path]
                    merged.append(_blob(path, "".join(tree[path]).encode()))
                elif path in tree:
                    del tree[path]
                    merged.append(b"D %s\n" % path.encode())
            main_mark, chunk = _commit(history, "refs/heads/main", [main_mark, tip], merged,
                                       f"Merge branch 'feature/{feature_number}'")
            yield chunk
            made += 1
            if rng.random() < 0.8:
                yield b"reset %s\nfrom 0000000000000000000000000000000000000000\n\n" % ref.encode()  # deleted
        else:
            main_mark, chunk = _commit(history, "refs/heads/main", [main_mark], _changes(history, tree, set()),
                                       "change")
            yield chunk
            made += 1
    for number in range(3):  # unmerged work
        branch_tree, tip = dict(tree), main_mark
        for _ in range(rng.randint(1, 4)):
            tip, chunk = _commit(history, f"refs/heads/wip/{number}", [tip],
                                 _changes(history, branch_tree, set()), "work in progress")
            yield chunk
