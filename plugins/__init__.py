"""Built-in analyzers of gitobs, registered through the same entry-point group a third-party package uses."""
