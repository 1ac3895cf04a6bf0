"""Errors a user can act on. Each carries a one-line message and the next step."""

from __future__ import annotations


class QAError(Exception):
    """A problem the user can fix; shown as one line plus a hint, never a traceback."""

    exit_code = 1

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}".strip()


class IndexMissing(QAError):
    pass


class IndexEmpty(QAError):
    """The index exists but holds no passages: there is nothing to answer from."""


class NoArticles(QAError):
    """The articles folder holds no file of a supported kind."""


class IndexDamaged(QAError):
    pass


class IndexMismatch(QAError):
    """The index was built with another model, format or splitter."""


class IndexBusy(QAError):
    """Another process holds the rebuild lock."""


class BadQuestion(QAError):
    pass


class BadPath(QAError):
    pass


class ArticleGone(BadPath):
    """A cited article is no longer on disk (removed or renamed since it was indexed)."""

    def __init__(self, source: str, message: str, hint: str = "") -> None:
        super().__init__(message, hint)
        self.source = source
