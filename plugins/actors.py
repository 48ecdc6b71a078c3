"""Actors: who drives git in this repository (the terminal, an editor or IDE, an AI agent, GitButler, CI, a
script) and what each does differently, from the `actor` trace2 gives each `git.command`.

Commits, amends, undos and discards come from the reflog and the hooks, which do not know who ran git; each
is given the actor of the git command that made it, by this rule (deterministic, whatever the batches):

- an act pairs with a command of its kind (ACTS: a commit with `commit`, `merge`, `cherry-pick`, ...; a
  discard with `checkout`/`restore` of paths or a hard `reset`) that succeeded, was not nested, and whose
  time span [start - SLACK_S, start + duration + SLACK_S] holds the act's time. A reflog line's time is
  its whole second, hence the slack; a span is never taken longer than MAX_SPAN_S.
- of several such commands, the earliest in the log that has not made an act of that type yet: a command
  makes one commit, one amend, one undo, one discard, except those in MANY (an `am` of five patches, a
  rebase, a pull, a cherry-pick of a range), which may hold any number. Several commits in one second are
  so matched one to one, in order, whatever their whole-second times say.
- an act no command holds (trace2 was off, or the command's record is lost) counts under UNKNOWN.
- imported history (`src: import`, gitobs import) is no one's live act: it is left out, as if not in the log.

A command's event has its start's time, so it comes before its acts in the log (within one scan events are
written in time order, docs/events.md; a reflog line's whole second may come first, by less than SLACK_S):
an act waits for a command until the stream has passed its time by WAIT_S, or the report's end; a command
waits for acts until the stream has passed its span. An act written in a later scan than its command's
stays unpaired. Sessions are an actor's commands with
less than `actors.idle_gap` (30 minutes) between them. A commit is "reworked by a human" when a later amend
or undo paired with the terminal or the IDE, within REWORK_WINDOW_S (7 days), takes it off its branch, and it
was not made by them. Bounded: commits are remembered for that week (plus a day), and past MAX_WAITING acts
waiting at once (a burst of thousands within WAIT_S) the oldest half is counted with what it paired with so far.

Two parts of the log merge exactly when more than `horizon()` apart (docs/plugins.md): pairings and sessions
do not reach across such a gap; a rework can, so each instance keeps the reworks it could not place within
REWORK_WINDOW_S of its first event (`misses`), and merge looks them up in the earlier part's commits.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from gitobs.plugin import (
    IMPORTED,
    Analyzer,
    AnyBlock,
    Cell,
    Context,
    Note,
    Table,
    add_counts,
    add_rows,
    hookimpl,
    rounded,
)

SLACK_S = 2.0  # a reflog time is a whole second; a hook's record is taken a moment after git's start
MAX_SPAN_S = 3600.0
WAIT_S = 2 * SLACK_S  # an act waits this long after its time for a command that holds it
UNKNOWN = "(unpaired)"
HUMANS = ("terminal", "ide")
REWORK_WINDOW_S = 7 * 86400  # a human's amend or undo this long after a commit still reworks it
FORGET_EVERY_S = 86400  # commits older than REWORK_WINDOW_S are forgotten once a day of the stream
MAX_WAITING = 4096  # acts waiting for a command: past this many (a burst within WAIT_S), the oldest are counted
COLUMNS = ("commands", "failures", "commits", "amends", "undos", "discards", "no_verify")
COMMANDS, FAILURES, COMMITS, AMENDS, UNDOS, DISCARDS, NO_VERIFY = range(len(COLUMNS))

# The act a payload records -> (its column, the commands (and modes: "" for any) that make it)
ACTS = {
    "commit.created": (COMMITS, {"commit": "", "merge": "", "cherry-pick": "", "revert": "", "am": "", "pull": "",
                                 "rebase": "", "stash": ""}),
    "commit.amended": (AMENDS, {"commit": "", "rebase": ""}),
    "commit.undone": (UNDOS, {"reset": ""}),
    "edit.discarded": (DISCARDS, {"checkout": "path", "restore": "", "reset": "hard", "stash": ""}),
}
NAMED = {"commit.created": "sha", "commit.amended": "old", "commit.undone": "sha"}  # the field naming the commit
MAKERS = frozenset(command for _, makers in ACTS.values() for command in makers)
MANY = frozenset(("am", "rebase", "pull", "cherry-pick", "revert"))  # commands that may make many commits


class Act(msgspec.Struct, array_like=True):
    """An act waiting for its command: its type, time, the commit it names and the best command so far."""

    type: str
    t: float
    sha: str = ""  # commit.created: the new commit; amended: the old one; undone: the tip taken off
    actor: str = ""


class Command(msgspec.Struct, array_like=True):
    """A command still able to hold a later act."""

    command: str
    mode: str
    start: float
    end: float
    actor: str
    used: list[str] = []  # the act types it has made (a command of MANY is never marked)


class ActorsState(msgspec.Struct, array_like=True):
    counts: dict[str, list[int]]
    sessions: dict[str, int]
    last_seen: dict[str, float]
    made_by: list[tuple[str, str, float]]
    reworked: dict[str, int]
    waiting: list[Act]
    recent: list[Command]
    clock: float
    first: float
    misses: list[tuple[str, float]]


class ActorsAnalyzer(Analyzer):
    name = "actors"
    title = "Who drives git"
    consumes = ("git.command", *ACTS)
    fields = {"git.command": ("command", "mode", "exit", "duration_s", "no_verify", "actor", "weight", "nested"),
              "commit.created": ("sha",), "commit.amended": ("old",), "commit.undone": ("sha",),
              "edit.discarded": (), "*": ("src",)}
    order = 74
    state_version = 5  # 5: imported history left out
    result_uses_now = False  # its sections are kept with its state
    state_type = ActorsState
    imported_in_any_order = True  # imported history is left out

    def __init__(self, context: Context) -> None:
        super().__init__(context)
        self.idle_gap = context.duration(self.name, "idle_gap", 30 * 60.0)
        self.counts: dict[str, list[int]] = {}
        self.sessions: dict[str, int] = {}
        self.last_seen: dict[str, float] = {}
        # sha -> (actor, time), for commits not made by a human in the last REWORK_WINDOW_S
        self.made_by: dict[str, tuple[str, float]] = {}
        self.reworked: dict[str, int] = {}  # actor -> its commits amended or undone by a human later
        self.waiting: list[Act] = []
        self.recent: list[Command] = []
        self.clock = float("-inf")  # the latest time the stream has shown
        self.first = float("inf")  # the first time it was shown
        # a human's rework of a commit this instance never saw, within REWORK_WINDOW_S of its first event: an
        # earlier part's commit, for merge
        self.misses: list[tuple[str, float]] = []
        self.forget_at = float("-inf")  # when the commits too old to be reworked are forgotten next

    def _row(self, actor: str) -> list[int]:
        row = self.counts.get(actor)
        if row is None:
            row = self.counts[actor] = [0] * len(COLUMNS)
        return row

    def horizon(self) -> float:
        # a command holds acts up to MAX_SPAN_S + SLACK_S after its start, an act waits WAIT_S; a session
        # ends after idle_gap
        return max(MAX_SPAN_S + SLACK_S + WAIT_S, self.idle_gap)

    def merge(self, later: ActorsAnalyzer) -> None:
        # Every event of `later` is more than the horizon after this one's: the acts waiting here are counted
        # (as one instance would on later's first event), later's misses looked up in this one's commits.
        self._settle(float("inf"))
        add_rows(self.counts, later.counts)
        add_counts(self.sessions, later.sessions)
        add_counts(self.reworked, later.reworked)
        self.last_seen.update(later.last_seen)
        for sha, t in later.misses:
            rework(self.made_by.pop(sha, None), t, self.reworked)
        self.made_by.update(later.made_by)
        self.misses += [(sha, t) for sha, t in later.misses if t <= self.first + REWORK_WINDOW_S]
        self.waiting, self.recent, self.clock = later.waiting, later.recent, max(self.clock, later.clock)
        self.first = min(self.first, later.first)

    def feed(self, events: Sequence) -> None:
        for event in events:
            if event.src == IMPORTED:  # before its time is seen: an import's old times open no window
                continue
            t = event.t
            if t < self.first:
                self.first = t
            if t > self.clock:
                self.clock = t
                if (self.waiting and self.waiting[0].t < t - WAIT_S) or (self.recent and self.recent[0].end < t - SLACK_S):
                    self._settle(t)
            if event.type == "git.command":
                self._command(event.data, t)
            else:
                self._act(event.type, event.data, t)

    def _command(self, data, t: float) -> None:
        if data.nested:
            return
        actor, weight = data.actor, data.weight
        row = self.counts.get(actor) or self._row(actor)
        row[COMMANDS] += weight
        if data.exit:
            row[FAILURES] += weight
        if data.no_verify:
            row[NO_VERIFY] += 1
        last = self.last_seen.get(actor)
        if last is None or t - last > self.idle_gap:
            self.sessions[actor] = self.sessions.get(actor, 0) + 1
        if last is None or t > last:
            self.last_seen[actor] = t
        if data.command in MAKERS and not data.exit:
            held = Command(data.command, data.mode, t, t + min(data.duration_s, MAX_SPAN_S), actor)
            self.recent.append(held)
            for act in self.waiting:
                self._offer(act, held)

    def _act(self, kind: str, data, t: float) -> None:
        named = NAMED.get(kind)
        act = Act(kind, t, (getattr(data, named) or "") if named else "")
        for held in self.recent:
            self._offer(act, held)
        self.waiting.append(act)
        if len(self.waiting) > MAX_WAITING:  # bounded: the oldest half counted as they are paired now
            due, self.waiting = self.waiting[:MAX_WAITING // 2], self.waiting[MAX_WAITING // 2:]
            for act in due:
                self._count(act)

    @staticmethod
    def _offer(act: Act, held: Command) -> None:
        if act.actor or act.type in held.used:
            return
        wanted = ACTS[act.type][1].get(held.command)
        if wanted is None or (wanted and wanted != held.mode):
            return
        if not held.start - SLACK_S <= act.t <= held.end + SLACK_S:
            return
        act.actor = held.actor
        if held.command not in MANY:
            held.used.append(act.type)

    def _settle(self, now: float) -> None:
        """Count the acts no later command can hold any more, and forget commands no later act can pair with."""
        if self.waiting and self.waiting[0].t < now - WAIT_S:
            if len(self.waiting) == 1:  # the usual case: one act, and it is due
                due, self.waiting = self.waiting, []
            else:
                due = [act for act in self.waiting if act.t < now - WAIT_S]
                self.waiting = [act for act in self.waiting if act.t >= now - WAIT_S]
            for act in due:
                self._count(act)
        if self.recent and self.recent[0].end < now - SLACK_S:
            self.recent = [held for held in self.recent if held.end >= now - SLACK_S]

    def _count(self, act: Act) -> None:
        count(act, self.counts, self.made_by, self.reworked,
              self.misses if act.t <= self.first + REWORK_WINDOW_S else None)
        if act.t >= self.forget_at:
            self.forget_at = act.t + FORGET_EVERY_S
            forget(self.made_by, act.t - REWORK_WINDOW_S)

    def save_state(self) -> ActorsState:
        return ActorsState(counts={actor: list(row) for actor, row in self.counts.items()},
                           sessions=dict(self.sessions), last_seen=dict(self.last_seen),
                           made_by=[(sha, actor, t) for sha, (actor, t) in self.made_by.items()],
                           reworked=dict(self.reworked), first=self.first, misses=list(self.misses),
                           waiting=[msgspec.structs.replace(act) for act in self.waiting],
                           recent=[msgspec.structs.replace(held, used=list(held.used)) for held in self.recent],
                           clock=self.clock)

    def load_state(self, state: ActorsState) -> None:
        self.counts, self.sessions, self.last_seen = state.counts, state.sessions, state.last_seen
        self.made_by = {sha: (actor, t) for sha, actor, t in state.made_by}
        self.reworked, self.waiting, self.recent, self.clock = state.reworked, state.waiting, state.recent, state.clock
        self.first, self.misses = state.first, state.misses

    def result(self) -> list[AnyBlock]:
        # The log's end: nothing later can pair with the waiting acts. Counted on copies: the kept state
        # leaves them open for the events a later report feeds.
        counts = {actor: list(row) for actor, row in self.counts.items()}
        made_by, reworked = dict(self.made_by), dict(self.reworked)
        for act in self.waiting:
            count(act, counts, made_by, reworked, None)
        if not any(row[COMMANDS] for row in counts.values()):
            return [Note(id="no_actors", text=(
                "No git commands were recorded (no git.command events), so who ran git is not known. gitobs "
                "reads it from git's own trace2 telemetry once it is turned on: gitobs trace2 enable."))]
        ranked = sorted(counts.items(), key=lambda item: (-item[1][COMMANDS], item[0]))
        return [_counts(ranked), _shares(ranked), self._differences(ranked, reworked)]

    def _differences(self, ranked: list[tuple[str, list[int]]], reworked_by: dict[str, int]) -> Table:
        rows: list[list[Cell]] = []
        for actor, row in ranked:
            sessions = self.sessions.get(actor, 0)
            commits = row[COMMITS]
            reworked = reworked_by.get(actor, 0) if actor not in HUMANS else None
            rows.append([actor, sessions, rounded(commits / sessions, 2) if sessions else None,
                         _share(row[FAILURES], row[COMMANDS]), reworked,
                         _share(reworked, commits) if reworked is not None else None])
        return Table(id="habits", title="What each actor does differently", columns=[
            "actor", "sessions", "commits_per_session", "failed_pct", "reworked_by_human", "reworked_pct"],
            rows=rows, total_rows=len(rows))


def count(act: Act, counts: dict[str, list[int]], made_by: dict[str, tuple[str, float]], reworked: dict[str, int],
          misses: list[tuple[str, float]] | None) -> None:
    """An act settled: counted for its actor; a commit not made by a human remembered, a human's rework of
    one within REWORK_WINDOW_S counted for its maker (one not found goes to `misses`, when given)."""
    actor = act.actor or UNKNOWN
    row = counts.get(actor)
    if row is None:
        row = counts[actor] = [0] * len(COLUMNS)
    row[ACTS[act.type][0]] += 1
    if act.type == "commit.created":
        if actor not in HUMANS and act.sha:
            made_by[act.sha] = (actor, act.t)
    elif act.sha and actor in HUMANS:
        made = made_by.pop(act.sha, None)
        if made is None and misses is not None:
            misses.append((act.sha, act.t))
        rework(made, act.t, reworked)


def forget(made_by: dict[str, tuple[str, float]], before: float) -> None:
    """Forget the commits made before `before`, from the oldest on (they are remembered nearly in time order):
    a rework checks the age anyway, so this changes nothing counted, and keeps a week of commits."""
    old = []
    for sha, (_, t) in made_by.items():
        if t >= before:
            break
        old.append(sha)
    for sha in old:
        del made_by[sha]


def rework(made: tuple[str, float] | None, t: float, reworked: dict[str, int]) -> None:
    """A human's amend or undo at `t` of a commit made as `made` (actor, time): counted within the window."""
    if made is not None and 0 <= t - made[1] <= REWORK_WINDOW_S:
        reworked[made[0]] = reworked.get(made[0], 0) + 1


def _counts(ranked: list[tuple[str, list[int]]]) -> Table:
    rows: list[list[Cell]] = [[actor, *row] for actor, row in ranked]
    return Table(id="counts", title="What each actor did", columns=["actor", *COLUMNS], rows=rows,
                 total_rows=len(rows))


def _shares(ranked: list[tuple[str, list[int]]]) -> Table:
    """Each count as a percentage of its column's total (None where the total is 0)."""
    totals = [sum(row[column] for _, row in ranked) for column in range(len(COLUMNS))]
    rows: list[list[Cell]] = [[actor, *(_share(row[column], totals[column]) for column in range(len(COLUMNS)))]
                              for actor, row in ranked]
    return Table(id="shares", title="Share of each by actor, %", columns=["actor", *COLUMNS], rows=rows,
                 total_rows=len(rows))


def _share(part: int, whole: int) -> float | None:
    return None if not whole else round(part * 100 / whole, 1)


@hookimpl
def gitobs_analyzers() -> list[type]:
    return [ActorsAnalyzer]
