"""Tags of one stored article under the current config and model, with the reasons: what
``aggregator tags explain`` shows and what ``tags retag`` writes.

Every source is recomputed from what is stored: feed tags from the current config of the
feeds carrying the article, categories from its entries' raw ``<category>`` values (matched
through the current aliases), rules and the model from title and text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aggregator.config.schema import Config
from aggregator.ingest.tag.rules import (
    FeedContext,
    Tagging,
    TagInput,
    TagReport,
    outlet_tags,
    tag_report,
)
from aggregator.models import TagAssignment
from aggregator.store.records.service import ArticleToTag

__all__ = ["feed_context", "outlet_topics", "report_for_article"]


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


def outlet_topics(config: Config, rules: Tagging, article: ArticleToTag) -> list[str]:
    """The topics the article's outlets gave it: its feeds' tags and its categories through
    the aliases (what ``tags learn`` learns from), among the model's ``topics``."""
    feeds: Sequence[tuple[str, str | None] | None] = article.feeds or (None,)
    found: list[str] = []
    for feed in feeds:
        for t in outlet_tags(article.categories, feed_context(config, feed), rules.rules):
            if t.tag not in found:
                found.append(t.tag)
    return found


def report_for_article(config: Config, tagging: Tagging, article: ArticleToTag) -> TagReport:
    """Tags of a stored article (one report per feed carrying it, merged: the highest score
    of each tag and source wins)."""
    feeds: Sequence[tuple[str, str | None] | None] = article.feeds or (None,)
    item = TagInput(article.title, article.text, article.categories, article.url)
    merged: dict[tuple[str, str], TagAssignment] = {}
    vetoed: dict[str, str] = {}
    scores: Mapping[str, float] = {}
    model = abstained = ""
    for feed in feeds:
        report = tag_report(item, feed_context(config, feed), tagging)
        for t in report.tags:
            key = (t.tag, t.source)
            if key not in merged or merged[key].score < t.score:
                merged[key] = t
        vetoed.update(report.vetoed)
        if report.model_scores or not scores:
            scores, model, abstained = report.model_scores, report.model, report.abstained
    return TagReport(tuple(merged.values()), vetoed, scores, model, abstained)
