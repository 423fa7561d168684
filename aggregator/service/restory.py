"""``aggregator stories rebuild``: cluster already-stored articles into stories.

For databases from before story clusters, and after the thresholds change. The stories of
the period are forgotten first, then the articles without a story are fingerprinted and
assigned in batches, one transaction per batch, with the same code the daemon uses when it
stores an article. An interrupted rebuild leaves whole batches behind it; running it again
continues (with ``--since``, it starts the period over).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from aggregator.config.schema import StoriesConfig
from aggregator.ingest.stories import fingerprint
from aggregator.models import StoryPrint
from aggregator.store import Store

__all__ = ["RebuildReport", "rebuild_stories"]


@dataclass(frozen=True, slots=True)
class RebuildReport:
    articles: int
    stories: int
    skipped: int


def rebuild_stories(
    store: Store,
    config: StoriesConfig,
    *,
    since: datetime | None,
    batch: int = 500,
    progress: bool = True,
) -> RebuildReport:
    from rich.progress import Progress

    match = config.match()
    store.clear_stories(since)
    total = store.count_story_sources(since)
    assigned = skipped = 0
    after = 0
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("clustering", total=total)
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
            bar.advance(task, len(sources))
    return RebuildReport(articles=assigned, stories=store.count_stories(since), skipped=skipped)
