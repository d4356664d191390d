"""The package's version (one place: the package, its metadata and results read it here)."""

__version__ = "0.1.0"
