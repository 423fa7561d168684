"""What ``aggregator tags`` does: explain an article's tags, re-tag stored articles, and
evaluate the whole tagger on a labelled file. The CLI only wires these to the terminal.

Re-tagging recomputes every source from what is stored: feed tags from the current config
of the feeds carrying the article, categories from the ``<category>`` values that gave a tag
before (the others are not stored), rules and the model from title and text. Each batch of
articles gets its new tags in one transaction.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from aggregator.config.schema import Config
from aggregator.errors import ConfigError
from aggregator.ingest.tag.loader import Tagger
from aggregator.ingest.tag.rules import CompiledRules, TagReport, compile_rules, tag_report
from aggregator.models import TagAssignment
from aggregator.store.tags_sql import ArticleToTag, TagQueries

__all__ = [
    "EvalRow",
    "evaluate",
    "label_names",
    "predict_label",
    "read_eval_file",
    "report_for_article",
    "retag",
    "scores_by_tag",
]

RETAG_BATCH = 200


def _report(
    config: Config,
    rules: CompiledRules,
    tagger: Tagger,
    *,
    title: str,
    text: str,
    link: str | None = None,
    categories: Sequence[str] = (),
    feed: tuple[str, str | None] | None = None,
) -> TagReport:
    feed_config = config.feed(feed[0]) if feed else None
    return tag_report(
        title=title,
        text=text,
        categories=categories,
        feed_tags=feed_config.tags if feed_config else (),
        rules=rules,
        link=link,
        feed_url=feed[0] if feed else None,
        feed_title=(feed_config.title if feed_config else None) or (feed[1] if feed else None),
        model=tagger.model if config.tagger.enabled else None,
        threshold=config.tagger.threshold,
        morphemes=tagger.morphemes,
    )


def report_for_article(
    config: Config, tagger: Tagger, article: ArticleToTag, rules: CompiledRules | None = None
) -> TagReport:
    """Tags of a stored article under the current config and model (one report per feed
    carrying it, merged: the highest score of each tag and source wins)."""
    rules = rules or compile_rules(config.tags)
    feeds: Sequence[tuple[str, str | None] | None] = article.feeds or (None,)
    merged: dict[tuple[str, str], TagAssignment] = {}
    vetoed: dict[str, str] = {}
    scores: Mapping[str, float] = {}
    for feed in feeds:
        report = _report(
            config,
            rules,
            tagger,
            title=article.title,
            text=article.text,
            link=article.url,
            categories=article.categories,
            feed=feed,
        )
        for t in report.tags:
            key = (t.tag, t.source)
            if key not in merged or merged[key].score < t.score:
                merged[key] = t
        vetoed.update(report.vetoed)
        scores = report.model_scores or scores
    return TagReport(tuple(merged.values()), vetoed, scores)


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
    rules = compile_rules(config.tags)
    after = 0
    done = 0
    while True:
        articles = store.articles_to_tag(since, after, batch)
        if not articles:
            return done
        store.replace_tags(
            {a.id: report_for_article(config, tagger, a, rules).tags for a in articles}
        )
        after = articles[-1].id
        done += len(articles)
        if on_batch is not None:
            on_batch(len(articles))


@dataclass(frozen=True, slots=True)
class EvalRow:
    line: int
    label: str  # a tag name
    title: str
    text: str = ""


def label_names(config: Config) -> dict[str, str]:
    """Every way a file may name a tag (name, Korean and English label, any case) → name."""
    names: dict[str, str] = {}
    for name, tag in config.tags.items():
        for label in (name, tag.labels.ko, tag.labels.en):
            if label:
                names[label.strip().casefold()] = name
    return names


def read_eval_file(path: Path, config: Config) -> list[EvalRow]:
    """``label<TAB>title[<TAB>text]`` rows, no header; labels are tag names or labels.

    Raises:
        ConfigError: a row has no title or a label that names no tag (with its line).
    """
    names = label_names(config)
    rows: list[EvalRow] = []
    problems: list[str] = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for number, fields in enumerate(csv.reader(handle, delimiter="\t"), start=1):
            if not fields or not any(f.strip() for f in fields):
                continue
            if len(fields) < 2 or not fields[1].strip():
                problems.append(f"{path}:{number}: expected label<TAB>title[<TAB>text]")
                continue
            tag = names.get(fields[0].strip().casefold())
            if tag is None:
                problems.append(f"{path}:{number}: label {fields[0]!r} names no configured tag")
                continue
            text = "\t".join(fields[2:]) if len(fields) > 2 else ""
            rows.append(EvalRow(number, tag, fields[1], text))
    if problems:
        raise ConfigError(problems[:20])
    return rows


def scores_by_tag(tags: Iterable[TagAssignment]) -> dict[str, float]:
    """The highest score each tag got from any source."""
    best: dict[str, float] = {}
    for t in tags:
        best[t.tag] = max(best.get(t.tag, 0.0), t.score)
    return best


def predict_label(tags: Iterable[TagAssignment], labels: Iterable[str]) -> str | None:
    """The highest-scoring tag among ``labels`` (ties: alphabetical), or None."""
    allowed = set(labels)
    scored = [(score, tag) for tag, score in scores_by_tag(tags).items() if tag in allowed]
    if not scored:
        return None
    return min(scored, key=lambda st: (-st[0], st[1]))[1]


def evaluate(
    rows: Sequence[EvalRow],
    config: Config,
    tagger: Tagger,
    on_row: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Precision, recall and F1 per label, macro-F1 and accuracy of the full tagger."""
    from aggregator.ingest.tag.metrics import classification_report

    rules = compile_rules(config.tags)
    labels = sorted({r.label for r in rows})
    predicted: list[str | None] = []
    for row in rows:
        report = _report(config, rules, tagger, title=row.title, text=row.text)
        predicted.append(predict_label(report.tags, labels))
        if on_row is not None:
            on_row()
    result = classification_report([r.label for r in rows], predicted)
    result["rows"] = len(rows)
    result["no_prediction"] = sum(1 for p in predicted if p is None)
    return result
