"""How gitobs starts Python for itself (the hooks' background scan, the scheduled `scan --all`).

`python -m gitobs` puts the current directory first on the import path, so a cloned repository that ships
`gitobs.py` would have its code run by the first hook. Every interpreter gitobs starts therefore runs from
`/` and, where this gitobs can be imported that way, isolated (`-I`: no current directory, no PYTHONPATH,
no user site). Where only the user's site or PYTHONPATH finds gitobs, `/` as the working directory still
keeps every repository off the path.
"""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

import gitobs

ROOT = "/"  # the working directory of every interpreter gitobs starts
_PROBE = "import gitobs; print(gitobs.__file__)"


@functools.lru_cache(maxsize=8)
def isolation_flags(executable: str) -> tuple[str, ...]:
    """("-I",) when `executable -I` imports this very gitobs, else () (see the module's docstring)."""
    try:
        done = subprocess.run([executable, "-I", "-c", _PROBE], cwd=ROOT, capture_output=True, text=True,
                              timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return ()
    found = done.stdout.strip()
    if done.returncode == 0 and found and Path(found).resolve() == Path(gitobs.__file__).resolve():
        return ("-I",)
    return ()


def gitobs_command(executable: str, *args: str) -> list[str]:
    """`executable [-I] -m gitobs ARGS`, to be run with ROOT as the working directory."""
    return [executable, *isolation_flags(executable), "-m", "gitobs", *args]
