"""The package version, in one place (read by ``jqgen.__version__``, checkpoints, the CLI and
the build: ``[tool.setuptools.dynamic]`` in pyproject.toml)."""

__version__ = "0.1.0"
