"""lfgtui: run several AI agents at once and watch every stream live in your terminal."""

__version__ = "0.1.0"
"""The one place the version is written: pyproject.toml reads it (so the installed package's metadata
says the same), and lfg reads it here, not with importlib.metadata, which takes ~30 ms to import."""
