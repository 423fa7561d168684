"""What ``browse`` reads and changes: a record of callables the CLI builds over the reading
queries. It lives apart from :mod:`aggregator.read.browse` so that the CLI can build it, and
run the first digest, while Textual is still being imported."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from aggregator.read.digest import Digest
from aggregator.store.records.reading import ArticleDetail, SearchHit

__all__ = ["Library"]


@dataclass(frozen=True, slots=True)
class Library:
    """What the reader reads and changes, passed in by the CLI (no store import here)."""

    digest: Callable[[], Digest]
    article: Callable[[int], ArticleDetail | None]
    mark_read: Callable[[Sequence[int], bool], int]
    set_starred: Callable[[Sequence[int], bool], int]
    search: Callable[[str], list[SearchHit]]
    open_link: Callable[[str], bool]
    tag_labels: dict[str, str]
    timezone: ZoneInfo
    language: str = "en"  # display.language: the reader's own words (keys, counts, notices)
