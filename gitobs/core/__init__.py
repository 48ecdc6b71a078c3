"""What every stage of the data path stands on: the repository and its `.git/obs/` paths, names and text
made safe, time specs, locks, files replaced atomically, the layered configuration, redaction's salts and
hashes, and the per-user registry of repositories. Imports nothing else of gitobs."""
