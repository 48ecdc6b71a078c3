"""Data package: the sh shim template that `gitobs install` renders into a repository's hooks dir."""
