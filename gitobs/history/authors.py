"""Whose commits `gitobs import` takes: by default the user's own, by author email.

Your emails are git's `user.email` and `author.email` as this repository sees them (read through git, so
`includeIf` sections apply), and gitobs's `import.identities` (your other addresses, user scope only).
Emails compare without regard to case.
"""

from __future__ import annotations

from pathlib import Path

from gitobs.core.config import load, main_work_tree
from gitobs.core.repo import GitobsError
from gitobs.history import gitlog

NO_IDENTITY = ("git config user.email is not set, so gitobs import cannot tell your commits: set it, list your "
               "emails in import.identities (gitobs config set import.identities ...), or pass --all-authors")


def own_emails(common_dir: Path) -> list[str]:
    """Your author emails, lowercased and sorted; GitobsError when there is none."""
    found = {email.strip().lower() for key in ("user.email", "author.email")
             for email in gitlog.config_values(common_dir, key)}
    found.update(email.strip().lower() for email in load(common_dir, main_work_tree(common_dir))["import.identities"])
    found.discard("")
    if not found:
        raise GitobsError(NO_IDENTITY)
    return sorted(found)
