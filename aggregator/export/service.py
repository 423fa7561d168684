"""The exports as a service: validators, cached renderings, and the export directory.

:class:`Exporter` is shared by ``aggregator export``, ``aggregator serve`` and the daemon's
export job. Its two costs are kept apart:

- a **validator** (weak ETag and Last-Modified) comes from one aggregate query over the
  selected articles (``ExportQueries.export_stamp``: how many, their ids, newest change,
  entries and tags; a few milliseconds for a thousand articles), the feeds' names and a
  fingerprint of the configuration. Anything that would change the rendered feed changes it;
  answering ``304 Not Modified`` costs that query and nothing else;
- a **rendering** (load texts, sanitize, build XML) happens only when the validator has
  changed: bodies are cached by validator, and renderings are pure, so equal validators mean
  equal bytes. The sanitized items of unchanged articles are cached too, across feeds and
  formats (all.atom and tag/politics.rss share most of their articles).

Not here: HTTP (``aggregator.export.server``), layout of the documents
(``aggregator.export.syndication`` and ``.opml``), what an item may show
(``aggregator.export.items``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from aggregator.config.schema import Config
from aggregator.errors import ExportError
from aggregator.export.items import (
    EPOCH,
    ExportItem,
    Format,
    RowStep,
    Selection,
    build_items,
    collapse_stories,
    feed_id,
    tag_labels,
)
from aggregator.export.opml import OpmlFeed, unparse
from aggregator.export.syndication import CONTENT_TYPES, FeedMeta, render
from aggregator.store.records.export import ExportArticle, ExportFeed, ExportStamp
from aggregator.store.sql import SqlStore

__all__ = [
    "FORMATS",
    "Exporter",
    "Rendered",
    "Validator",
    "default_base_url",
    "opml_body",
    "route_path",
    "write_export_dir",
    "write_file",
]

log = logging.getLogger(__name__)

FORMATS: tuple[Format, ...] = ("atom", "rss", "json")
# Bumped whenever the renderers change what they write for the same data: every cached
# body and every reader's ETag becomes stale at once.
RENDER_VERSION = "1"
CACHE_ENTRIES = 64
ITEM_CACHE_ENTRIES = 20_000


@dataclass(frozen=True, slots=True)
class Validator:
    etag: str  # a weak entity tag, quoted: W/"…"
    last_modified: datetime | None


@dataclass(frozen=True, slots=True)
class Rendered:
    body: bytes
    content_type: str
    validator: Validator


def default_base_url(config: Config) -> str:
    """Where readers reach the feeds: ``export.base_url``, else ``http://<serve.listen>``."""
    return config.export.base_url or f"http://{config.serve.listen}"


def route_path(selection: Selection, fmt: Format) -> str | None:
    """The server path of a selection in a format; None when no route serves it (several
    tags, a --since)."""
    if selection.since is not None or len(selection.tags) > 1:
        return None
    if not selection.tags:
        return f"/feeds/all.{fmt}"
    return f"/feeds/tag/{selection.tags[0]}.{fmt}"


def _fingerprint(config: Config) -> str:
    return hashlib.sha256(config.model_dump_json().encode("utf-8")).hexdigest()


def _hash_parts(parts: Iterable[str]) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.hexdigest()[:32]


def _feeds_parts(feeds: dict[int, ExportFeed]) -> list[str]:
    return [f"{f.id}|{f.url}|{f.title or ''}|{f.site_url or ''}" for f in feeds.values()]


class Exporter:
    """Renders exports from ``store`` per ``config``. Thread-safe: the server's threads
    share one."""

    def __init__(
        self,
        store: SqlStore,
        config: Config,
        *,
        base_url: str | None = None,
        steps: Sequence[RowStep] = (),
        cache_entries: int = CACHE_ENTRIES,
    ) -> None:
        self.store = store
        self.steps = tuple(steps)
        self._fixed_base = base_url.rstrip("/") if base_url else None
        self._cache: OrderedDict[tuple[str, ...], Rendered] = OrderedDict()
        self._cache_entries = cache_entries
        self._lock = threading.Lock()
        self._render_locks: dict[tuple[str, ...], threading.Lock] = {}
        # Sanitized items by article state, shared by every feed and format (all.atom and
        # tag/politics.rss hold the same articles): oldest dropped first.
        self._items: OrderedDict[Hashable, ExportItem] = OrderedDict()
        self._items_lock = threading.Lock()
        self._item_entries = ITEM_CACHE_ENTRIES
        self.reload(config)

    def reload(self, config: Config) -> None:
        """Use a new configuration (SIGHUP): policies, titles and tags apply at once."""
        self.config = config
        self.base_url = self._fixed_base or default_base_url(config).rstrip("/")
        self._config_hash = _fingerprint(config)
        with self._items_lock:
            self._items.clear()

    def _collapse_stories(self, rows: list[ExportArticle]) -> list[ExportArticle]:
        stories = self.store.story_representatives([row.id for row in rows])
        return collapse_stories(rows, {aid: story for aid, (story, _) in stories.items()})

    def set_base_url(self, base_url: str) -> None:
        """Where readers reach the feeds, when only known once bound (``serve`` on port 0)."""
        self._fixed_base = base_url.rstrip("/")
        self.base_url = self._fixed_base

    # -- feeds ----------------------------------------------------------------------------

    def _self_url(self, selection: Selection, fmt: Format) -> str | None:
        path = route_path(selection, fmt)
        return self.base_url + path if path else None

    def _feed_validator(
        self,
        selection: Selection,
        fmt: Format,
        stamp: ExportStamp,
        feeds: dict[int, ExportFeed],
    ) -> Validator:
        parts = [
            RENDER_VERSION,
            "feed",
            fmt,
            selection.name,
            selection.since.isoformat() if selection.since else "",
            str(selection.limit),
            self._self_url(selection, fmt) or "",
            self._config_hash,
            str(stamp.count),
            stamp.newest_change.isoformat() if stamp.newest_change else "",
            *map(str, stamp.numbers),
            *_feeds_parts(feeds),
        ]
        return Validator(f'W/"{_hash_parts(parts)}"', stamp.newest_change)

    def feed_validator(self, selection: Selection, fmt: Format) -> Validator:
        """The validator of a feed: one aggregate query, no texts, no rendering."""
        stamp, feeds = self.store.export_stamp(
            tags=selection.tags, since=selection.since, limit=selection.limit
        )
        return self._feed_validator(selection, fmt, stamp, feeds)

    def render_feed(
        self, selection: Selection, fmt: Format, validator: Validator | None = None
    ) -> Rendered:
        """The feed's bytes: from the cache when its validator (computed here unless given,
        fresh) has not changed."""
        key = ("feed", fmt, selection.name, str(selection.since), str(selection.limit))
        current = validator or self.feed_validator(selection, fmt)
        cached = self._cached(key, current)
        if cached is not None:
            return cached
        with self._render_lock(key):
            # Another thread may have rendered it while this one waited.
            cached = self._cached(key, current)
            if cached is not None:
                return cached
            rendered = self.render_feed_uncached(selection, fmt)
            self._store(key, rendered)
            return rendered

    def render_feed_uncached(self, selection: Selection, fmt: Format) -> Rendered:
        stamp, feeds, articles = self.store.export_rows(
            tags=selection.tags, since=selection.since, limit=selection.limit
        )
        validator = self._feed_validator(selection, fmt, stamp, feeds)
        items = self._build_items(articles, feeds)
        labels = tag_labels(self.config)
        title = self.config.export.title
        if selection.tags:
            names = " · ".join(labels.get(t, t) for t in selection.tags)
            title = f"{title}: {names}"
            description = f"Articles tagged {names}, newest first, collected by aggregator"
        else:
            description = "Every article aggregator collected, newest first"
        meta = FeedMeta(
            id=feed_id(selection.name),
            title=title,
            description=description,
            updated=max((i.updated for i in items), default=EPOCH),
            author=self.config.export.title,
            self_url=self._self_url(selection, fmt),
        )
        return Rendered(render(fmt, meta, items), CONTENT_TYPES[fmt], validator)

    # -- HTML pages -----------------------------------------------------------------------

    def _build_items(
        self, articles: Sequence[ExportArticle], feeds: dict[int, ExportFeed]
    ) -> list[ExportItem]:
        """The export items of ``articles`` (feeds and pages alike), through the item cache."""
        with self._items_lock:
            steps = self.steps
            if self.config.export.collapse_stories:
                steps = (*steps, self._collapse_stories)
            items = build_items(articles, feeds, self.config, steps=steps, cache=self._items)
            while len(self._items) > self._item_entries:
                self._items.popitem(last=False)
            return items

    def _page_items(self, since: datetime | None) -> list[ExportItem]:
        _, feeds, articles = self.store.export_rows(
            tags=(), since=since, limit=self.config.export.limit
        )
        return self._build_items(articles, feeds)

    def render_index(self, now: datetime) -> bytes:
        """``/``: the last day's stories by tag (the newest ``export.limit`` when the day
        had none), linking each article's page, and every feed."""
        from zoneinfo import ZoneInfo

        from aggregator.export.pages import index_html

        items = self._page_items(now - timedelta(days=1)) or self._page_items(None)
        tz = ZoneInfo(self.config.display.timezone)
        return index_html(
            items,
            tag_labels(self.config),
            title=self.config.export.title,
            heading=f"{self.config.export.title} · {now.astimezone(tz):%Y-%m-%d}",
            tz=tz,
        ).encode("utf-8")

    def render_article_page(self, article_id: int) -> bytes | None:
        """``/articles/ID`` for an article among the newest ``export.limit`` (those the
        index and the feeds link), under the feed's republish policy; None for others."""
        from zoneinfo import ZoneInfo

        from aggregator.export.pages import article_html

        for item in self._page_items(None):
            if item.article_id == article_id:
                tz = ZoneInfo(self.config.display.timezone)
                page = article_html(item, site_title=self.config.export.title, tz=tz)
                return page.encode("utf-8")
        return None

    # -- OPML -----------------------------------------------------------------------------

    def opml_validator(self) -> Validator:
        feeds = self.store.export_feeds()
        parts = [RENDER_VERSION, "opml", self._config_hash, *_feeds_parts(feeds)]
        return Validator(f'W/"{_hash_parts(parts)}"', None)

    def render_opml(self, validator: Validator | None = None) -> Rendered:
        key = ("opml",)
        validator = validator or self.opml_validator()
        cached = self._cached(key, validator)
        if cached is not None:
            return cached
        body = opml_body(self.config, self.store.export_feeds().values())
        rendered = Rendered(body, CONTENT_TYPES["opml"], validator)
        self._store(key, rendered)
        return rendered

    # -- cache ----------------------------------------------------------------------------

    def _cached(self, key: tuple[str, ...], validator: Validator) -> Rendered | None:
        with self._lock:
            found = self._cache.get(key)
            if found is None or found.validator != validator:
                return None
            self._cache.move_to_end(key)
            return found

    def _store(self, key: tuple[str, ...], rendered: Rendered) -> None:
        with self._lock:
            self._cache[key] = rendered
            self._cache.move_to_end(key)
            while len(self._cache) > self._cache_entries:
                self._cache.popitem(last=False)

    def _render_lock(self, key: tuple[str, ...]) -> threading.Lock:
        # One rendering per feed at a time: eight readers polling at once after a change
        # wait for one rendering instead of doing eight.
        with self._lock:
            return self._render_locks.setdefault(key, threading.Lock())


# -- the export directory ------------------------------------------------------------------


def write_file(path: Path, body: bytes) -> None:
    """Replace ``path`` with ``body`` atomically: a reader (a static web server, a reader
    polling the file) sees the old file or the new one, never half of one."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise ExportError(f"{path.parent}: cannot write: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ExportError(f"{path}: cannot write: {exc.strerror or exc}") from None


def _write_if_changed(path: Path, body: bytes) -> bool:
    try:
        if path.read_bytes() == body:
            return False
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise ExportError(f"{path}: cannot read: {exc.strerror or exc}") from None
    write_file(path, body)
    return True


def write_export_dir(
    exporter: Exporter, directory: Path, seen: dict[str, str] | None = None
) -> list[Path]:
    """Write the server's documents under ``directory`` (``opml.xml``, ``feeds/all.atom``,
    ``feeds/tag/<tag>.json``, ...), each only when it changed; returns the files written.

    ``seen`` (path → ETag, kept by the caller between runs) skips even the rendering of a
    document whose validator has not changed; without it, unchanged files are rendered and
    compared but not rewritten."""
    memo = seen if seen is not None else {}
    written: list[Path] = []
    targets: list[tuple[Path, Selection | None, Format | None]] = [
        (directory / "opml.xml", None, None)
    ]
    limit = exporter.config.export.limit
    for kind in FORMATS:
        targets.append((directory / "feeds" / f"all.{kind}", Selection(limit=limit), kind))
        for tag in exporter.config.tags:
            targets.append(
                (
                    directory / "feeds" / "tag" / f"{tag}.{kind}",
                    Selection((tag,), None, limit),
                    kind,
                )
            )
    for path, selection, fmt in targets:
        if selection is None or fmt is None:
            validator = exporter.opml_validator()
        else:
            validator = exporter.feed_validator(selection, fmt)
        if memo.get(str(path)) == validator.etag and path.exists():
            continue
        if selection is None or fmt is None:
            rendered = exporter.render_opml()
        else:
            rendered = exporter.render_feed(selection, fmt)
        if _write_if_changed(path, rendered.body):
            written.append(path)
        memo[str(path)] = rendered.validator.etag
    return written


def opml_body(config: Config, stored: Iterable[ExportFeed] = ()) -> bytes:
    """The configured feeds as OPML 2.0, one folder per tag; ``stored`` (the store's
    export feeds, empty where there is no database yet) adds the titles and sites the
    feeds themselves gave."""
    by_url = {f.url: f for f in stored}
    feeds = []
    for feed in config.feeds:
        row = by_url.get(feed.url)
        feeds.append(
            OpmlFeed(
                url=feed.url,
                title=feed.title or (row.title if row else None),
                site_url=row.site_url if row else None,
                categories=feed.tags,
                language=feed.language,
            )
        )
    return unparse(feeds, title=f"{config.export.title}: feeds", tag_labels=tag_labels(config))
