"""Every exception the qa package raises; the CLI and the web page turn them into one line."""

from __future__ import annotations

__all__ = [
    "QAError",
    "InvalidQueryError",
    "InvalidArgumentError",
    "CorpusError",
    "IndexNotFoundError",
    "IndexCorruptError",
    "IndexMismatchError",
    "ModelError",
]


class QAError(Exception):
    """Base class: anything qa raises on purpose. Its message is one readable line."""


class InvalidQueryError(QAError, ValueError):
    """The question is empty, blank, or otherwise unusable."""


class InvalidArgumentError(QAError, ValueError):
    """An argument such as ``k`` or ``mode`` is out of its allowed range."""


class CorpusError(QAError):
    """The corpus is missing, empty, or holds a file that cannot be read."""


class IndexNotFoundError(QAError, FileNotFoundError):
    """No index at the given path."""


class IndexCorruptError(QAError):
    """The index directory exists but a file in it is missing or damaged."""


class IndexMismatchError(QAError):
    """The index was built with another format or model than the one asked for."""


class ModelError(QAError):
    """The embedding model cannot be found or loaded (nothing is fetched from a hub)."""
