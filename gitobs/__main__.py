import sys

from gitobs.background import wanted

git_dir = wanted(sys.argv[1:])
if git_dir is not None:  # the hooks' background scan: no command line to build
    from gitobs.background import main

    main(git_dir)
else:
    from gitobs.cli import main

    main()
