import os
import sys

# `python -m gitobs` put the current directory first on the import path (as `-P` would not): inside a
# repository, its files would shadow gitobs's imports and declare plugins. Nothing there is ever imported.
if not sys.flags.safe_path and sys.path and sys.path[0] == os.getcwd():
    del sys.path[0]

from gitobs.core.early_signals import hold  # noqa: E402

hold(sys.argv[1:])  # first: a signal while the imports below run must still stop `watch` cleanly
from gitobs.cli.main import background_git_dir, main  # noqa: E402

git_dir = background_git_dir(sys.argv[1:])
if git_dir is not None:  # the hooks' background scan: no command line to build
    from gitobs.fleet.background import main as scan_in_background

    scan_in_background(git_dir)
else:
    main()
