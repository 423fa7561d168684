"""The one exception hierarchy of aggregator.

::

    AggregatorError                 root; str() is "message: detail: CauseType: cause"
    ├── ConfigError(path, problem)  "feeds[3].url: not an http(s) URL"; the CLI exits 2
    ├── FeedError(url)              carries the URL of the feed or page concerned
    │   ├── FetchError(url, status) network, TLS, timeout, refused address, HTTP >= 400
    │   │   └── BlockedAddressError the URL resolves to a non-public address (SSRF guard)
    │   ├── ParseError(url)         not a feed, or a feed we cannot read
    │   └── ExtractError(url)       article page; never fails the feed update
    ├── StoreError                  database unreachable, locked, schema outdated
    ├── ExportError                 OPML unreadable or hostile, an export that cannot be written
    ├── TaggerError                 the topic model is missing, damaged or of another version
    └── Interrupted                 work stopped because the process is shutting down

Third-party exceptions (httpx, feedparser, SQLAlchemy, trafilatura) are wrapped once, at the
boundary of the module that calls them, and chained with ``raise ... from exc``.
"""

from __future__ import annotations

__all__ = [
    "AggregatorError",
    "BlockedAddressError",
    "ConfigError",
    "ExportError",
    "ExtractError",
    "FeedError",
    "FetchError",
    "Interrupted",
    "ParseError",
    "SchemaOutdatedError",
    "StoreError",
    "TaggerError",
]


class AggregatorError(Exception):
    """Root of every error aggregator raises on purpose."""

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        parts = [self.message] if self.message else [type(self).__name__]
        cause = self.__cause__
        if cause is not None and not _said(cause, self.message):
            # One line of the cause: SQLAlchemy's errors carry the whole statement after it.
            lines = str(cause).strip().splitlines()
            detail = lines[0][:300] if lines else ""
            parts.append(f"{type(cause).__name__}: {detail}" if detail else type(cause).__name__)
        return ": ".join(parts)


def _said(cause: BaseException, message: str) -> bool:
    """Whether ``message`` already quotes the cause (or the driver error a SQLAlchemy error
    wraps, its ``orig``), as the store's messages do: not twice on one line."""
    for error in (cause, getattr(cause, "orig", None)):
        if error is None:
            continue
        lines = str(error).strip().splitlines()
        if lines and lines[0][:200] in message:
            return True
    return False


class ConfigError(AggregatorError):
    """The configuration is invalid. ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.problems))


class FeedError(AggregatorError):
    """An error about one feed or one page: carries its URL."""

    def __init__(self, url: str, message: str = "") -> None:
        super().__init__(message)
        self.url = url


class FetchError(FeedError):
    """The HTTP request failed. ``status`` is the HTTP status when there was one."""

    def __init__(
        self,
        url: str,
        message: str = "",
        *,
        status: int | None = None,
        retry_after: str | None = None,
    ) -> None:
        super().__init__(url, message)
        self.status = status
        self.retry_after = retry_after


class BlockedAddressError(FetchError):
    """The URL (or a redirect hop) resolves to a loopback/private/reserved address."""


class ParseError(FeedError):
    """The body is not a feed we can read."""


class ExtractError(FeedError):
    """Full-text extraction of an article page failed."""


class StoreError(AggregatorError):
    """A database problem the operator can fix."""


class SchemaOutdatedError(StoreError):
    """The database schema is older (or newer) than this version of aggregator."""


class ExportError(AggregatorError):
    """An import or export failed: an OPML file that is not OPML (or is hostile XML), a
    config file that cannot be rewritten, an export that cannot be written."""


class TaggerError(AggregatorError):
    """The topic model cannot be used: missing, damaged, or built for other features."""


class Interrupted(AggregatorError):
    """The work was stopped because the process is shutting down (Ctrl-C, SIGTERM)."""
