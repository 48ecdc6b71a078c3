"""An example gitobs analyzer: how big commits are (lines added + deleted), per branch.

Install it next to gitobs (`pip install ./docs/example-plugin`) and `gitobs report` gains a
"Commit sizes" section; `gitobs report --only commit_size` shows it alone.
"""

from __future__ import annotations

from collections import defaultdict

from gitobs.plugin import Analyzer, Fact, Facts, Table, hookimpl, percentile

SMALL, LARGE = 20, 400  # lines: below SMALL a commit is small, from LARGE on it is large


class CommitSize(Analyzer):
    name = "commit_size"
    title = "Commit sizes"
    consumes = ("commit.created",)

    def __init__(self, context) -> None:
        super().__init__(context)
        self.sizes: dict[str, list[int]] = defaultdict(list)  # branch -> lines per commit

    def feed(self, events) -> None:
        sizes = self.sizes
        for event in events:
            data = event.data
            if data.merge:  # a merge's diff is someone else's work
                continue
            sizes[data.branch or "(detached)"].append(data.added + data.deleted)

    def result(self) -> list:
        everything = [size for sizes in self.sizes.values() for size in sizes]
        summary = Facts(id="summary", items=[
            Fact("commits", len(everything)),
            Fact("median size", percentile(everything, 50), "lines"),
            Fact("small commits", sum(size < SMALL for size in everything)),
            Fact("large commits", sum(size >= LARGE for size in everything)),
        ])
        rows = [[branch, len(sizes), percentile(sizes, 50), max(sizes)]
                for branch, sizes in sorted(self.sizes.items())]
        by_branch = Table(id="by_branch", title="By branch", columns=["branch", "commits", "median", "largest"],
                          rows=rows)
        return [summary, by_branch]


@hookimpl
def gitobs_analyzers() -> list[type[Analyzer]]:
    return [CommitSize]
