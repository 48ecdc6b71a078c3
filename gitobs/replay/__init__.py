"""Reading the log back: the replay engine (stream, decode, filter, batch), its two-process split, the
pluggy hookspecs and plugin loading, the analyzers' API, report building and `gitobs query`. Imports
gitobs.core and gitobs.log; plugin authors use gitobs.plugin, not these modules."""
