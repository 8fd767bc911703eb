"""The seqkit command line, installed as the package seqkit.cli (see pyproject.toml)."""
