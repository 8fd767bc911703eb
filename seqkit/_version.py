"""The version of seqkit, in one place: run files record it, and the package face re-exports it.
Modules read it as `_version.__version__`, never through the package face."""
__version__ = "0.2.0"
