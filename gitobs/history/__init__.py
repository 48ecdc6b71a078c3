"""`gitobs import`: the history already in a repository (commits through `git log`, past reflog lines)
recorded once, never doubling what the hooks and the scanner already recorded. Imports the layers below."""
