"""The command line: typer commands, one module each under gitobs.cli.commands, loaded only when their
command runs; `gitobs demo`. The top of the data path: it may import anything below."""
