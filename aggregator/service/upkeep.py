"""Retention: which stored articles have outlived their keep period.

Periods come from ``retention.keep_days``, ``feeds[].keep_days`` and ``tags.<name>.keep_days``;
for an article the longest period that applies to it wins (0 means forever), so an override can
only keep more. Starred articles always stay. Pruned entries leave tombstones (the store's job)
so that a feed still carrying them does not bring them back.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from aggregator.config.schema import Config
from aggregator.store import Store
from aggregator.store.daemon_sql import PruneCandidate

__all__ = ["PruneReport", "keep_days_for", "prune"]

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
