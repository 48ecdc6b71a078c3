"""Bundles: a redacted, self-describing zip of events and their report, opened as untrusted input on a
maintainer's machine, and rebuilt into a scratch repository (`replay --into`). Imports the layers below."""
