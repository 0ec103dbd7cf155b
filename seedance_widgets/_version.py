"""The package version, defined once (read by hatchling and by the client's User-Agent)."""

__version__ = "0.1.0"
