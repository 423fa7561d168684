"""Tags of one stored article under the current config and model, with the reasons: what
``aggregator tags explain`` shows and what ``tags retag`` writes.

Every source is recomputed from what is stored: feed tags from the current config of the
feeds carrying the article, categories from the ``<category>`` values that gave a tag before
(the others are not stored), rules and the model from title and text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aggregator.config.schema import Config
from aggregator.ingest.tag.rules import FeedContext, Tagging, TagInput, TagReport, tag_report
from aggregator.models import TagAssignment
from aggregator.store.records.service import ArticleToTag

__all__ = ["feed_context", "report_for_article"]


def feed_context(config: Config, feed: tuple[str, str | None] | None) -> FeedContext:
    """The context of a stored feed ``(url, stored title)``: its tags and title as the
    current config gives them (the stored title when the config has none)."""
    if feed is None:
        return FeedContext()
    url, stored_title = feed
    configured = config.feed(url)
    return FeedContext(
        url=url,
        title=(configured.title if configured else None) or stored_title,
        tags=configured.tags if configured else (),
    )


def report_for_article(config: Config, tagging: Tagging, article: ArticleToTag) -> TagReport:
    """Tags of a stored article (one report per feed carrying it, merged: the highest score
    of each tag and source wins)."""
    feeds: Sequence[tuple[str, str | None] | None] = article.feeds or (None,)
    item = TagInput(article.title, article.text, article.categories, article.url)
    merged: dict[tuple[str, str], TagAssignment] = {}
    vetoed: dict[str, str] = {}
    scores: Mapping[str, float] = {}
    for feed in feeds:
        report = tag_report(item, feed_context(config, feed), tagging)
        for t in report.tags:
            key = (t.tag, t.source)
            if key not in merged or merged[key].score < t.score:
                merged[key] = t
        vetoed.update(report.vetoed)
        scores = report.model_scores or scores
    return TagReport(tuple(merged.values()), vetoed, scores)
