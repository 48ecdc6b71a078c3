"""Recording: the hook shim's install, the spool it writes, the records and reflog lines turned into events,
working-tree samples, GitButler's state, pause, and ingest (everything new into the log, numbered). Imports
gitobs.core and gitobs.log; never replay, which reads what capture writes."""
