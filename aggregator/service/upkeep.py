"""Upkeep of what is stored, run by the daemon's maintenance jobs and by the CLI:
retention (which articles have outlived their keep period), re-tagging under the current
config and model, and rebuilding story clusters.

Retention: periods come from ``retention.keep_days``, ``feeds[].keep_days`` and
``tags.<name>.keep_days``; for an article the longest period that applies to it wins (0 means
forever), so an override can only keep more. Starred articles always stay. Pruned entries
leave tombstones (the store's job) so that a feed still carrying them does not bring them back.

Re-tagging recomputes every source from what is stored (:func:`aggregator.ingest.tag.explain.
report_for_article`); each batch of articles gets its new tags in one transaction.

Story rebuild, for databases from before story clusters and after the thresholds change: the
stories of the period are forgotten first, then the articles without a story are
fingerprinted and assigned in batches, one transaction per batch, with the same code the
daemon uses when it stores an article. An interrupted rebuild leaves whole batches behind it;
running it again continues (with ``since``, it starts the period over).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from aggregator.config.schema import Config, StoriesConfig
from aggregator.ingest.stories import fingerprint
from aggregator.ingest.tag.explain import report_for_article
from aggregator.ingest.tag.loader import Tagger, tagging_for
from aggregator.models import StoryPrint
from aggregator.store.protocol import Store
from aggregator.store.records.service import PruneCandidate
from aggregator.store.sql import SqlStore
from aggregator.store.tags_sql import TagQueries

__all__ = [
    "RETAG_BATCH",
    "PruneReport",
    "RebuildReport",
    "keep_days_for",
    "prune",
    "rebuild_stories",
    "retag",
]

RETAG_BATCH = 200

# -- retention ----------------------------------------------------------------------------

BATCH = 1000


@dataclass(frozen=True, slots=True)
class PruneReport:
    pruned: int
    by_feed: dict[str, int] = field(default_factory=dict)
    dry_run: bool = False


def keep_days_for(candidate: PruneCandidate, config: Config) -> int:
    """The article's keep period in days; 0 = forever."""
    periods = [config.retention.keep_days]
    for url in candidate.feed_urls:
        feed = config.feed(url)
        if feed is not None and feed.keep_days is not None:
            periods.append(feed.keep_days)
    for tag in candidate.tags:
        tag_config = config.tags.get(tag)
        if tag_config is not None and tag_config.keep_days is not None:
            periods.append(tag_config.keep_days)
    return 0 if 0 in periods else max(periods)


def _shortest_period(config: Config) -> int | None:
    periods = [config.retention.keep_days]
    periods += [f.keep_days for f in config.feeds if f.keep_days is not None]
    periods += [t.keep_days for t in config.tags.values() if t.keep_days is not None]
    positive = [p for p in periods if p > 0]
    return min(positive) if positive else None


def prune(store: Store, config: Config, now: datetime, *, dry_run: bool = False) -> PruneReport:
    shortest = _shortest_period(config)
    if shortest is None:
        return PruneReport(0, {}, dry_run)
    by_feed: Counter[str] = Counter()
    pruned = 0
    cutoff = now - timedelta(days=shortest)
    after: tuple[datetime, int] | None = None
    while True:
        batch = store.prune_candidates(cutoff, BATCH, after=after)
        if not batch:
            break
        doomed = []
        for candidate in batch:
            keep = keep_days_for(candidate, config)
            if keep and candidate.when < now - timedelta(days=keep):
                doomed.append(candidate)
                by_feed.update(candidate.feed_urls or ("(no feed)",))
        if dry_run:
            pruned += len(doomed)
        elif doomed:
            pruned += store.prune_articles([c.article_id for c in doomed], now)
        # Keyset paging: deleting rows behind the cursor does not disturb it.
        after = (batch[-1].when, batch[-1].article_id)
        if len(batch) < BATCH:
            break
    return PruneReport(pruned, dict(by_feed), dry_run)


# -- re-tagging ---------------------------------------------------------------------------


def retag(
    store: TagQueries,
    config: Config,
    tagger: Tagger,
    *,
    since: datetime | None = None,
    batch: int = RETAG_BATCH,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Re-tag the stored articles first seen since ``since`` (all when None); the count."""
    tagging = tagging_for(config, tagger)
    after = 0
    done = 0
    while True:
        articles = store.articles_to_tag(since, after, batch)
        if not articles:
            return done
        store.replace_tags({a.id: report_for_article(config, tagging, a).tags for a in articles})
        after = articles[-1].id
        done += len(articles)
        if on_batch is not None:
            on_batch(len(articles))


# -- story rebuild ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RebuildReport:
    articles: int
    stories: int
    skipped: int


def rebuild_stories(
    store: SqlStore,
    config: StoriesConfig,
    *,
    since: datetime | None,
    batch: int = 500,
    on_batch: Callable[[int, int], None] | None = None,
) -> RebuildReport:
    """Forget the stories of the period and cluster its articles again; ``on_batch(done,
    total)`` after each batch (articles looked at so far, of all in the period)."""
    match = config.match()
    store.clear_stories(since)
    total = store.count_story_sources(since)
    assigned = skipped = 0
    after = 0
    seen = 0
    while True:
        sources = store.story_sources(since=since, after_id=after, limit=batch)
        if not sources:
            break
        after = sources[-1].id
        prints: list[tuple[int, StoryPrint]] = []
        for source in sources:
            fp = fingerprint(
                source.title,
                source.text,
                language=source.language,
                seen_at=source.seen_at,
                min_text_chars=match.min_text_chars,
            )
            if fp is None:
                skipped += 1
            else:
                prints.append((source.id, fp))
        assigned += store.assign_stories(prints, match)
        seen += len(sources)
        if on_batch is not None:
            on_batch(seen, total)
    return RebuildReport(articles=assigned, stories=store.count_stories(since), skipped=skipped)
