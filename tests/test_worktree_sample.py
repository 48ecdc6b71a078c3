"""Working-tree samples on real repositories: dirty files with exact line counts, nothing recomputed when
nothing changed, and vanished changes told apart from committed or stashed ones."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import msgspec
import pygit2
import pytest
from conftest import commit_file, git, last_seq, new_events

from gitobs.capture import worktree_sample
from gitobs.capture.enrich import MAX_FILES
from gitobs.capture.worktree_sample import SampleResult, WorktreeMemory, sample_worktree
from gitobs.core.repo import locate


def sample(repo: Path, memory: WorktreeMemory | None = None, git_dir: Path | None = None) -> SampleResult:
    result = sample_worktree(git_dir or locate(repo).common_dir, memory)
    assert result is not None
    return result


def rows(result: SampleResult) -> list[list]:
    assert result.sample is not None, "expected a sample"
    return msgspec.to_builtins(result.sample.files)


def dirty_after(repo: Path, change) -> SampleResult:
    """Sample the clean tree, apply `change`, sample again with the first memory."""
    first = sample(repo)
    change()
    return sample(repo, first.memory)


def test_clean_tree_reports_nothing_but_is_remembered(repo):
    first = sample(repo)
    assert first.sample is None and first.lost == [] and first.memory is not None
    again = sample(repo, first.memory)
    assert again.sample is None and again.memory is first.memory


def test_edited_tracked_file_has_exact_counts(repo):
    commit_file(repo, "src/app.py", "one\ntwo\nthree\n")
    result = dirty_after(repo, lambda: (repo / "src/app.py").write_text("one\nTWO\nthree\nfour\n"))
    assert rows(result) == [["src/app.py", 2, 1]]
    assert (result.sample.files_total, result.sample.added, result.sample.deleted) == (1, 2, 1)
    assert result.sample.branch == "main"


def test_staged_and_unstaged_changes_count_together_against_head(repo):
    commit_file(repo, "a.txt", "1\n2\n3\n")
    (repo / "a.txt").write_text("one\n2\n3\n")
    git(repo, "add", "a.txt")
    (repo / "a.txt").write_text("one\n2\nthree\n")  # on top of the staged change
    (repo / "b.txt").write_text("new\nfile\n")
    git(repo, "add", "b.txt")  # staged only
    assert rows(sample(repo)) == [["a.txt", 2, 2], ["b.txt", 2, 0]]


def test_untracked_files_count_their_lines_and_ignored_ones_are_left_out(repo):
    (repo / ".git" / "info" / "exclude").write_text("*.log\n")
    (repo / "notes").mkdir()
    (repo / "notes" / "todo.md").write_text("a\nb\nno newline at the end")
    (repo / "debug.log").write_text("ignored\n")
    assert rows(sample(repo)) == [["notes/todo.md", 3, 0]]


def test_untracked_file_counts_its_first_mebibyte_only(repo):
    (repo / "big.txt").write_bytes(b"x\n" * (1 << 20))  # 2 MiB
    assert rows(sample(repo)) == [["big.txt", worktree_sample.UNTRACKED_READ // 2, 0]]


def test_binary_files_count_no_lines(repo):
    (repo / "logo.png").write_bytes(b"\x89PNG\r\n\x00\x01\n" * 10)
    commit_file(repo, "data.bin", "a\nb\n")
    (repo / "data.bin").write_bytes(b"a\x00\nb\nc\n")
    assert rows(sample(repo)) == [["data.bin", 0, 0], ["logo.png", 0, 0]]


def test_deleted_files_count_their_lines_as_deleted(repo):
    commit_file(repo, "gone.txt", "1\n2\n3\n4\n")
    commit_file(repo, "removed.txt", "1\n2\n")
    (repo / "gone.txt").unlink()
    git(repo, "rm", "-q", "removed.txt")
    assert rows(sample(repo)) == [["gone.txt", 0, 4], ["removed.txt", 0, 2]]


@pytest.mark.skipif(not hasattr(pygit2.Repository, "load_filter_list"), reason="pygit2 < 1.19.2: no filters")
def test_crlf_in_the_working_tree_is_not_a_change_with_autocrlf(repo):
    git(repo, "config", "core.autocrlf", "true")
    commit_file(repo, "win.txt", "a\nb\n")
    (repo / "win.txt").write_bytes(b"a\r\nb\r\nc\r\n")
    assert rows(sample(repo)) == [["win.txt", 1, 0]]


def test_changed_symlink_counts_its_target_as_one_line(repo):
    os.symlink("README.md", repo / "link")
    git(repo, "add", "link")
    git(repo, "commit", "-q", "-m", "link")
    (repo / "link").unlink()
    os.symlink("elsewhere", repo / "link")
    assert rows(sample(repo)) == [["link", 1, 1]]


def test_nothing_is_measured_when_nothing_changed(repo, monkeypatch):
    measured = []
    measure = worktree_sample._measure
    monkeypatch.setattr(worktree_sample, "_measure", lambda *args: measured.append(1) or measure(*args))
    (repo / "README.md").write_text("hello\nworld\n")
    first = sample(repo)
    assert len(measured) == 1 and rows(first) == [["README.md", 1, 0]]
    again = sample(repo, first.memory)
    assert again.sample is None and again.lost == [] and again.memory is first.memory
    assert len(measured) == 1
    (repo / "README.md").write_text("hello\nworld\nagain\n")
    assert rows(sample(repo, again.memory)) == [["README.md", 2, 0]] and len(measured) == 2


def test_staging_a_change_measures_again_but_reports_nothing_new(repo):
    (repo / "README.md").write_text("hello\nworld\n")
    first = sample(repo)
    git(repo, "add", "README.md")
    staged = sample(repo, first.memory)
    assert staged.sample is None and staged.lost == []
    assert staged.memory.signature != first.memory.signature  # the index changed: looked again


def test_switching_branch_alone_reports_nothing(repo):
    (repo / "README.md").write_text("hello\nworld\n")
    first = sample(repo)
    git(repo, "switch", "-q", "-c", "topic")
    switched = sample(repo, first.memory)
    assert switched.sample is None and switched.memory.signature != first.memory.signature


def test_edit_put_back_by_hand_is_lost_with_its_counts(repo):
    commit_file(repo, "keep.txt", "k\n")
    (repo / "README.md").write_text("hello\nworld\n")
    (repo / "keep.txt").write_text("k\nstill here\n")
    dirty = sample(repo)
    (repo / "README.md").write_text("hello\n")
    after = sample(repo, dirty.memory)
    assert msgspec.to_builtins(after.lost) == [["README.md", 1, 0]]
    assert rows(after) == [["keep.txt", 1, 0]]


def test_deleted_untracked_file_is_lost_but_one_now_ignored_is_not(repo):
    (repo / "scratch.txt").write_text("a\nb\n")
    (repo / "build.out").write_text("x\n")
    dirty = sample(repo)
    (repo / "scratch.txt").unlink()
    (repo / ".git" / "info" / "exclude").write_text("*.out\n")
    after = sample(repo, dirty.memory)
    assert msgspec.to_builtins(after.lost) == [["scratch.txt", 2, 0]]
    assert after.sample is not None and after.sample.files == []


def test_committed_edit_is_not_lost(repo):
    (repo / "README.md").write_text("hello\nworld\n")
    (repo / "new.txt").write_text("new\n")
    dirty = sample(repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "work")
    after = sample(repo, dirty.memory)
    assert after.lost == []
    assert after.sample is not None and after.sample.files == [] and after.sample.files_total == 0


def test_stashed_edit_is_not_lost(repo):
    (repo / "README.md").write_text("hello\nworld\n")
    dirty = sample(repo)
    git(repo, "stash", "-q")
    after = sample(repo, dirty.memory)
    assert after.lost == [] and after.sample is not None and after.sample.files == []


def test_linked_worktree_is_sampled_on_its_own_git_dir(repo):
    git(repo, "worktree", "add", "-q", "../linked", "-b", "side")
    linked = repo.parent / "linked"
    (linked / "README.md").write_text("hello\nfrom the side\n")
    result = sample(repo, git_dir=locate(repo).common_dir / "worktrees" / "linked")
    assert rows(result) == [["README.md", 1, 0]] and result.sample.branch == "side"
    assert sample(repo).sample is None  # the main worktree is clean


def test_linked_worktree_removed_without_prune_is_not_sampled(repo):
    git(repo, "worktree", "add", "-q", "../linked")
    shutil.rmtree(repo.parent / "linked")
    assert sample_worktree(locate(repo).common_dir / "worktrees" / "linked", None) is None


def test_bare_repository_and_non_repository_are_not_sampled(tmp_path):
    git(tmp_path, "init", "-q", "--bare", "bare.git")
    assert sample_worktree(tmp_path / "bare.git", None) is None
    assert sample_worktree(tmp_path / "nowhere", None) is None


def test_damaged_index_is_not_sampled_and_does_not_raise(repo):
    (repo / "README.md").write_text("changed\n")
    (repo / ".git" / "index").write_bytes(b"DIRC garbage")
    assert sample_worktree(locate(repo).common_dir, None) is None


def test_unborn_head_counts_everything_against_the_empty_tree(tmp_path):
    git(tmp_path, "init", "-q", "fresh")
    fresh = tmp_path / "fresh"
    (fresh / "staged.txt").write_text("1\n2\n")
    git(fresh, "add", "staged.txt")
    (fresh / "loose.txt").write_text("1\n")
    result = sample(fresh)
    assert rows(result) == [["loose.txt", 1, 0], ["staged.txt", 2, 0]] and result.sample.branch is None
    (fresh / "loose.txt").unlink()
    assert msgspec.to_builtins(sample(fresh, result.memory).lost) == [["loose.txt", 1, 0]]


def test_strange_path_names(repo):
    names = ["with space.txt", "new\nline.txt", "ünïcødé/文件.txt"]
    for name in names:
        commit_file(repo, name, "a\n")
        (repo / name).write_text("a\nb\n")
    (repo / "untracked ☃.txt").write_text("x\ny\n")
    result = sample(repo)
    assert sorted(rows(result)) == sorted([[name, 1, 0] for name in names] + [["untracked ☃.txt", 2, 0]])
    for name in names:
        (repo / name).write_text("a\n")
    assert sorted(msgspec.to_builtins(sample(repo, result.memory).lost)) == sorted([name, 1, 0] for name in names)


def test_file_list_is_capped_and_totals_stay_exact(repo):
    (repo / "many").mkdir()
    for number in range(MAX_FILES + 3):
        (repo / "many" / f"f{number:04}.txt").write_text("x\n")
    result = sample(repo)
    assert len(result.sample.files) == MAX_FILES and len(result.memory.files) == MAX_FILES
    assert (result.sample.files_total, result.sample.added) == (MAX_FILES + 3, MAX_FILES + 3)
    assert len(msgspec.json.encode(result.memory)) < 40_000  # rewritten on every scan


def test_scan_reports_samples_and_a_change_put_back(watched):
    start = last_seq(watched)
    (watched / "README.md").write_text("hello\nworld\n")
    events = new_events(watched, start, types=("worktree.sample", "edit.discarded"))
    assert [(e.type, e.src, e.wt) for e in events] == [("worktree.sample", "worktree", ".")]
    assert events[0].data["files"] == [["README.md", 1, 0]] and events[0].data["branch"] == "main"
    assert new_events(watched, last_seq(watched), types=("worktree.sample",)) == []  # nothing changed

    start = last_seq(watched)
    (watched / "README.md").write_text("hello\n")
    events = new_events(watched, start, types=("worktree.sample", "edit.discarded"))
    assert sorted(e.type for e in events) == ["edit.discarded", "worktree.sample"]
    discarded = next(e for e in events if e.type == "edit.discarded")
    assert discarded.data["how"] == "sample" and discarded.data["files"] == [["README.md", 1, 0]]


def test_scan_reports_no_discard_for_a_commit(watched):
    (watched / "README.md").write_text("hello\nworld\n")
    new_events(watched)
    start = last_seq(watched)
    git(watched, "commit", "-q", "-am", "keep it")
    events = new_events(watched, start, types=("worktree.sample", "edit.discarded"))
    assert [(e.type, e.data.get("files", [])) for e in events] == [("worktree.sample", [])]


def test_index_lock_held_by_git_does_not_stop_sampling(repo):
    (repo / ".git" / "index.lock").write_bytes(b"")  # git is writing the index
    (repo / "README.md").write_text("hello\nworld\n")
    assert rows(sample(repo)) == [["README.md", 1, 0]]


def test_an_edit_committed_on_another_branch_then_left_is_not_lost(watched):
    """Edited on main, carried to a new branch and committed there, then back to main: main's README.md is
    as it was and clean, yet the edit is in a commit, not thrown away."""
    (watched / "README.md").write_text("hello\nworld\n")
    start = last_seq(watched)  # its sample sees the edit
    git(watched, "switch", "-q", "-c", "feat")
    git(watched, "commit", "-q", "-am", "on feat")
    git(watched, "switch", "-q", "main")
    assert new_events(watched, start, types=("edit.discarded",)) == []


def test_an_edit_committed_elsewhere_is_not_lost_after_a_scan_died_before_its_state(watched, monkeypatch):
    """The scan that read the commit died after writing its events, before saving its state: the next one
    reads the commit's line again, finds it reported in the log, and must still not call the edit lost."""
    from gitobs.capture import ingest

    (watched / "README.md").write_text("hello\nworld\n")
    start = last_seq(watched)  # its sample sees the edit
    git(watched, "switch", "-q", "-c", "feat")
    git(watched, "commit", "-q", "-am", "on feat")
    git(watched, "switch", "-q", "main")

    class Died(Exception):
        pass

    def die(*args, **kwargs):
        raise Died

    monkeypatch.setattr(ingest, "save_state", die)
    with pytest.raises(Died):
        new_events(watched, start)
    monkeypatch.undo()
    assert new_events(watched, start, types=("edit.discarded",)) == []
