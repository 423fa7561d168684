"""From stored articles to the items of a generated feed: ids, the republish policy, the text.

Pure: store rows and the config in, frozen :class:`ExportItem` records out; the renderers
(:mod:`aggregator.export.syndication`) only lay them out.

- **Ids never change.** An item's id is a name-based UUID URN derived from the article's
  stored identity (``articles.key_hash``: SHA-256 of its canonical link, or of its feed-scoped
  key), so it is the same on every run, on every instance sharing the database, and even on a
  second installation following the same outlet: a reader never sees an article twice.
- **The republish policy** (``feeds[].republish``, default ``export.republish``) says what an
  export may carry: ``full`` (the sanitized article HTML as the content), ``summary`` (the
  feed's summary or, without one, the opening sentences of the text, datelines and bylines
  left out; never the full text) or ``link`` (title and link only). An article carried by
  several feeds gets the strictest of their policies.
- **Rows pass through steps before they become items**: :data:`RowStep` functions take the
  selected rows and return rows (story collapsing, issue 7, plugs in here).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Hashable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from typing import Literal

from aggregator.config.schema import Config, Republish
from aggregator.export.sanitize import html_to_text, sanitize_html, xml_safe
from aggregator.store.records.export import ExportArticle, ExportFeed

__all__ = [
    "EPOCH",
    "Category",
    "ExportItem",
    "Format",
    "RowStep",
    "Selection",
    "SourceFeed",
    "build_items",
    "collapse_stories",
    "entry_id",
    "feed_id",
    "tag_labels",
]

Format = Literal["atom", "rss", "json"]
RowStep = Callable[[list[ExportArticle]], list[ExportArticle]]

# The namespace of every id aggregator mints: fixed forever (changing it would make every
# reader see every article again).
_NAMESPACE = uuid.UUID("6f3c1d2e-8a4b-5c7d-9e0f-a1b2c3d4e5f6")
_STRICTNESS: dict[Republish, int] = {"full": 0, "summary": 1, "link": 2}
# "updated" of a feed with no items: a fixed instant, so that an empty feed renders the same
# bytes every time (its validator does not change either).
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Summary mode: at most this many terminal cells (a Hangul syllable is two) of lead.
SUMMARY_CELLS = 400
# Characters of text the lead is taken from (two sentences and a dateline fit well inside).
LEAD_SOURCE_CHARS = 800


@dataclass(frozen=True, slots=True)
class Selection:
    """Which articles a generated feed holds: the newest ``limit`` first seen (since
    ``since``), with any of ``tags`` when given."""

    tags: tuple[str, ...] = ()
    since: datetime | None = None
    limit: int = 100

    @property
    def name(self) -> str:
        return "tag:" + "+".join(self.tags) if self.tags else "all"


@dataclass(frozen=True, slots=True)
class SourceFeed:
    """The feed an article came from (the first that carried it)."""

    url: str
    title: str
    site_url: str | None


@dataclass(frozen=True, slots=True)
class Category:
    term: str
    label: str


@dataclass(frozen=True, slots=True)
class ExportItem:
    id: str
    article_id: int
    url: str | None
    title: str
    author: str | None
    published: datetime | None
    updated: datetime
    categories: tuple[Category, ...]
    language: str | None
    policy: Republish
    summary: str  # plain text: the feed's summary or the text's lead (summary), else ""
    content_html: str  # sanitized HTML (full only), else ""
    source: SourceFeed


def entry_id(key_hash: str) -> str:
    """The export id of an article: ``urn:uuid:`` + a UUID derived from its identity."""
    return uuid.uuid5(_NAMESPACE, f"article:{key_hash}").urn


def feed_id(selection_name: str) -> str:
    """The export id of a generated feed (``all``, ``tag:politics``, ``opml``)."""
    return uuid.uuid5(_NAMESPACE, f"feed:{selection_name}").urn


def tag_labels(config: Config) -> dict[str, str]:
    """Display label of each configured tag (Korean, else English, else the name)."""
    return {name: tag.labels.ko or tag.labels.en or name for name, tag in config.tags.items()}


def _strictest(policies: Sequence[Republish], config: Config) -> Republish:
    return max(policies, key=lambda p: _STRICTNESS[p]) if policies else config.export.republish


@dataclass(frozen=True, slots=True)
class _Context:
    """What every item of one rendering looks up, computed once (config.feed() canonicalizes
    every configured URL on each call)."""

    config: Config
    feeds: Mapping[int, ExportFeed]
    policies: Mapping[int, Republish]
    titles: Mapping[int, str]
    labels: Mapping[str, str]


def _context(config: Config, feeds: Mapping[int, ExportFeed]) -> _Context:
    policies: dict[int, Republish] = {}
    titles: dict[int, str] = {}
    for fid, feed in feeds.items():
        configured = config.feed(feed.url)
        policies[fid] = (
            configured.republish
            if configured is not None and configured.republish is not None
            else config.export.republish
        )
        titles[fid] = xml_safe((configured.title if configured else None) or feed.title or feed.url)
    labels = {name: xml_safe(label) for name, label in tag_labels(config).items()}
    return _Context(config, feeds, policies, titles, labels)


def _updated(article: ExportArticle) -> datetime:
    """When the entry last changed as far as a reader is concerned: the feed's own date
    until aggregator saw an edit, then the time of that edit."""
    if article.changed_at > article.first_seen_at:
        return article.changed_at
    return article.updated_at or article.published_at or article.first_seen_at


def _lead(text: str, title: str, cells: int = SUMMARY_CELLS) -> str:
    # extract_lead knows Korean datelines and bylines; imported here so that the module
    # stays importable without rich when only ids are needed.
    from aggregator.text.lead import extract_lead

    # It reads the opening paragraphs only: do not make it clean a whole long text.
    return extract_lead(text[:LEAD_SOURCE_CHARS], title, max_cells=cells)


def _item(article: ExportArticle, ctx: _Context) -> ExportItem:
    policy = _strictest(
        [ctx.policies[f] for f in article.feed_ids if f in ctx.policies], ctx.config
    )
    first = article.feed_ids[0] if article.feed_ids else None
    feed = ctx.feeds.get(first) if first is not None else None
    if feed is not None:
        source = SourceFeed(url=feed.url, title=ctx.titles[feed.id], site_url=feed.site_url)
    else:
        source = SourceFeed(url="", title="", site_url=None)
    title = xml_safe(" ".join(article.title.split())) or "(untitled)"
    if policy == "full":
        content = sanitize_html(article.html, article.url)
        if not article.html and article.text:
            # Text without HTML (taken from a plain feed; loaded whole then): paragraphs.
            content = "".join(
                f"<p>{escape(p.strip())}</p>"
                for p in xml_safe(article.text).split("\n")
                if p.strip()
            )
        # The content is the article: no summary (readers preview the content themselves;
        # a lead per article would cost 40% of a rendering).
        summary = ""
    elif policy == "summary":
        content = ""
        summary_text = html_to_text(article.summary)
        summary = _lead(summary_text or article.text, title)
    else:
        content = ""
        summary = ""
    labels = ctx.labels
    ordered = [t for t in labels if t in article.tags] + [
        t for t in article.tags if t not in labels
    ]
    return ExportItem(
        id=entry_id(article.key_hash),
        article_id=article.id,
        url=article.url,
        title=title,
        author=xml_safe(article.author) or None,
        published=article.published_at,
        updated=_updated(article),
        categories=tuple(Category(t, labels.get(t) or xml_safe(t)) for t in ordered),
        language=article.language,
        policy=policy,
        summary=xml_safe(summary),
        content_html=content,
        source=source,
    )


def collapse_stories(rows: list[ExportArticle], story_of: Mapping[int, int]) -> list[ExportArticle]:
    """One entry per story (``story_of``: article id → story id): the story's earliest
    article among ``rows``, in the place of the story's first row. The earliest, so that a
    later copy of the story arriving does not replace the entry a reader already has."""
    earliest: dict[int, ExportArticle] = {}
    for row in rows:
        story = story_of.get(row.id)
        if story is None:
            continue
        best = earliest.get(story)
        if best is None or (row.first_seen_at, row.id) < (best.first_seen_at, best.id):
            earliest[story] = row
    out: list[ExportArticle] = []
    placed: set[int] = set()
    for row in rows:
        story = story_of.get(row.id)
        if story is None:
            out.append(row)
        elif story not in placed:
            placed.add(story)
            out.append(earliest[story])
    return out


def build_items(
    articles: Sequence[ExportArticle],
    feeds: Mapping[int, ExportFeed],
    config: Config,
    *,
    steps: Sequence[RowStep] = (),
    cache: MutableMapping[Hashable, ExportItem] | None = None,
) -> list[ExportItem]:
    """The items of a generated feed, in the order of ``articles`` after ``steps``.

    ``cache`` keeps items between renderings of one configuration (the caller empties it
    when the configuration changes): an unchanged article is not sanitized again."""
    rows = list(articles)
    for step in steps:
        rows = step(rows)
    ctx = _context(config, feeds)
    if cache is None:
        return [_item(article, ctx) for article in rows]
    out = []
    for article in rows:
        first = article.feed_ids[0] if article.feed_ids else None
        feed = ctx.feeds.get(first) if first is not None else None
        # Everything the item is made of: the row's state and its source feed's names.
        key = (
            article.id,
            article.changed_at,
            article.feed_ids,
            article.tags,
            None if feed is None else (feed.url, ctx.titles[feed.id], feed.site_url),
        )
        item = cache.get(key)
        if item is None:
            item = cache[key] = _item(article, ctx)
        out.append(item)
    return out
